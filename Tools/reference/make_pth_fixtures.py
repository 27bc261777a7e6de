"""Writes the small .pth checkpoints TorchCheckpointTests reads (Tests/NetworkTests/Fixtures/pth_*.pth)
and their expected values (Fixtures/pth_expected.json, via fixture_io.write_fixture).

Run: /opt/torchref/bin/python Tools/reference/make_pth_fixtures.py
The .pth files are committed with `git add -f` (*.pth is gitignored for real weights).
"""
import collections
import os
import struct
import zipfile

import torch

from fixture_io import FIXTURES, write_fixture

torch.manual_seed(0)


def path(name):
    return os.path.join(FIXTURES, name + ".pth")


def dtypes_state():
    sd = collections.OrderedDict()
    sd["f32"] = torch.randn(2, 3)
    # float16: normal, subnormal (2^-24), max, negative zero, rounded 0.1.
    sd["f16"] = torch.tensor([1.5, -2.25, 2.0 ** -24, 65504.0, -0.0, 0.1], dtype=torch.float16)
    # Not representable in the JSON fixture; the test checks these three by hand.
    sd["f16_special"] = torch.tensor([float("inf"), float("-inf"), float("nan")], dtype=torch.float16)
    sd["bf16"] = torch.randn(2, 2).to(torch.bfloat16)
    sd["f64"] = torch.tensor([0.1, -1e-3, 12345.678], dtype=torch.float64)
    sd["i64"] = torch.tensor([0, -1, 2 ** 53 + 1, -(2 ** 62), 7], dtype=torch.int64)
    sd["i32"] = torch.tensor([[-5, 6], [2 ** 31 - 1, -(2 ** 31)]], dtype=torch.int32)
    sd["i16"] = torch.tensor([-300, 301], dtype=torch.int16)
    sd["i8"] = torch.tensor([-128, 127, 3], dtype=torch.int8)
    sd["u8"] = torch.tensor([0, 255, 17], dtype=torch.uint8)
    sd["b"] = torch.tensor([True, False, True])
    sd["bn.num_batches_tracked"] = torch.tensor(4416366)  # 0-dim int64, like BatchNorm
    sd["param"] = torch.nn.Parameter(torch.randn(3))  # pickled via _rebuild_parameter
    sd["empty"] = torch.zeros(0, 3)
    return sd


def views_state():
    base = torch.arange(16, dtype=torch.float32).reshape(4, 4) * 0.5 - 3
    half = torch.randn(3, 4).to(torch.float16)
    sd = collections.OrderedDict()
    sd["base"] = base
    sd["t"] = base.t()  # stride (1, 4)
    sd["row"] = base[2]  # offset 8, shares base's storage
    sd["col"] = base[:, 1]  # offset 1, stride (4,)
    sd["block"] = base[1:3, 2:4]  # offset 6, stride (4, 1)
    sd["half_t"] = half.t()  # non-contiguous float16
    sd["bcast"] = torch.arange(3, dtype=torch.float32).expand(2, 3)  # stride (0, 1)
    return sd


def module_state():
    m = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 1), torch.nn.BatchNorm2d(3))
    with torch.no_grad():
        m[1].running_mean.uniform_(-1, 1)
        m[1].running_var.uniform_(0.5, 2)
    return m.state_dict()  # OrderedDict with _metadata (pickled through BUILD)


def small_state():
    sd = collections.OrderedDict()
    sd["w"] = torch.randn(2, 2)
    sd["n"] = torch.tensor([1, 2, 3], dtype=torch.int64)
    return sd


def rewrite_zip(src, dst, compress=False, zip64=False):
    """Copies a .pth zip, either deflating its entries or forcing zip64 extra fields
    (sizes and offsets 0xFFFFFFFF in the central directory) and zip64 end records."""
    with zipfile.ZipFile(src) as z:
        members = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    if compress:
        with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED) as out:
            for name, data in members:
                out.writestr(name, data)
        return
    assert zip64
    blob, central = bytearray(), bytearray()
    for name, data in members:
        nb = name.encode()
        crc = zipfile.crc32(data) & 0xFFFFFFFF
        offset = len(blob)
        blob += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc, len(data), len(data), len(nb), 0)
        blob += nb + data
        extra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc,
                               0xFFFFFFFF, 0xFFFFFFFF, len(nb), len(extra), 0, 0, 0, 0, 0xFFFFFFFF)
        central += nb + extra
    cd_offset = len(blob)
    blob += central
    z64 = len(blob)
    blob += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(members), len(members),
                        len(central), cd_offset)
    blob += struct.pack("<IIQI", 0x07064B50, 0, z64, 1)
    blob += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(dst, "wb") as f:
        f.write(blob)


def write_legacy(views, module):
    """The pre-1.6 torch.save format (how torchvision's MobileNetV2 ImageNet file ships):
    shared and strided storages, and a module state dict with its _metadata."""
    torch.save(views, path("pth_legacy_views"), _use_new_zipfile_serialization=False)
    torch.save(module, path("pth_legacy_module"), _use_new_zipfile_serialization=False)


def main():
    os.makedirs(FIXTURES, exist_ok=True)
    dtypes, views, module, small = dtypes_state(), views_state(), module_state(), small_state()
    torch.save(dtypes, path("pth_dtypes"))
    torch.save(views, path("pth_views"))
    torch.save(module, path("pth_module"))
    torch.save(small, path("pth_proto4"), pickle_protocol=4)
    torch.save({"model": small, "epoch": 3, "note": "wrapped"}, path("pth_wrapped_model"))
    torch.save({"state_dict": small, "step": 10}, path("pth_wrapped_state_dict"))
    write_legacy(views, module)
    rewrite_zip(path("pth_proto4"), path("pth_zip64"), zip64=True)
    rewrite_zip(path("pth_proto4"), path("pth_deflated"), compress=True)

    expected, ints = {}, {}
    for file, sd in [("dtypes", dtypes), ("views", views), ("module", module), ("small", small)]:
        for k, v in sd.items():
            if v.is_floating_point() and not bool(torch.isfinite(v).all()):
                continue
            expected[f"{file}/{k}"] = v.detach()
            if not v.is_floating_point():
                ints[f"{file}/{k}"] = [int(x) for x in v.reshape(-1).tolist()]
    write_fixture("pth_expected", expected, meta={"int64": ints, "module_keys": list(module.keys()),
                                                 "dtypes_keys": list(dtypes.keys())})


if __name__ == "__main__":
    main()
