"""PyTorch DistributedDataParallel (gloo, CPU) timings for `autosam-dist bench dist`: JSON lines on stdout.

The step `bench dist` times, as PyTorch users would run it: each of `--world-size` processes
holds the frozen LiteMedSAM mask decoder and a DDP-wrapped g (ModelEmb), takes its shard of a
seeded global batch (the same split: rank r gets [n·r/s, n·(r+1)/s)), with the image
embeddings precomputed (a warm cache); g forward in train mode, decoder with g's output as the
dense prompt, BCE-with-logits + soft Dice, backward (DDP all-reduces gradients in buckets
overlapped with it), a 3-value loss all-reduce, Adam (lr 3e-4, weight decay 1e-5).

torch.nn.SyncBatchNorm refuses CPU tensors, so BatchNorm is run two ways: `ddp_syncbn`
replaces every BatchNorm2d with a small SyncBatchNorm (statistics and the backward's two sums
all-reduced in float64, as autosam-dist does), and `ddp_localbn` keeps PyTorch's BatchNorm2d
with each rank's own statistics (what DDP on CPU gives without changes; not the same
mathematics, but the fastest PyTorch step). `allreduce_exposed_s` is the step time minus the
same step under `no_sync()` (the gradient all-reduce time DDP's overlap did not hide).
"""
import argparse
import json
import os
import socket
import statistics
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn
import torch.nn.functional as F

import sam_modules
from autosam_g_modules import ModelEmb


class SyncBNFunction(torch.autograd.Function):
    timer = [0.0]

    @staticmethod
    def forward(ctx, x, weight, bias, bn):
        c = x.shape[1]
        buf = torch.cat([x.sum((0, 2, 3)), (x * x).sum((0, 2, 3)), x.new_tensor([x.numel() / c])]).double()
        t0 = time.perf_counter()
        dist.all_reduce(buf)
        SyncBNFunction.timer[0] += time.perf_counter() - t0
        m = buf[-1]
        mean = buf[:c] / m
        var = (buf[c:2 * c] / m - mean * mean).clamp_min(0)
        with torch.no_grad():
            bn.running_mean.mul_(1 - bn.momentum).add_(bn.momentum * mean.float())
            bn.running_var.mul_(1 - bn.momentum).add_(bn.momentum * (var * m / (m - 1)).float())
            bn.num_batches_tracked.add_(1)
        invstd = (1 / (var + bn.eps).sqrt()).float()
        xhat = (x - mean.float().view(1, c, 1, 1)) * invstd.view(1, c, 1, 1)
        ctx.save_for_backward(xhat, invstd, weight)
        ctx.m = float(m)
        return xhat * weight.view(1, c, 1, 1) + bias.view(1, c, 1, 1)

    @staticmethod
    def backward(ctx, dy):
        xhat, invstd, weight = ctx.saved_tensors
        c = dy.shape[1]
        sdy, sdyx = dy.sum((0, 2, 3)), (dy * xhat).sum((0, 2, 3))
        buf = torch.cat([sdy, sdyx]).double()
        t0 = time.perf_counter()
        dist.all_reduce(buf)
        SyncBNFunction.timer[0] += time.perf_counter() - t0
        gsdy, gsdyx = buf[:c].float().view(1, c, 1, 1), buf[c:].float().view(1, c, 1, 1)
        dx = (weight * invstd).view(1, c, 1, 1) * (dy - gsdy / ctx.m - xhat * gsdyx / ctx.m)
        return dx, sdyx, sdy, None


class CPUSyncBatchNorm(nn.BatchNorm2d):
    def forward(self, x):
        if not self.training:
            return super().forward(x)
        return SyncBNFunction.apply(x, self.weight, self.bias, self)


def convert(module):
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            bn = CPUSyncBatchNorm(child.num_features, child.eps, child.momentum)
            bn.load_state_dict(child.state_dict())
            setattr(module, name, bn)
        else:
            convert(child)
    return module


