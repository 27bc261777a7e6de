"""SAM ViT image-encoder parity fixture: a REDUCED random segment_anything ImageEncoderViT
(img 128, patch 16, embed 48, depth 4, heads 4, global blocks 1 and 3, window 3 so the 8x8
token grid is zero-padded to 9x9, decomposed relative positions with random values, neck to
32 channels). Writes the state dict under the key prefix `image_encoder.` to
Tests/NetworkTests/Fixtures/vit_tiny.pth and the outputs (plus every block's tokens and two
get_rel_pos interpolation cases) to Tests/NetworkTests/Fixtures/vit_tiny.bin.

It also writes vit_b_keys.json: every state-dict key and shape of segment_anything's
build_sam_vit_b (weights not needed), which SAM.build(.vitB) must ask for exactly.

Usage: python fixtures_vit.py
"""
import json
import os
from functools import partial

import torch

import sam_modules
from fixture_io import FIXTURES, analytic_image, write_binary_fixture

CONFIG = dict(img_size=128, patch_size=16, embed_dim=48, depth=4, num_heads=4, mlp_ratio=4.0,
              out_chans=32, qkv_bias=True, use_rel_pos=True, rel_pos_zero_init=False,
              window_size=3, global_attn_indexes=(1, 3))


def build():
    # build_sam's encoders use LayerNorm(eps=1e-6); so does this one.
    enc = sam_modules.sam_modeling.ImageEncoderViT(norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), **CONFIG)
    g = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for name, p in enc.named_parameters():
            if name.endswith("rel_pos_h") or name.endswith("rel_pos_w"):
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            elif name == "pos_embed":
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
            elif "norm" in name or name.startswith("neck.1") or name.startswith("neck.3"):
                base = 1.0 if name.endswith("weight") else 0.0
                p.copy_(base + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)
    return enc.eval()


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    enc = build()
    state = {"image_encoder." + k: v.clone() for k, v in enc.state_dict().items()}
    torch.save(state, os.path.join(FIXTURES, "vit_tiny.pth"))

    from segment_anything.modeling.image_encoder import get_rel_pos
    image = 2.0 * analytic_image(2, 3, CONFIG["img_size"], CONFIG["img_size"])
    tensors = {}
    with torch.no_grad():
        x = enc.patch_embed(image)
        x = x + enc.pos_embed
        tensors["tokens_embed"] = x
        for i, blk in enumerate(enc.blocks):
            x = blk(x)
            tensors[f"tokens_block{i}"] = x
        tensors["embedding"] = enc(image)
        # get_rel_pos with interpolation: equal sizes from a short table, and q != k.
        g = torch.Generator().manual_seed(99)
        rp = torch.randn(7, 6, generator=g)
        tensors["relpos_table"] = rp
        tensors["relpos_5_5"] = get_rel_pos(5, 5, rp)   # 7 -> 9 rows
        tensors["relpos_4_6"] = get_rel_pos(4, 6, rp)   # 7 -> 11 rows, scaled coords
        tensors["relpos_4_4"] = get_rel_pos(4, 4, rp)   # no interpolation
    write_binary_fixture("vit_tiny", tensors, meta={k: list(v) if isinstance(v, tuple) else v
                                                    for k, v in CONFIG.items()})
    print({k: tuple(v.shape) for k, v in tensors.items()})


def write_vit_b_keys():
    from segment_anything.build_sam import build_sam_vit_b
    with torch.device("meta"):   # shapes only, no 90M-parameter allocation
        sam = build_sam_vit_b()
    keys = {k: list(v.shape) for k, v in sam.state_dict().items()}
    with open(os.path.join(FIXTURES, "vit_b_keys.json"), "w") as f:
        f.write("{\n" + ",\n".join(f"{json.dumps(k)}: {json.dumps(keys[k])}" for k in sorted(keys)) + "\n}\n")
    print(len(keys), "vit_b keys")


if __name__ == "__main__":
    write_vit_b_keys()
    main()
