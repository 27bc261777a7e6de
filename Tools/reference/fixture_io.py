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
