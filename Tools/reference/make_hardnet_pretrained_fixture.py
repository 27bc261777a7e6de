"""Small ImageNet-layout HarDNet checkpoints for HarDNetPretrainedTests (the
`PromptGenerator.load(_:layout: .hardnetBackbone)` path the Trainer takes for
`generator.pretrained`).

The network is built as the HarDNet authors' hardnet.py (PingoLH/Pytorch-HarDNet) builds its
ImageNet model: the whole `base` ModuleList, i.e. the stem, every block including the
stride-32 stage, the Dropout that arch 85 puts before its last transition, and the
classifier head `base.N` = Sequential(AdaptiveAvgPool2d, Flatten, Dropout, Linear). Only the
sizes are tiny (and the head has 10 classes, not 1000, to keep the files small; the loader
ignores it either way). Two configurations, the same as the Swift test's HarDNetVariants:
  tiny     shaped like hardnet85 (max pools, downsample [1,0,1,0,1,0], Dropout before the
           last transition): Swift builds base.0-14, the file also holds base.15-19.
  tiny_ds  shaped like hardnet39ds (depthwise, DWConv downsampling, downsample [1,1,1,0]):
           Swift builds base.0-10, the file also holds base.11-14.
Weights are seeded random; BatchNorm affine terms are random and the running statistics
are accumulated over a few random batches, then perturbed, so eval mode is non-trivial.

Writes to Tests/NetworkTests/Fixtures/:
  hardnet_tiny_imagenet.pth, hardnet_tiny_ds_imagenet.pth   the checkpoints
  hardnet_tiny_missing.pth     one backbone tensor removed
  hardnet_tiny_wrong_shape.pth one backbone tensor with a wrong shape
  hardnet_tiny_typo.pth        one backbone key misspelt
  hardnet_pretrained.bin       eval-mode stage outputs (strides 4, 8, 16) for
                               analytic_image(2, 3, 64, 64), float64 reference; meta: the
                               configurations, stage taps, keys, per-key sums, bad keys
Run: /opt/torchref/bin/python Tools/reference/make_hardnet_pretrained_fixture.py
The .pth files are committed with `git add -f` (*.pth is gitignored for real weights).
"""
import collections
import copy
import os

import torch
import torch.nn as nn

import autosam_g_modules as g_mod
from autosam_g_modules import ConvLayer, DWConvLayer, HarDBlock
from fixture_io import FIXTURES, analytic_image, write_binary_fixture

# first_ch, grmul, depthwise, growth, layers, transition, downsample (autosam_g_modules.VARIANTS order)
CONFIGS = {
    "tiny": ((8, 12), 1.7, False, [3, 4, 4, 6, 6, 8], [8, 2, 4, 2, 4, 2],
             [16, 20, 24, 32, 32, 32], [1, 0, 1, 0, 1, 0]),
    "tiny_ds": ((8, 16), 1.6, True, [6, 8, 12, 16], [4, 4, 4, 2], [24, 32, 48, 64], [1, 1, 1, 0]),
}
ARCH85_SHAPED = {"tiny"}  # gets hardnet.py's `if i == blks-1 and arch == 85: Dropout(0.1)`
NUM_CLASSES = 10


class ImageNetHarDNet(nn.Module):
    """hardnet.py's HarDNet.__init__, with the sizes passed in."""

    def __init__(self, cfg, arch85):
        super().__init__()
        (c0, c1), grmul, dw, gr, nl, ch_list, down = cfg
        drop_rate = 0.05 if dw else (0.2 if arch85 else 0.1)
        base = [ConvLayer(3, c0, 3, 2), ConvLayer(c0, c1, 1 if dw else 3)]
        base.append(DWConvLayer(c1, 2) if dw else nn.MaxPool2d(3, 2, 1))
        ch = c1
        for i in range(len(gr)):
            blk = HarDBlock(ch, gr[i], grmul, nl[i], dw)
            base.append(blk)
            if i == len(gr) - 1 and arch85:
                base.append(nn.Dropout(0.1))
            base.append(ConvLayer(blk.out_channels, ch_list[i], kernel=1))
            ch = ch_list[i]
            if down[i] == 1:
                base.append(DWConvLayer(ch, 2) if dw else nn.MaxPool2d(2, 2))
        base.append(nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Dropout(drop_rate),
                                  nn.Linear(ch, NUM_CLASSES)))
        self.base = nn.ModuleList(base)
        # Stage outputs at strides 2, 4, 8, 16: the module before each of the first four downsamplings.
        is_down = [isinstance(m, nn.MaxPool2d) or (isinstance(m, DWConvLayer) and m.dwconv.stride == (2, 2))
                   for m in base]
        self.taps = [i - 1 for i, d in enumerate(is_down) if d][:4]

    def forward(self, x):
        outs = []
        for i, m in enumerate(self.base):
            x = m(x)
            if i in self.taps:
                outs.append(x)
        return outs, x


