"""Parity fixtures for g (ModelEmb with HarDNet-85) and h (ModelH).

A HarDNet-85 g has 24 M parameters (96 MB), too big to commit as a .pth, so the weights
and BatchNorm running statistics are closed-form functions of (tensor number t, element
index i) that Tests/NetworkTests/PromptGeneratorParityTests.swift evaluates identically,
through an integer hash u(t, i) in [-1, 1) (exact in both languages; see `hashed`):
  4-D weight (fan_in = dim1·k²)       u/sqrt(fan_in)   (PyTorch's default bound)
  norm weight (BatchNorm/LayerNorm)   1 + 0.2·u
  norm bias                           0.1·u
  other bias                          0.05·u
  running_mean                        0.1·u
  running_var                         1 + 0.25·(u + 1)
t counts parameters, then continues over buffers (num_batches_tracked excluded), in
state-dict order. (Smooth fills like sin(a·i + b) give near-constant channels whose
batch variance is tiny; train-mode BatchNorm then amplifies rounding so much that PyTorch's
own float32 and float64 results differ by 80%. Hashed values are well conditioned.)
The upstream gradient is 0.01·cos(0.0123·i + 0.3) over the flat output.

g: train-mode forward on fixture_io.analytic_image(2, 3, 64, 64) and backward, then an
eval-mode forward and backward (with the running statistics the train step updated).
h: forward on tanh(analytic_image(1, 256, 64, 64, phase=0.4)) and backward.

Usage: python fixtures_prompt_generator.py   (writes prompt_generator.bin, ~1 MB)
"""
import math

import numpy as np
import torch

from autosam_g_modules import ModelEmb, ModelH
from fixture_io import analytic_image, write_binary_fixture


def is_norm(name):
    module = name.rsplit(".", 2)[-2]
    return "norm" in module or module.startswith("BN")


def hashed(t, n):
    """u in [-1, 1): x = i·0x9E3779B97F4A7C15 + (t+1)·0xD1B54A32D192ED03 (mod 2^64), then
    x ^= x >> 31; x *= 0xBF58476D1CE4E5B9; x ^= x >> 29; u = 2·(x >> 11)/2^53 − 1."""
    i = np.arange(n, dtype=np.uint64)
    x = i * np.uint64(0x9E3779B97F4A7C15) + np.full(n, t + 1, dtype=np.uint64) * np.uint64(0xD1B54A32D192ED03)
    x ^= x >> np.uint64(31)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(29)
    return torch.from_numpy((x >> np.uint64(11)).astype(np.float64) * 2.0 ** -52 - 1)


def fill(model):
    with torch.no_grad():
        params = list(model.named_parameters())
        for t, (name, p) in enumerate(params):
            u = hashed(t, p.numel())
            if p.dim() == 4:
                v = u / math.sqrt(p.shape[1] * p.shape[2] * p.shape[3])
            elif is_norm(name) and name.endswith("weight"):
                v = 1 + 0.2 * u
            elif is_norm(name):
                v = 0.1 * u
            else:
                v = 0.05 * u
            p.copy_(v.view(p.shape).to(torch.float32))
        bufs = [(n, b) for n, b in model.named_buffers() if not n.endswith("num_batches_tracked")]
        for q, (name, b) in enumerate(bufs):
            u = hashed(len(params) + q, b.numel())
            v = 0.1 * u if name.endswith("running_mean") else 1 + 0.25 * (u + 1)
            b.copy_(v.to(torch.float32))


def upstream(shape):
    n = math.prod(shape)
    return (0.01 * torch.cos(0.0123 * torch.arange(n, dtype=torch.float64) + 0.3)).to(torch.float32).view(shape)


# Conv biases feeding a train-mode BatchNorm: their exact gradient is 0 (the batch mean
# absorbs them), so only rounding noise is left to compare.
BIAS_BEFORE_TRAIN_BN = {"decoder.up1.conv2.bias", "decoder.up2.conv2.bias", "decoder.final.conv1.bias"}


