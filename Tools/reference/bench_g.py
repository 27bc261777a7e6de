"""PyTorch timings for `autosam-dist bench g`: g (ModelEmb) forward + backward in train mode, and its
evaluation-mode forward under no_grad (what validation and prediction run), JSON lines."""
import argparse
import json
import resource
import statistics
import time

import torch

from autosam_g_modules import ModelEmb


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", default="hardnet85")
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    g = ModelEmb(a.variant).train()
    x = torch.rand(a.batch, 3, a.size, a.size)

    def fb():
        g.zero_grad(set_to_none=True)
        z = g(x)
        z.sum().backward()

    fb()
    ts = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        fb()
        ts.append(time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(dict(name="g_forward_backward", batch=a.batch, seconds=statistics.median(ts), threads=a.threads,
                          engine="pytorch", peak_rss_mb=rss)))
    g.eval()
    def ev():
        with torch.no_grad():
            g(x)
    ev()
    ts = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        ev()
        ts.append(time.perf_counter() - t0)
    print(json.dumps(dict(name="g_eval_forward", batch=a.batch, seconds=statistics.median(ts), threads=a.threads,
                          engine="pytorch")))


if __name__ == "__main__":
    main()
