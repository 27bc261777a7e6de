"""Interop fixtures (Tests/InteropTests/Fixtures): g = ModelEmb('hardnet39ds') against Swift.

(a) Loads Swift's export (swift_g.pth with torch.load(weights_only=True), swift_g.safetensors
    with safetensors) into ModelEmb with load_state_dict(strict=True) and computes Z on a fixed
    input; records Z, the files' SHA-256 and whether the key order is state_dict()'s.
(b) torch.saves a state dict for ModelEmb (torch_g_hardnet39ds.pth) and records its Z.

Usage (from the package root):
  AUTOSAM_INTEROP_FIXTURE_DIR=/tmp/interop swift test -c release -Xswiftc -enable-testing \
      --scratch-path .build-test --filter InteropTorchParityTests/testWriteSwiftExportForTorch
  /opt/torchref/bin/python Tools/reference/fixtures_interop.py /tmp/interop

The torch-saved state dict stays small (~0.2 MB instead of 23 MB) because every conv weight
larger than 1024 values is a strided view (as_strided) of a small random storage, which
torch.save writes as it is and load_state_dict copies into the module.
"""
import collections
import hashlib
import os
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(__file__))
from autosam_g_modules import ModelEmb, ModelH  # noqa: E402
from fixture_io import analytic_image  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "InteropTests", "Fixtures")
Z_STRIDE = 61
SMALL = 1024  # tensors up to this size are stored whole


def strided_state_dict(model, gen):
    """ModelEmb's state dict with seeded values; big tensors as views of small storages."""
    sd = collections.OrderedDict()
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked"):
            sd[k] = v.clone()
            continue
        if k.endswith("running_mean") or k.endswith("running_var"):
            sd[k] = v.clone()  # set from a training pass below
            continue
        if v.dim() == 4:
            b = 1.0 / (v.shape[1] * v.shape[2] * v.shape[3]) ** 0.5
        elif k.endswith("norm.weight") or k.endswith("BN.weight") or k.endswith("BN1.weight"):
            sd[k] = 0.8 + 0.4 * torch.rand(v.shape, generator=gen)
            continue
        else:
            b = 0.1
        if v.numel() <= SMALL:
            sd[k] = (torch.rand(v.shape, generator=gen) * 2 - 1) * b
            continue
        strides = [1, 2, 3, 5, 7][: v.dim()][::-1]
        n = 1 + sum((s - 1) * p for s, p in zip(v.shape, strides))
        base = (torch.rand(n, generator=gen) * 2 - 1) * b
        sd[k] = base.as_strided(tuple(v.shape), tuple(strides))
    return sd


def z_of(sd, x):
    m = ModelEmb("hardnet39ds")
    m.load_state_dict(sd, strict=True)
    m.eval()
    with torch.no_grad():
        return m(x)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main(swift_dir):
    torch.manual_seed(0)
    x = analytic_image(1, 3, 64, 64)
    reference_keys = list(ModelEmb("hardnet39ds").state_dict().keys())
    meta = {"z_stride": str(Z_STRIDE)}

    # (a) Swift's export in torch.
    pth = os.path.join(swift_dir, "swift_g.pth")
    st = os.path.join(swift_dir, "swift_g.safetensors")
    a = torch.load(pth, weights_only=True)
    assert type(a) is collections.OrderedDict, type(a)
    assert a._metadata["autosam"]["hardnet_variant"] == "hardnet39ds", a._metadata
    b = load_file(st)
    with safe_open(st, "pt") as f:
        assert f.metadata()["hardnet_variant"] == "hardnet39ds", f.metadata()
    for sd in (a, b):
        for k, v in sd.items():
            assert v.is_contiguous(), k
            assert v.dtype == (torch.int64 if k.endswith("num_batches_tracked") else torch.float32), (k, v.dtype)
    za, zb = z_of(a, x), z_of(b, x)
    assert torch.equal(za, zb), "the two Swift files disagree"
    meta["strict_load"] = "ok"
    meta["key_order_matches_state_dict"] = "yes" if list(a.keys()) == reference_keys else "no"
    meta["sha256_swift_pth"] = sha256(pth)
    meta["sha256_swift_safetensors"] = sha256(st)
    for ext in ("pth", "safetensors"):  # Swift's h in ModelH
        path = os.path.join(swift_dir, "swift_h." + ext)
        h_sd = torch.load(path, weights_only=True) if ext == "pth" else load_file(path)
        ModelH().load_state_dict(h_sd, strict=True)
        meta["sha256_swift_h_" + ext] = sha256(path)
    meta["h_strict_load"] = "ok"

    # (b) A torch-saved state dict.
    gen = torch.Generator().manual_seed(1616)
    m = ModelEmb("hardnet39ds")
    sd = strided_state_dict(m, gen)
    m.load_state_dict(sd, strict=True)
    for mod in m.modules():  # running statistics from one training pass over 8 other images
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.momentum = 1.0
    m.train()
    with torch.no_grad():
        m(torch.cat([analytic_image(1, 3, 64, 64, phase=0.7 * (i + 1)) for i in range(8)]))
    for k, v in m.state_dict().items():
        if "running_" in k or k.endswith("num_batches_tracked"):
            sd[k] = v.clone()
    sd._metadata = m.state_dict()._metadata
    torch_pth = os.path.join(OUT, "torch_g_hardnet39ds.pth")
    os.makedirs(OUT, exist_ok=True)
    torch.save(sd, torch_pth)
    zt = z_of(torch.load(torch_pth, weights_only=True), x)
    saturated = (zt.abs() > 0.99).float().mean().item()

    pick = lambda z: z.reshape(-1)[::Z_STRIDE].contiguous()
    save_file({"input": x.contiguous(), "z_torch_state_dict": pick(zt), "z_torch_from_swift_export": pick(za)},
              os.path.join(OUT, "interop_z.safetensors"), metadata=meta)
    print(f"torch-saved g: {os.path.getsize(torch_pth)} bytes; |Z| max {zt.abs().max():.3f}, "
          f"share |Z|>0.99 {saturated:.3f}; Swift g's |Z| max {za.abs().max():.3f}; key order {meta['key_order_matches_state_dict']}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/interop")
