"""Dev-time parity of `autosam-dist predict --box` with PyTorch LiteMedSAM (predict_box.py)
on real image/mask pairs: the ground-truth mask's bounding box is the prompt for both; prints
per image the Dice between the two masks and each one's Dice to the ground truth, then means.

Usage: python compare_predict.py --binary .build/release/autosam-dist \
           --checkpoint weights/lite_medsam.pth /work/shared/data/samples/polyp/*/
(each folder holds images/ and masks/ with matching names). Writes nothing outside a temp dir.
"""
import argparse
import os
import subprocess
import tempfile

import numpy as np
import torch

import predict_box
import sam_modules


def dice(a, b):
    a, b = a > 0, b > 0
    s = a.sum() + b.sum()
    return 1.0 if s == 0 else 2.0 * (a & b).sum() / s


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=".build/release/autosam-dist")
    ap.add_argument("--checkpoint", default="weights/lite_medsam.pth")
    ap.add_argument("folders", nargs="+")
    a = ap.parse_args()
    torch.set_num_threads(1)
    net = sam_modules.lite_medsam(a.checkpoint)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for folder in a.folders:
            for name in sorted(os.listdir(os.path.join(folder, "images"))):
                img = os.path.join(folder, "images", name)
                gt = predict_box.read_mask(os.path.join(folder, "masks", name))
                box = predict_box.bounding_box(gt)
                ref = predict_box.predict(net, predict_box.read_rgb(img), box)
                out = os.path.join(tmp, "mask.png")
                subprocess.run([a.binary, "predict", "--sam-checkpoint", a.checkpoint, "--box",
                                ",".join(str(int(v)) for v in box), "--output", out, img],
                               check=True, stdout=subprocess.DEVNULL)
                ours = predict_box.read_mask(out)
                r = (dice(ours, ref), dice(ours, gt), dice(ref, gt))
                rows.append(r)
                print(f"{os.path.basename(folder.rstrip('/'))}/{name}: Dice(ours, torch) {r[0]:.4f}  "
                      f"Dice to GT: ours {r[1]:.4f}, torch {r[2]:.4f}  (pixels differing: {int((ours != ref).sum())})")
    m = np.mean(rows, axis=0)
    print(f"mean over {len(rows)} images: Dice(ours, torch) {m[0]:.4f}  Dice to GT: ours {m[1]:.4f}, torch {m[2]:.4f}")


if __name__ == "__main__":
    main()
