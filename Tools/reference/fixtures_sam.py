"""LiteMedSAM parity fixtures: image embedding, prompt encoder, mask decoder, and the
gradient of BCE+Dice with respect to the dense prompt (the path every AutoSAM step takes).

Usage: python fixtures_sam.py weights/lite_medsam.pth
"""
import sys

import torch
import torch.nn.functional as F

import sam_modules
from fixture_io import analytic_image, write_binary_fixture


def bce_dice(logits, gt):
    """BCE-with-logits (mean) + soft Dice (smooth 1, per sample, mean over the batch)."""
    bce = F.binary_cross_entropy_with_logits(logits, gt)
    p = torch.sigmoid(logits).flatten(1)
    g = gt.flatten(1)
    dice = 1 - (2 * (p * g).sum(1) + 1) / (p.sum(1) + g.sum(1) + 1)
    return bce + dice.mean()


def main(checkpoint):
    torch.set_num_threads(1)
    net = sam_modules.lite_medsam(checkpoint)
    pe_mod, dec = net.prompt_encoder, net.mask_decoder
    with torch.no_grad():
        image = analytic_image(1, 3, 256, 256)
        emb = net.image_encoder(image)
        dense_pe = pe_mod.get_dense_pe()
        box = torch.tensor([[[40.0, 60.0, 180.0, 200.0]]])
        sparse_box, dense_none = pe_mod(points=None, boxes=box, masks=None)
        pts = torch.tensor([[[100.0, 120.0], [30.0, 40.0]]])
        lbl = torch.tensor([[1, 0]])
        sparse_pts, _ = pe_mod(points=(pts, lbl), boxes=None, masks=None)
        mask_in = analytic_image(1, 1, 256, 256, phase=1.0) * 4
        _, dense_mask = pe_mod(points=None, boxes=None, masks=mask_in)
        lo1, iou1 = dec(image_embeddings=emb, image_pe=dense_pe, sparse_prompt_embeddings=sparse_box,
                        dense_prompt_embeddings=dense_none, multimask_output=False)
        lo3, iou3 = dec(image_embeddings=emb, image_pe=dense_pe, sparse_prompt_embeddings=sparse_box,
                        dense_prompt_embeddings=dense_none, multimask_output=True)

    # AutoSAM path: batch 2, empty sparse prompt (1x0x256 as the authors pass it), dense = Z.
    emb2 = torch.cat([emb, emb.flip(-1)], 0)
    z = (0.5 * analytic_image(2, 256, 64, 64, phase=2.0)).requires_grad_(True)
    sparse_empty = torch.empty(1, 0, 256)
    lo_z, iou_z = dec(image_embeddings=emb2, image_pe=dense_pe, sparse_prompt_embeddings=sparse_empty,
                      dense_prompt_embeddings=z, multimask_output=False)
    gt = (analytic_image(2, 1, 256, 256, phase=3.0) > 0.3).to(torch.float32)
    loss = bce_dice(lo_z, gt)
    loss.backward()

    write_binary_fixture(
        "lite_medsam",
        {
            "embedding": emb, "dense_pe": dense_pe,
            "sparse_box": sparse_box, "dense_none": dense_none,
            "sparse_points": sparse_pts, "dense_mask": dense_mask,
            "lowres_single": lo1, "iou_single": iou1, "lowres_multi": lo3, "iou_multi": iou3,
            "lowres_z": lo_z, "iou_z": iou_z, "loss_z": loss.detach().view(1), "grad_z": z.grad,
        },
        meta={"box": [40, 60, 180, 200], "points": [[100, 120], [30, 40]], "labels": [1, 0]},
        sample_stride={"embedding": 7, "dense_pe": 7, "dense_none": 97, "dense_mask": 7,
                       "lowres_multi": 3, "grad_z": 7},
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "weights/lite_medsam.pth")