def randomise(model, gen):
    """Random BN affine terms, then running statistics from random batches, perturbed."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) * 0.8 + 0.6)
                m.bias.copy_(torch.rand(m.bias.shape, generator=gen) * 0.4 - 0.2)
                m.momentum = None  # cumulative average over the calibration batches
        model.train()
        for _ in range(4):
            model(torch.randn(2, 3, 64, 64, generator=gen))
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.add_(0.05 * torch.randn(m.running_mean.shape, generator=gen))
                m.running_var.mul_(torch.rand(m.running_var.shape, generator=gen) * 0.45 + 0.8)
    model.eval()


def last_built(taps):
    """Swift (like AutoSAM) builds base.0 … the stride-16 stage output, nothing after."""
    return taps[3]


def module_index(key):
    return int(key.split(".")[1])


def check_against_autosam_modules(name, sd, taps):
    """Our AutoSAM re-creation (truncated at stride 16) must take exactly the kept keys."""
    g_mod.VARIANTS[name] = CONFIGS[name]
    trunc = g_mod.HarDNet(name)
    assert trunc.taps == taps, (trunc.taps, taps)
    res = trunc.load_state_dict(sd, strict=False)
    assert not res.missing_keys, res.missing_keys
    assert all(module_index(k) > taps[3] for k in res.unexpected_keys), res.unexpected_keys
    return trunc.eval()


def build(name, seed):
    torch.manual_seed(seed)
    model = ImageNetHarDNet(CONFIGS[name], name in ARCH85_SHAPED)
    randomise(model, torch.Generator().manual_seed(seed + 1))
    sd = model.state_dict()
    torch.save(sd, os.path.join(FIXTURES, f"hardnet_{name}_imagenet.pth"))

    x = analytic_image(2, 3, 64, 64)
    ref = copy.deepcopy(model).double()
    with torch.no_grad():
        stages64, _ = ref(x.double())
        stages32, _ = model(x)
        trunc = check_against_autosam_modules(name, sd, model.taps)
        assert all(torch.equal(a, b) for a, b in zip(trunc(x), stages32))
    f32err = [float((a - b.float()).abs().max() / b.abs().max()) for a, b in zip(stages32[1:], stages64[1:])]
    keys = list(sd.keys())
    kept = [k for k in keys if module_index(k) <= last_built(model.taps) and not k.endswith("num_batches_tracked")]
    meta = {
        "config": {"first": list(CONFIGS[name][0]), "grmul": CONFIGS[name][1], "depthwise": CONFIGS[name][2],
                   "growth": CONFIGS[name][3], "layers": CONFIGS[name][4], "transition": CONFIGS[name][5],
                   "downsample": CONFIGS[name][6]},
        "taps": model.taps,
        "modules": len(model.base),
        "keys": keys,
        "backbone_keys": kept,
        "sums": {k: float(sd[k].double().sum()) for k in kept},
        "torch_f32_rel_err": f32err,
    }
    tensors = {f"{name}/x{s}": t for s, t in zip((4, 8, 16), stages64[1:])}
    print(f"{name}: {len(model.base)} modules, taps {model.taps}, {len(kept)} of {len(keys)} keys loaded, "
          f"{sum(p.numel() for p in model.parameters())} parameters; PyTorch float32 vs float64 {f32err}")
    return sd, meta, tensors


def write_bad(sd):
    """Copies of the tiny checkpoint, each with one defect the loader must name. The missing
    tensor is in base.14, the last module Swift builds: the edge of the ignored range."""
    missing, shaped, typo = "base.14.norm.running_var", "base.4.conv.weight", "base.3.layers.0.conv.weight"
    typo_to = "base.3.layers.0.conv.wieght"
    bad = collections.OrderedDict((k, v) for k, v in sd.items() if k != missing)
    torch.save(bad, os.path.join(FIXTURES, "hardnet_tiny_missing.pth"))
    bad = collections.OrderedDict(sd)
    w = sd[shaped]
    bad[shaped] = torch.randn(w.shape[0], w.shape[1] + 1, *w.shape[2:], generator=torch.Generator().manual_seed(7))
    torch.save(bad, os.path.join(FIXTURES, "hardnet_tiny_wrong_shape.pth"))
    bad = collections.OrderedDict((typo_to if k == typo else k, v) for k, v in sd.items())
    torch.save(bad, os.path.join(FIXTURES, "hardnet_tiny_typo.pth"))
    return {"missing": missing, "wrong_shape": shaped, "wrong_shape_expected": list(w.shape),
            "wrong_shape_found": [w.shape[0], w.shape[1] + 1, *w.shape[2:]], "typo_of": typo, "typo": typo_to}


def main():
    os.makedirs(FIXTURES, exist_ok=True)
    meta, tensors = {}, {}
    for seed, name in enumerate(CONFIGS):
        sd, m, t = build(name, 100 * (seed + 1))
        meta[name] = m
        tensors.update(t)
        if name == "tiny":
            meta["bad"] = write_bad(sd)
    write_binary_fixture("hardnet_pretrained", tensors, meta=meta)
    for f in sorted(os.listdir(FIXTURES)):
        if f.startswith("hardnet_"):
            print(f, os.path.getsize(os.path.join(FIXTURES, f)), "bytes")


if __name__ == "__main__":
    main()
