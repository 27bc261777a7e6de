"""Interop fixtures for the g's with generator.input image (MobileNetV2 backbone), embedding and
both (MobileNetV2), against ModelEmbInputs (autosam_g_inputs.py), in eval mode
(Tests/InteropTests/InteropInputsParityTests.swift reads them).

(a) Swift's exports (swift_g_<input>.pth via torch.load(weights_only=True), .safetensors via
    safetensors) load into ModelEmbInputs with load_state_dict(strict=True); the two formats
    must give the same Z; records Z on Swift's inputs, the hash of the parameters and a
    checksum of the running statistics (those come from a PreciseBN pass in Swift and may
    differ in the last bits between CPUs), and checks the metadata.
(b) torch.saves a state dict per g (seeded values, running statistics from one training pass
    over 8 other inputs; torch_g_mobilenet_v2.pth, torch_g_embedding.pth,
    torch_g_mobilenet_v2_both.pth) and records its Z.

Inputs (Swift's swift_inputs.safetensors, drawn from a seed in the Swift test): image64
[1,3,64,64], image96 [1,3,96,96] in [0, 1), embedding16 [1,256,16,16], embedding24
[1,256,24,24] in [-1, 1). Cases: image g on image64; embedding g on embedding16; both g on
(image64, embedding16) (no resize), (image96, embedding16) (image part 24 → 16) and
(image64, embedding24) (16 → 24). Z is stored at every Z_STRIDE-th element, the inputs at
every INPUT_STRIDE-th (the test checks it regenerated the same ones).

Usage (from the package root):
  AUTOSAM_INTEROP_FIXTURE_DIR=/tmp/interop-inputs swift test -c release -Xswiftc -enable-testing \
      --scratch-path .build-test --skip-build --filter InteropInputsParityTests/testWriteSwiftExportsForTorch
  /opt/torchenv/bin/python Tools/reference/fixtures_interop_inputs.py /tmp/interop-inputs

The torch-saved state dicts stay small (under 0.5 MB) because every tensor larger than SMALL
values is a strided view (as_strided) of a small random storage, which torch.save writes as it
is and load_state_dict copies into the module.
"""
import collections
import hashlib
import os
import sys

import torch
import torch.nn as nn
from safetensors import safe_open
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(__file__))
from autosam_g_inputs import ModelEmbInputs  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "InteropTests", "Fixtures")
Z_STRIDE = 251
INPUT_STRIDE = 97
SMALL = 1024
DEFAULT_BACKBONE = "hardnet85"  # TrainConfig.Generator().backbone; the embedding g builds none

# key, input, backbone, cases (name, image, embedding), torch-saved file
VARIANTS = [
    ("image", "image", "mobilenet_v2", [("i64", "image64", None)], "torch_g_mobilenet_v2.pth"),
    ("embedding", "embedding", DEFAULT_BACKBONE, [("e16", "image64", "embedding16")], "torch_g_embedding.pth"),
    ("both", "both", "mobilenet_v2",
     [("i64e16", "image64", "embedding16"), ("i96e16", "image96", "embedding16"), ("i64e24", "image64", "embedding24")],
     "torch_g_mobilenet_v2_both.pth"),
]


def is_buffer(k):
    return k.endswith("running_mean") or k.endswith("running_var") or k.endswith("num_batches_tracked")


def model(input, backbone):
    return ModelEmbInputs(input, "mobilenet_v2" if input == "embedding" else backbone)


def strided(shape, bound, gen):
    """Uniform(±bound) values; beyond SMALL values a strided view of a small storage."""
    n = 1
    for s in shape:
        n *= s
    if n <= SMALL:
        return (torch.rand(shape, generator=gen) * 2 - 1) * bound
    strides = [1, 2, 3, 5][: len(shape)][::-1]
    if len(shape) == 4 and shape[2] * shape[3] == 1:
        strides = [2, 1, 1, 1]  # 1×1: w[o, i] = base[2o + i]
    elif len(shape) == 4 and shape[1] == 1:
        strides = [2, 1, 3, 1]  # depthwise: w[c, 0, kh, kw] = base[2c + 3kh + kw]
    size = 1 + sum((s - 1) * p for s, p in zip(shape, strides))
    base = (torch.rand(size, generator=gen) * 2 - 1) * bound
    return base.as_strided(tuple(shape), tuple(strides))


def seeded_state_dict(m, gen):
    """m's state dict with seeded values: convolutions ±1/√fan-in, their biases ±0.1, BatchNorm
    γ ∈ [0.8, 1.2], β ∈ [−0.1, 0.1]; running statistics left for a training pass."""
    bn = {name for name, mod in m.named_modules() if isinstance(mod, nn.BatchNorm2d)}
    sd = collections.OrderedDict()
    for k, v in m.state_dict().items():
        module, leaf = k.rsplit(".", 1)
        if is_buffer(k):
            sd[k] = v.clone()
        elif module in bn:
            sd[k] = 0.8 + 0.4 * torch.rand(v.shape, generator=gen) if leaf == "weight" \
                else (torch.rand(v.shape, generator=gen) * 2 - 1) * 0.1
        elif v.dim() == 4:
            sd[k] = strided(v.shape, 1.0 / (v.shape[1] * v.shape[2] * v.shape[3]) ** 0.5, gen)
        else:
            sd[k] = strided(v.shape, 0.1, gen)
    return sd


