"""Writes parity fixtures the Swift tests read (Tests/NetworkTests/Fixtures/<name>.json).

Format: {"name": str, "meta": {...}, "tensors": {key: {"shape": [...], "data": [float, ...]}}}.
Float32 values are written through float() so they round-trip exactly.
"""
import json
import os

import torch

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "NetworkTests", "Fixtures")


def write_fixture(name, tensors, meta=None):
    os.makedirs(FIXTURES, exist_ok=True)
    out = {"name": name, "meta": meta or {}, "tensors": {}}
    for key, t in tensors.items():
        t = t.detach().to(torch.float32).contiguous()
        out["tensors"][key] = {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1).tolist()]}
    path = os.path.join(FIXTURES, name + ".json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    return path


def seeded(seed):
    g = torch.Generator().manual_seed(seed)
    return g


def write_binary_fixture(name, tensors, meta=None, sample_stride=None):
    """Larger fixtures: <name>.bin = b"ASFX" + u32 header length + JSON header + float32 LE data.

    sample_stride maps a key to s: only flat[::s] is stored (the test compares those
    positions), which keeps the committed files small for 256x64x64 embeddings.
    """
    import struct
    os.makedirs(FIXTURES, exist_ok=True)
    sample_stride = sample_stride or {}
    header = {"name": name, "meta": meta or {}, "tensors": {}}
    blobs, offset = [], 0
    for key, t in tensors.items():
        t = t.detach().to(torch.float32).contiguous()
        s = int(sample_stride.get(key, 1))
        flat = t.reshape(-1)[::s].contiguous()
        header["tensors"][key] = {"shape": list(t.shape), "stride": s, "offset": offset, "count": flat.numel()}
        blobs.append(flat.numpy().astype("<f4").tobytes())
        offset += flat.numel()
    h = json.dumps(header).encode()
    path = os.path.join(FIXTURES, name + ".bin")
    with open(path, "wb") as f:
        f.write(b"ASFX" + struct.pack("<I", len(h)) + h + b"".join(blobs))
    return path


def analytic_image(n, c, h, w, phase=0.0):
    """A smooth deterministic test image the Swift tests can build without the file."""
    ys = torch.arange(h, dtype=torch.float64).view(1, 1, h, 1)
    xs = torch.arange(w, dtype=torch.float64).view(1, 1, 1, w)
    cs = torch.arange(c, dtype=torch.float64).view(1, c, 1, 1)
    ns = torch.arange(n, dtype=torch.float64).view(n, 1, 1, 1)
    v = torch.sin(0.071 * ys + 0.5 * cs + phase + 0.9 * ns) * torch.cos(0.053 * xs - 0.3 * cs) \
        + 0.25 * torch.sin(0.013 * (xs + ys) * (cs + 1))
    return v.to(torch.float32)
