"""PyTorch timings for `autosam-dist bench sam`: the same measurements, JSON lines on stdout."""
import argparse
import json
import resource
import statistics
import time

import torch
import torch.nn.functional as F

import sam_modules


def median(fn, repeats, warmup=True):
    if warmup:
        fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default="weights/lite_medsam.pth")
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    net = sam_modules.lite_medsam(a.checkpoint)
    for p in net.parameters():
        p.requires_grad_(False)
    rows = []

    def rec(name, b, t, **kw):
        rows.append(dict(name=name, batch=b, seconds=t, threads=a.threads, engine="pytorch", **kw))

    x1 = torch.rand(1, 3, 256, 256)
    xb = torch.rand(a.batch, 3, 256, 256)
    with torch.no_grad():
        rec("encoder", 1, median(lambda: net.image_encoder(x1), a.repeats))
        emb = net.image_encoder(xb)
        rec("encoder", a.batch, median(lambda: net.image_encoder(xb), 1, warmup=False))
    pe = net.prompt_encoder.get_dense_pe()
    sparse = torch.empty(1, 0, 256)
    dense = torch.rand(a.batch, 256, 64, 64) * 2 - 1
    with torch.no_grad():
        rec("decoder_forward", a.batch, median(lambda: net.mask_decoder(emb, pe, sparse, dense, False), a.repeats))
    gt = torch.zeros(a.batch, 1, 256, 256)

    def fb():
        z = dense.clone().requires_grad_(True)
        lo, _ = net.mask_decoder(emb, pe, sparse, z, False)
        p = torch.sigmoid(lo).flatten(1)
        loss = F.binary_cross_entropy_with_logits(lo, gt) + (1 - (2 * (p * gt.flatten(1)).sum(1) + 1) / (p.sum(1) + gt.flatten(1).sum(1) + 1)).mean()
        loss.backward()

    t = median(fb, a.repeats)
    rec("decoder_forward_backward", a.batch, t, peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    for r in rows:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
