"""Times PyTorch's F.conv2d / F.conv_transpose2d forward and backward (data + weights + bias) on
the shapes of `autosam-dist bench conv` and prints the same JSON lines, engine "pytorch".

    /opt/torchref/bin/python Tools/reference/bench_conv.py --threads 1 --batch 10

Median of --repeats after one warm-up. GFLOP/s as in BenchConv.swift: 2 x multiply-adds of the
forward (for transposed convolutions, over the input side); backward counts twice the forward.
NCHW float32 tensors, as a PyTorch training step hands them to the convolution.
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F

def median_time(fn, repeats):
    fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", required=True, help="JSON list written by autosam-dist bench conv")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    with open(args.shapes) as f:
        shapes = json.load(f)
    for sh in shapes:
        name, n, c, k, h, w = sh["name"], sh["n"], sh["c"], sh["k"], sh["h"], sh["w"]
        kh, kw, s, p, d, g = sh["kh"], sh["kw"], sh["stride"], sh["pad"], sh["dilation"], sh["groups"]
        transposed, op = sh["transposed"], sh["output_padding"]
        x = torch.rand(n, c, h, w) * 2 - 1
        x.requires_grad_(True)
        if transposed:
            weight = (torch.rand(c, k // g, kh, kw) * 0.2 - 0.1).requires_grad_(True)
            fwd = lambda: F.conv_transpose2d(x, weight, bias, stride=s, padding=p, output_padding=op,
                                             groups=g, dilation=d)
            macs = n * c * h * w * (k // g) * kh * kw
        else:
            weight = (torch.rand(k, c // g, kh, kw) * 0.2 - 0.1).requires_grad_(True)
            fwd = lambda: F.conv2d(x, weight, bias, stride=s, padding=p, dilation=d, groups=g)
            macs = None
        bias = (torch.rand(k) * 2 - 1).requires_grad_(True)
        with torch.no_grad():
            y = fwd()
        if macs is None:
            macs = y.numel() * (c // g) * kh * kw
        dy = y * 1e-3

        def forward():
            with torch.no_grad():
                fwd()

        # Backward alone: the graph is rebuilt per call (a cheap forward is not excluded; time it
        # as forward + backward, then subtract the forward median).
        def forward_backward():
            out = fwd()
            torch.autograd.grad(out, (x, weight, bias), dy)

        tf = median_time(forward, args.repeats)
        tfb = median_time(forward_backward, args.repeats)
        tb = max(tfb - tf, 1e-9)
        key = ",".join(str(v) for v in (n, c, k, h, w, kh, kw, s, p, d, g, int(transposed)))
        for direction, secs, flops in (("forward", tf, 2 * macs), ("backward", tb, 4 * macs)):
            print(json.dumps({"shape": key, "name": name, "engine": "pytorch", "direction": direction,
                              "threads": args.threads, "seconds": round(secs, 6),
                              "gflops": round(flops / secs / 1e9, 2)}, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