def sampled(t, k=24):
    return max(1, t.numel() // k)


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    tensors, strides = {}, {}

    # Train mode. Its parameter gradients are ill-conditioned in float32 (a stack of ~90
    # train-mode BatchNorms: PyTorch's own float32 and float64 gradients differ by several %),
    # so the reference gradients come from a float64 copy and the meta records how far
    # PyTorch's float32 ones are from them: the Swift test must do no worse (x2).
    x = analytic_image(2, 3, 64, 64)
    runs = {}
    for dtype in (torch.float64, torch.float32):
        m = ModelEmb("hardnet85")
        fill(m)
        m = m.to(dtype).train()
        o = m(x.to(dtype))
        o.backward(upstream(o.shape).to(dtype))
        runs[dtype] = (m, o)
    g, out = runs[torch.float32]
    g64 = runs[torch.float64][0]
    f32_err = 0.0
    for (name, t), t64 in zip(g.named_parameters(), g64.parameters()):
        tensors["g.grad_train." + name] = t64.grad
        strides["g.grad_train." + name] = sampled(t)
        if name not in BIAS_BEFORE_TRAIN_BN:
            f32_err = max(f32_err, float((t.grad.double() - t64.grad).abs().max() / t64.grad.abs().max()))
    tensors["g.out_train"] = out
    strides["g.out_train"] = 97
    for name, b in g.named_buffers():
        if not name.endswith("num_batches_tracked"):
            tensors["g.buffer." + name] = b
            strides["g.buffer." + name] = 1   # whole: the eval check starts from these statistics
    # Eval mode with the running statistics the float32 train step updated: output and
    # gradients. The reference is a float64 copy (same weights and statistics), so the test
    # measures distance to the exact values; PyTorch float32's own distance goes in the meta.
    import copy
    g.eval()
    g.zero_grad()
    out_eval32 = g(x)
    out_eval32.backward(upstream(out_eval32.shape))
    g64e = copy.deepcopy(g).double().eval()
    g64e.zero_grad()
    out_eval = g64e(x.double())
    out_eval.backward(upstream(out_eval.shape).double())
    tensors["g.out_eval"] = out_eval
    strides["g.out_eval"] = 97
    eval_f32_err = 0.0
    for (name, t), t32 in zip(g64e.named_parameters(), g.parameters()):
        tensors["g.grad_eval." + name] = t.grad
        strides["g.grad_eval." + name] = sampled(t)
        eval_f32_err = max(eval_f32_err, float((t32.grad.double() - t.grad).abs().max() / t.grad.abs().max()))
    full = ModelEmb("hardnet85", full=True)

    h = ModelH()
    fill(h)
    z = torch.tanh(analytic_image(1, 256, 64, 64, phase=0.4))
    y = h(z)
    y.backward(upstream(y.shape))
    tensors["h.out"] = y
    strides["h.out"] = 31
    for name, t in h.named_parameters():
        tensors["h.grad." + name] = t.grad
        strides["h.grad." + name] = sampled(t, 64)

    meta = {
        "g_param_names": [n for n, _ in g.named_parameters()],
        "g_buffer_names": [n for n, _ in g.named_buffers() if not n.endswith("num_batches_tracked")],
        "g_params": sum(t.numel() for t in g.parameters()),
        "g_params_authors_full": sum(t.numel() for t in full.parameters()),
        "h_params": sum(t.numel() for t in h.parameters()),
        "out_train_absmax": float(out.detach().abs().max()),
        "train_grad_torch_f32_vs_f64": f32_err,
        "eval_grad_torch_f32_vs_f64": eval_f32_err,
    }
    print({k: v for k, v in meta.items() if not k.endswith("names")})
    print("train out std", float(out.std()), "eval out std", float(out_eval.std()), "h out std", float(y.std()))
    print(write_binary_fixture("prompt_generator", tensors, meta, strides))


if __name__ == "__main__":
    main()
