"""Parity fixtures for the dense ops (Sources/Network/Ops), read by DenseParityTests.swift.

Run: /opt/torchref/bin/python Tools/reference/fixtures_dense.py
Inputs come from seeded torch generators, so the files are reproducible. Each backward
fixture uses a fixed random upstream gradient "dy" (loss = sum(y * dy)).
"""
import torch
import torch.nn.functional as F

from fixture_io import seeded, write_fixture

torch.set_default_dtype(torch.float32)


def randn(shape, seed, scale=1.0):
    return torch.randn(*shape, generator=seeded(seed)) * scale


def grads(y, dy, *inputs):
    return torch.autograd.grad(y, inputs, grad_outputs=dy)


def layer_norm():
    x = randn((2, 3, 37), 1, 2.0).requires_grad_()
    g = (1 + 0.5 * randn((37,), 2)).requires_grad_()
    b = randn((37,), 3).requires_grad_()
    y = F.layer_norm(x, (37,), g, b, eps=1e-5)
    dy = randn(y.shape, 4)
    dx, dg, db = grads(y, dy, x, g, b)
    write_fixture("layer_norm", {"x": x, "gamma": g, "beta": b, "y": y, "dy": dy, "dx": dx, "dgamma": dg, "dbeta": db},
                  {"eps": 1e-5})


class LayerNorm2d(torch.nn.Module):
    """SAM's LayerNorm2d (segment_anything/modeling/common.py)."""

    def __init__(self, num_channels, eps=1e-6):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(num_channels))
        self.bias = torch.nn.Parameter(torch.zeros(num_channels))
        self.eps = eps

    def forward(self, x):
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


def layer_norm_2d():
    m = LayerNorm2d(12)
    with torch.no_grad():
        m.weight.copy_(1 + 0.5 * randn((12,), 11))
        m.bias.copy_(randn((12,), 12))
    x = randn((2, 12, 5, 7), 13, 2.0).requires_grad_()
    y = m(x)
    dy = randn(y.shape, 14)
    dx, dg, db = grads(y, dy, x, m.weight, m.bias)
    write_fixture("layer_norm_2d", {"x": x, "gamma": m.weight, "beta": m.bias, "y": y, "dy": dy,
                                    "dx": dx, "dgamma": dg, "dbeta": db}, {"eps": 1e-6})


def attention():
    q = randn((2, 3, 5, 8), 21).requires_grad_()
    k = randn((2, 3, 9, 8), 22).requires_grad_()
    v = randn((2, 3, 9, 6), 23).requires_grad_()
    out = F.scaled_dot_product_attention(q, k, v)
    dy = randn(out.shape, 24)
    dq, dk, dv = grads(out, dy, q, k, v)
    write_fixture("attention", {"q": q, "k": k, "v": v, "out": out, "dy": dy, "dq": dq, "dk": dk, "dv": dv})


def batch_norm():
    bn = torch.nn.BatchNorm2d(6)   # momentum 0.1, eps 1e-5
    with torch.no_grad():
        bn.weight.copy_(1 + 0.5 * randn((6,), 31))
        bn.bias.copy_(randn((6,), 32))
        bn.running_mean.copy_(0.1 * randn((6,), 33))
        bn.running_var.copy_(1 + 0.2 * randn((6,), 34).abs())
    rm0, rv0 = bn.running_mean.clone(), bn.running_var.clone()
    x = (randn((3, 6, 5, 4), 35, 2.0) + 0.5).requires_grad_()
    bn.train()
    y = bn(x)
    dy = randn(y.shape, 36)
    dx, dg, db = grads(y, dy, x, bn.weight, bn.bias)
    write_fixture("batch_norm_train", {
        "x": x, "gamma": bn.weight, "beta": bn.bias, "running_mean0": rm0, "running_var0": rv0,
        "y": y, "running_mean": bn.running_mean, "running_var": bn.running_var,
        "dy": dy, "dx": dx, "dgamma": dg, "dbeta": db}, {"momentum": 0.1, "eps": 1e-5})

    bn.eval()
    xe = randn((2, 6, 3, 5), 37, 2.0).requires_grad_()
    ye = bn(xe)
    dye = randn(ye.shape, 38)
    dxe, dge, dbe = grads(ye, dye, xe, bn.weight, bn.bias)
    write_fixture("batch_norm_eval", {
        "x": xe, "gamma": bn.weight, "beta": bn.bias, "running_mean": bn.running_mean,
        "running_var": bn.running_var, "y": ye, "dy": dye, "dx": dxe, "dgamma": dge, "dbeta": dbe}, {"eps": 1e-5})


def gelu():
    x = torch.cat([torch.linspace(-8, 8, 401), randn((3, 67), 41, 3.0).reshape(-1)]).requires_grad_()
    y = F.gelu(x)   # exact erf form, as nn.GELU()
    dy = randn(y.shape, 42)
    (dx,) = grads(y, dy, x)
    write_fixture("gelu", {"x": x, "y": y, "dy": dy, "dx": dx})


def softmax():
    x = randn((4, 3, 19), 51, 4.0)
    x[0, 0, :] += 100.0   # a shifted row: the kernel must subtract the max
    x.requires_grad_()
    y = F.softmax(x, dim=-1)
    dy = randn(y.shape, 52)
    (dx,) = grads(y, dy, x)
    write_fixture("softmax", {"x": x, "y": y, "dy": dy, "dx": dx})


if __name__ == "__main__":
    for f in (layer_norm, layer_norm_2d, attention, batch_norm, gelu, softmax):
        f()
    print("wrote dense fixtures, torch", torch.__version__)
