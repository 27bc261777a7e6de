"""Parity fixtures for the convolution-family ops (Sources/Network/Ops).

Run: /opt/torchref/bin/python Tools/reference/fixtures_conv.py
Each fixture holds the inputs, torch's output y, a fixed upstream gradient dy, and the gradients
torch computes for it (dx, and dw/db for the convolutions). Geometry is in "meta".
"""
import torch
import torch.nn.functional as F

from fixture_io import write_fixture

torch.set_default_dtype(torch.float32)


def grads(y, dy, *leaves):
    gs = torch.autograd.grad(y, leaves, grad_outputs=dy)
    return gs


def conv2d_fixture(name, seed, x_shape, w_shape, stride=1, padding=0, dilation=1, groups=1, bias=True):
    torch.manual_seed(seed)
    x = torch.randn(x_shape, requires_grad=True)
    w = (torch.randn(w_shape) * 0.5).requires_grad_(True)
    b = torch.randn(w_shape[0], requires_grad=True)
    y = F.conv2d(x, w, b if bias else None, stride=stride, padding=padding, dilation=dilation, groups=groups)
    dy = torch.randn(y.shape)
    # Without a bias the op still returns dBias = Σ dy over N, H, W (what a bias would receive).
    dx, dw, db = grads(y, dy, x, w, b) if bias else (*grads(y, dy, x, w), dy.sum(dim=(0, 2, 3)))
    tensors = {"x": x, "w": w, "y": y, "dy": dy, "dx": dx, "dw": dw, "db": db}
    if bias:
        tensors["b"] = b
    write_fixture(name, tensors, {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups,
                                  "bias": bias})


def conv_transpose2d_fixture(name, seed, x_shape, w_shape, stride=1, padding=0, output_padding=0, dilation=1,
                             groups=1):
    torch.manual_seed(seed)
    x = torch.randn(x_shape, requires_grad=True)
    w = (torch.randn(w_shape) * 0.5).requires_grad_(True)
    b = torch.randn(w_shape[1] * groups, requires_grad=True)
    y = F.conv_transpose2d(x, w, b, stride=stride, padding=padding, output_padding=output_padding,
                           groups=groups, dilation=dilation)
    dy = torch.randn(y.shape)
    dx, dw, db = grads(y, dy, x, w, b)
    write_fixture(name, {"x": x, "w": w, "b": b, "y": y, "dy": dy, "dx": dx, "dw": dw, "db": db},
                  {"stride": stride, "padding": padding, "output_padding": output_padding, "dilation": dilation,
                   "groups": groups})


def bilinear_fixture(name, seed, x_shape, size, align_corners):
    torch.manual_seed(seed)
    x = torch.randn(x_shape, requires_grad=True)
    y = F.interpolate(x, size=size, mode="bilinear", align_corners=align_corners, antialias=False)
    dy = torch.randn(y.shape)
    (dx,) = grads(y, dy, x)
    write_fixture(name, {"x": x, "y": y, "dy": dy, "dx": dx},
                  {"height": size[0], "width": size[1], "align_corners": align_corners})


def pool_fixture(name, seed, kind, x_shape, kernel, stride, padding=0, ceil_mode=False, count_include_pad=True):
    torch.manual_seed(seed)
    n = 1
    for s in x_shape:
        n *= s
    if kind == "max":
        # Distinct values (a shuffled ramp): no ties, so the argmax (and the gradient) is unique.
        x = (torch.randperm(n).to(torch.float32) * 0.01 - n * 0.005).reshape(x_shape).requires_grad_(True)
        y = F.max_pool2d(x, kernel, stride, padding, ceil_mode=ceil_mode)
    else:
        x = torch.randn(x_shape, requires_grad=True)
        y = F.avg_pool2d(x, kernel, stride, padding, ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    dy = torch.randn(y.shape)
    (dx,) = grads(y, dy, x)
    write_fixture(name, {"x": x, "y": y, "dy": dy, "dx": dx},
                  {"kernel": kernel, "stride": stride, "padding": padding, "ceil_mode": ceil_mode,
                   "count_include_pad": count_include_pad})


def main():
    conv2d_fixture("conv2d_3x3_pad1", 1, (2, 3, 8, 7), (4, 3, 3, 3), padding=1)
    conv2d_fixture("conv2d_stride2_dil2", 2, (1, 3, 11, 9), (4, 3, 3, 3), stride=2, padding=2, dilation=2)
    conv2d_fixture("conv2d_groups2", 3, (2, 4, 6, 6), (6, 2, 3, 3), padding=1, groups=2)
    conv2d_fixture("conv2d_depthwise", 4, (2, 4, 7, 5), (4, 1, 3, 3), padding=1, groups=4)
    conv2d_fixture("conv2d_1x1_nobias", 5, (2, 6, 5, 4), (3, 6, 1, 1), bias=False)
    conv_transpose2d_fixture("conv_transpose2d_k3s2p1op1", 6, (2, 4, 5, 4), (4, 3, 3, 3), stride=2, padding=1,
                             output_padding=1)
    conv_transpose2d_fixture("conv_transpose2d_k2s2", 7, (2, 4, 4, 3), (4, 2, 2, 2), stride=2)
    conv_transpose2d_fixture("conv_transpose2d_groups2_dil2", 8, (1, 4, 4, 3), (4, 2, 3, 3), stride=2, padding=1,
                             output_padding=1, dilation=2, groups=2)
    bilinear_fixture("bilinear_up2", 9, (2, 3, 5, 6), (10, 12), False)
    bilinear_fixture("bilinear_down", 10, (1, 3, 9, 8), (4, 5), False)
    bilinear_fixture("bilinear_align_odd", 11, (1, 2, 4, 6), (9, 11), True)
    bilinear_fixture("bilinear_align_down", 12, (1, 2, 9, 7), (4, 3), True)
    pool_fixture("maxpool_k3s2p1", 13, "max", (2, 3, 9, 8), 3, 2, 1)
    pool_fixture("maxpool_k2s2_ceil", 14, "max", (1, 2, 7, 5), 2, 2, 0, ceil_mode=True)
    pool_fixture("avgpool_k3s2p1_ceil", 15, "avg", (2, 2, 8, 7), 3, 2, 1, ceil_mode=True)
    pool_fixture("avgpool_k3s2p1_nopad", 16, "avg", (1, 3, 7, 6), 3, 2, 1, count_include_pad=False)
    pool_fixture("avgpool_k2s2", 17, "avg", (2, 2, 6, 5), 2, 2)


if __name__ == "__main__":
    main()