def worker(rank, a, port, queue):
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    torch.set_num_threads(a.threads)
    if a.bind and hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, set(cpus[(rank * a.threads + i) % len(cpus)] for i in range(a.threads)))
    dist.init_process_group("gloo", rank=rank, world_size=a.world_size)
    torch.manual_seed(0)
    net = sam_modules.lite_medsam(a.checkpoint)
    for p in net.parameters():
        p.requires_grad_(False)
    b, s = a.batch, a.world_size
    lo, hi = b * rank // s, b * (rank + 1) // s
    x = torch.rand(b, 3, 256, 256)[lo:hi].contiguous()
    yy, xx = torch.meshgrid(torch.arange(256) - 128, torch.arange(256) - 128, indexing="ij")
    gt = torch.stack([((xx + 7 * i) ** 2 + yy ** 2 < 60 * 60).float() for i in range(lo, hi)]).unsqueeze(1)
    with torch.no_grad():
        emb = net.image_encoder(x)
    pe = net.prompt_encoder.get_dense_pe()
    sparse = torch.empty(1, 0, 256)
    for mode in a.modes:
        torch.manual_seed(0)
        g = ModelEmb(a.backbone).train()
        if mode == "ddp_syncbn":
            g = convert(g)
        ddp = nn.parallel.DistributedDataParallel(g)
        opt = torch.optim.Adam(ddp.parameters(), lr=3e-4, weight_decay=1e-5)

        def step():
            opt.zero_grad(set_to_none=True)
            z = ddp(x)
            lo_, _ = net.mask_decoder(emb, pe, sparse, z, False)
            p = torch.sigmoid(lo_).flatten(1)
            t = gt.flatten(1)
            loss = F.binary_cross_entropy_with_logits(lo_, gt) + (1 - (2 * (p * t).sum(1) + 1) / (p.sum(1) + t.sum(1) + 1)).mean()
            loss.backward()
            sums = torch.tensor([loss.item() * (hi - lo), 0.0, float(hi - lo)], dtype=torch.float64)
            dist.all_reduce(sums)
            opt.step()

        def timed(fn):
            times, bn = [], []
            for i in range(a.repeats + 1):
                dist.barrier()
                SyncBNFunction.timer[0] = 0.0
                t0 = time.perf_counter()
                fn()
                if i > 0:
                    times.append(time.perf_counter() - t0)
                    bn.append(SyncBNFunction.timer[0])
            return statistics.median(times), statistics.median(bn)

        t, bn_s = timed(step)
        row = dict(name=mode, engine="pytorch", ranks=s, threads=a.threads, batch=b, backbone=a.backbone,
                   repeats=a.repeats, seconds=t, images_per_s=b / t, syncbn_s=bn_s, syncbn_share=bn_s / t,
                   allreduce_mb=sum(p.numel() for p in g.parameters()) * 4 / 1e6)
        if s > 1:
            def local():
                with ddp.no_sync():
                    step()
            tl, _ = timed(local)
            row.update(allreduce_exposed_s=max(0.0, t - tl), allreduce_share=max(0.0, t - tl) / t)
        else:
            row.update(allreduce_exposed_s=0.0, allreduce_share=0.0)
        if rank == 0:
            queue.put(row)
        del ddp, opt, g
    dist.barrier()
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default="weights/lite_medsam.pth")
    ap.add_argument("--backbone", default="hardnet85")
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--world-size", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--modes", default="ddp_syncbn,ddp_localbn")
    ap.add_argument("--bind", action="store_true", help="pin rank r to cores [r·threads, (r+1)·threads), as mpirun's binding does")
    a = ap.parse_args()
    a.modes = a.modes.split(",")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(r, a, port, queue)) for r in range(a.world_size)]
    for p in procs:
        p.start()
    rows = []
    while len(rows) < len(a.modes) and any(p.is_alive() for p in procs):
        try:
            rows.append(queue.get(timeout=1))
        except Exception:
            pass
    for p in procs:
        p.join()
    while not queue.empty():
        rows.append(queue.get())
    for r in rows:
        print(json.dumps(r), flush=True)
    if any(p.exitcode for p in procs):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
