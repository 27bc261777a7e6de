"""PyTorch timings for `autosam-dist bench train`: the same measurements, JSON lines on stdout.

One AutoSAM training step as the authors' code runs it: frozen LiteMedSAM encoder on the batch
(no grad), g (ModelEmb) forward in train mode, frozen mask decoder with g's output as the dense
prompt, BCE-with-logits + soft Dice on the 256² low-res logits, backward, torch.optim.Adam
(lr 3e-4, weight decay 1e-5). `train_step_warm` skips the encoder (embeddings precomputed);
`g_forward_backward` is g alone, with its convolutions' FLOPs counted by hooks.
"""
import argparse
import json
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

import sam_modules
from autosam_g_modules import ModelEmb


def median(fn, repeats, warmup=True):
    if warmup:
        fn()
    ts = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def peak_rss_mb():
    """VmHWM (reset per phase like the Swift side), else the process's lifetime maximum."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss():
    """Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default="weights/lite_medsam.pth")
    ap.add_argument("--backbone", default="hardnet85")
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = sam_modules.lite_medsam(a.checkpoint)
    for p in net.parameters():
        p.requires_grad_(False)
    g = ModelEmb(a.backbone).train()
    opt = torch.optim.Adam(g.parameters(), lr=3e-4, weight_decay=1e-5)
    b = a.batch
    x = torch.rand(b, 3, 256, 256)
    yy, xx = torch.meshgrid(torch.arange(256) - 128, torch.arange(256) - 128, indexing="ij")
    gt = torch.stack([((xx + 7 * i) ** 2 + yy ** 2 < 60 * 60).float() for i in range(b)]).unsqueeze(1)
    pe = net.prompt_encoder.get_dense_pe()
    sparse = torch.empty(1, 0, 256)
    rows = []

    def rec(name, t, **kw):
        rows.append(dict(name=name, batch=b, seconds=t, images_per_s=b / t, threads=a.threads, engine="pytorch",
                         backbone=a.backbone, peak_rss_mb=peak_rss_mb(), **kw))

    def step(emb):
        opt.zero_grad(set_to_none=True)
        z = g(x)
        lo, _ = net.mask_decoder(emb, pe, sparse, z, False)
        p = torch.sigmoid(lo).flatten(1)
        t = gt.flatten(1)
        loss = F.binary_cross_entropy_with_logits(lo, gt) + (1 - (2 * (p * t).sum(1) + 1) / (p.sum(1) + t.sum(1) + 1)).mean()
        loss.backward()
        opt.step()

    def cold():
        with torch.no_grad():
            emb = net.image_encoder(x)
        step(emb)

    # sgemm at 1024³ for the convolutions' share.
    m1, m2 = torch.randn(1024, 1024), torch.randn(1024, 1024)
    sgemm = 2 * 1024 ** 3 / median(lambda: torch.mm(m1, m2), max(3, a.repeats)) / 1e9

    # g alone; the warm-up pass counts conv multiply-adds (forward, and backward data + weights).
    macs = [0.0]

    def hook(mod, inp, out):
        per = out.numel() * mod.weight.shape[1] * mod.weight.shape[2] * mod.weight.shape[3]
        macs[0] += per * (3 if inp[0].requires_grad else 2)

    def gfb():
        g.zero_grad(set_to_none=True)
        g(x).sum().backward()

    reset_peak_rss()
    hooks = [mod.register_forward_hook(hook) for mod in g.modules() if isinstance(mod, nn.Conv2d)]
    gfb()
    for h in hooks:
        h.remove()
    t = median(gfb, a.repeats, warmup=False)
    flop = 2 * macs[0]
    rec("g_forward_backward", t, conv_gflop=flop / 1e9, conv_gflops=flop / t / 1e9, sgemm_gflops=sgemm,
        conv_of_sgemm=flop / t / 1e9 / sgemm)

    with torch.no_grad():
        emb = net.image_encoder(x)
    reset_peak_rss()
    rec("train_step_warm", median(lambda: step(emb), a.repeats))
    reset_peak_rss()
    rec("train_step_cold", median(cold, a.repeats))
    order = ["train_step_cold", "train_step_warm", "g_forward_backward"]
    for r in sorted(rows, key=lambda r: order.index(r["name"])):
        print(json.dumps(r))


if __name__ == "__main__":
    main()