def z_of(sd, input, backbone, x, e):
    m = model(input, backbone)
    m.load_state_dict(sd, strict=True)
    m.eval()
    with torch.no_grad():
        return m(x, e)


def sha256_of_parameters(sd):
    h = hashlib.sha256()
    for k, v in sd.items():
        if not is_buffer(k):
            h.update(v.contiguous().numpy().astype("<f4").tobytes())
    return h.hexdigest()


def main(swift_dir):
    torch.manual_seed(0)
    inputs = load_file(os.path.join(swift_dir, "swift_inputs.safetensors"))
    meta = {"z_stride": str(Z_STRIDE), "input_stride": str(INPUT_STRIDE)}
    out = {"input_" + k: v.reshape(-1)[::INPUT_STRIDE].contiguous() for k, v in inputs.items()}
    pick = lambda z: z.reshape(-1)[::Z_STRIDE].contiguous()
    gen = torch.Generator().manual_seed(2828)
    os.makedirs(OUT, exist_ok=True)

    for key, input, backbone, cases, torch_file in VARIANTS:
        reference_keys = list(model(input, backbone).state_dict().keys())

        # (a) Swift's export in torch.
        pth = os.path.join(swift_dir, f"swift_g_{key}.pth")
        st = os.path.join(swift_dir, f"swift_g_{key}.safetensors")
        a = torch.load(pth, weights_only=True)
        assert type(a) is collections.OrderedDict, type(a)
        b = load_file(st)
        with safe_open(st, "pt") as f:
            st_meta = f.metadata()
        for m_ in (a._metadata["autosam"], st_meta):
            assert m_["module"] == "ModelEmb", m_
            assert m_["hardnet_variant"] == backbone, m_
            assert m_.get("generator_input") == (None if input == "image" else input), m_
        meta[f"swift_{key}_metadata"] = "ok"
        for sd in (a, b):
            assert list(sd.keys()) == list(a.keys())
            for k, v in sd.items():
                assert v.is_contiguous(), k
                assert v.dtype == (torch.int64 if k.endswith("num_batches_tracked") else torch.float32), (k, v.dtype)
        stats = [v.double() for k, v in a.items() if k.endswith("running_mean") or k.endswith("running_var")]
        meta[f"swift_{key}_parameter_sha256"] = sha256_of_parameters(a)
        meta[f"swift_{key}_stats_sum"] = repr(sum(s.sum().item() for s in stats))
        meta[f"swift_{key}_stats_abs"] = repr(sum(s.abs().sum().item() for s in stats))
        same_order = list(a.keys()) == reference_keys
        meta[f"swift_{key}_key_order_matches_state_dict"] = "yes" if same_order else "no"
        for ext, sd in (("pth", a), ("safetensors", b)):
            model(input, backbone).load_state_dict(sd, strict=True)
            meta[f"swift_{key}_{ext}_strict_load"] = "ok"
        for name, xi, ei in cases:
            x, e = inputs[xi], (inputs[ei] if ei else None)
            za, zb = z_of(a, input, backbone, x, e), z_of(b, input, backbone, x, e)
            assert torch.equal(za, zb), f"{key}: the two Swift files disagree"
            out[f"z_from_swift_{key}_{name}"] = pick(za)
            print(f"Swift {key} {name}: |Z| max {za.abs().max():.3f}, std {za.std():.3f}, "
                  f"share |Z|>0.99 {(za.abs() > 0.99).float().mean():.3f}; key order as state_dict(): {same_order}")

        # (b) A torch-saved state dict.
        m = model(input, backbone)
        sd = seeded_state_dict(m, gen)
        m.load_state_dict(sd, strict=True)
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.momentum = 1.0
        m.train()
        with torch.no_grad():
            m(torch.rand(8, 3, 64, 64, generator=gen), torch.rand(8, 256, 16, 16, generator=gen) * 2 - 1)
        for k, v in m.state_dict().items():
            if is_buffer(k):
                sd[k] = v.clone()
        sd._metadata = m.state_dict()._metadata
        path = os.path.join(OUT, torch_file)
        torch.save(sd, path)
        loaded = torch.load(path, weights_only=True)
        for name, xi, ei in cases:
            zt = z_of(loaded, input, backbone, inputs[xi], inputs[ei] if ei else None)
            out[f"z_torch_saved_{key}_{name}"] = pick(zt)
            print(f"torch-saved {key} {name}: |Z| max {zt.abs().max():.3f}, std {zt.std():.3f}, "
                  f"share |Z|>0.99 {(zt.abs() > 0.99).float().mean():.3f}")
        print(f"{torch_file}: {os.path.getsize(path)} bytes")

    z_path = os.path.join(OUT, "interop_inputs_z.safetensors")
    save_file(out, z_path, metadata=meta)
    print(f"{z_path}: {os.path.getsize(z_path)} bytes")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/interop-inputs")
