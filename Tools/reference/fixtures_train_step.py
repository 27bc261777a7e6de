"""Parity fixture for AutoSAM's full training step: LiteMedSAM (real weights, frozen) encoder
(no grad) → g (train mode) → mask decoder (empty sparse prompt, dense = g(I)) → BCE+Dice on
the 256² low-res logits → backward → torch.optim.Adam(lr 3e-4, weight_decay 1e-5), 3 steps.

g is ModelEmb with a small custom HarDNet ("tiny": stem 16/24, three blocks of 4 layers,
growth 8/12/16, transitions 32/48/64, max-pool downsampling; stage widths 24, 32, 48, 64 at
strides 2, 4, 8, 16). It has the same module kinds and state-dict layout as HarDNet-85
(3×3 ConvLayers, HarDBlocks with their link pattern, max pools, the full decoder), which
Swift's HarDNetVariant expresses directly, but its backbone is ~40× cheaper, so the test
runs in seconds and the fixture stays small; most of g's parameters are then the decoder's
256-channel CNNBlock, which is the same in every variant.

Weights and running statistics: the hashed fill of fixtures_prompt_generator.py (weights
u/sqrt(fan_in), PyTorch's default kaiming-uniform bound; see its docstring for the rest),
which Tests/NetworkTests/PromptGeneratorParityTests.swift evaluates identically.

Input: fixture_io.analytic_image(2, 3, 256, 256), passed directly as the preprocessed SAM
input (to the encoder and to g). Target: analytic_image(2, 1, 256, 256, phase=3) > 0.3.

The reference is computed in float64 (SAM and g both .double(); Adam on float64) and cast;
the same run in float32 is compared against it and its errors recorded in the meta, as the
scale of what float32 rounding alone does to this computation.

Stored: the loss of each step (float64 run; PyTorch float32's in the meta); every parameter
of g after step 1 ("param1.") and after step 3 ("param."), large tensors sampled; the BN
running statistics after step 3; and per stored element a margin, |dL/dθ + wd·θ| (the
gradient Adam sees, float64) divided by its tensor's largest, at step 1 ("margin1.") and
its minimum over the three steps ("margin3."). Why the margins: Adam's first update is
lr·sign(gradient), so an element whose gradient is within rounding of 0 jumps by ±lr
(±3e-4) one way or the other in any float32 implementation; the meta records PyTorch
float32's own error against float64 restricted to elements above several margins.
Measured (PyTorch 2.13.0+cpu): loss 7e-8 / 2e-4 / 4e-3 relative at steps 1 / 2 / 3; after
step 1, 5e-7 on elements with margin ≥ 1e-2 (1.7e-2 with margin ≥ 1e-3: a sign jump);
after step 3, 3.3e-2 worst tensor overall and still 4e-3 on elements with margin ≥ 1e-2
at every step, since step 1's sign jumps change the network that steps 2 and 3 see.

Usage: python fixtures_train_step.py weights/lite_medsam.pth   (writes train_step.bin)
"""
import sys

import torch

import autosam_g_modules
import sam_modules
from autosam_g_modules import ModelEmb
from fixture_io import analytic_image, write_binary_fixture
from fixtures_prompt_generator import BIAS_BEFORE_TRAIN_BN, fill
from fixtures_sam import bce_dice

# first_ch, grmul, depthwise, growth, layers, transition, downsample
TINY = ((16, 24), 1.7, False, [8, 12, 16], [4, 4, 4], [32, 48, 64], [1, 1, 1])
autosam_g_modules.VARIANTS["tiny"] = TINY

LR, WD, STEPS = 3e-4, 1e-5, 3


def run(checkpoint, dtype):
    sam = sam_modules.lite_medsam(checkpoint)
    with torch.no_grad():  # in float32 (its Fourier features are computed in the buffer's dtype), as Swift does
        pe = sam.prompt_encoder.get_dense_pe().to(dtype)
    sam = sam.to(dtype)
    for p in sam.parameters():
        p.requires_grad_(False)
    g = ModelEmb("tiny")
    fill(g)
    g = g.to(dtype).train()
    x = analytic_image(2, 3, 256, 256).to(dtype)
    gt = (analytic_image(2, 1, 256, 256, phase=3.0) > 0.3).to(dtype)
    with torch.no_grad():
        emb = sam.image_encoder(x)
    sparse = torch.empty(1, 0, 256, dtype=dtype)
    opt = torch.optim.Adam(g.parameters(), lr=LR, weight_decay=WD)
    losses = []
    margin = [torch.full_like(p, float("inf")) for p in g.parameters()]
    gscale = [0.0 for _ in margin]
    after1, margin1 = None, None
    for step in range(STEPS):
        opt.zero_grad()
        z = g(x)
        lo, _ = sam.mask_decoder(image_embeddings=emb, image_pe=pe, sparse_prompt_embeddings=sparse,
                                 dense_prompt_embeddings=z, multimask_output=False)
        loss = bce_dice(lo, gt)
        loss.backward()
        with torch.no_grad():  # the gradient Adam sees: dL/dθ + wd·θ
            for k, p in enumerate(g.parameters()):
                a = (p.grad + WD * p).abs()
                margin[k] = torch.minimum(margin[k], a)
                gscale[k] = max(gscale[k], float(a.max()))
        if step == 0:
            margin1 = [m / s for m, s in zip(margin, gscale)]
        opt.step()
        if step == 0:
            after1 = [p.detach().clone() for p in g.parameters()]
        losses.append(float(loss.detach()))
    return g, losses, after1, margin1, [m / s for m, s in zip(margin, gscale)]


def rel(a, b):
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


def main(checkpoint):
    torch.set_num_threads(1)
    g64, l64, a64, margin, margin3 = run(checkpoint, torch.float64)
    g32, l32, a32, _, _ = run(checkpoint, torch.float32)
    tensors, strides = {}, {}
    for i, l in enumerate(l64):
        tensors[f"loss{i + 1}"] = torch.tensor([l])
    worst_p, per_param = (0.0, ""), {}
    kappas = [1e-5, 1e-4, 1e-3, 1e-2]
    worst_k = {k: (0.0, "") for k in kappas}
    excluded = {k: 0 for k in kappas}
    names = [n for n, _ in g64.named_parameters()]
    for name, p64, p32, m in zip(names, a64, a32, margin):
        tensors["param1." + name] = p64
        tensors["margin1." + name] = m
        strides["param1." + name] = strides["margin1." + name] = max(1, p64.numel() // 2048)
        err = (p32.double() - p64).abs() / p64.abs().max()
        if name in BIAS_BEFORE_TRAIN_BN:
            continue
        for k in kappas:
            ok = m >= k
            excluded[k] += int((~ok).sum())
            ek = float(err[ok].max()) if ok.any() else 0.0
            if ek > worst_k[k][0]:
                worst_k[k] = (ek, name)
    worst3 = (0.0, "")
    worst3_k = {k: (0.0, "") for k in kappas}
    excluded3 = {k: 0 for k in kappas}
    for (name, p64), p32, m in zip(g64.named_parameters(), g32.parameters(), margin3):
        tensors["param." + name] = p64
        tensors["margin3." + name] = m
        strides["param." + name] = strides["margin3." + name] = max(1, p64.numel() // 2048)
        if name not in BIAS_BEFORE_TRAIN_BN:
            err = (p32.detach().double() - p64.detach()).abs() / p64.detach().abs().max()
            for k in kappas:
                ok = m >= k
                excluded3[k] += int((~ok).sum())
                ek = float(err[ok].max()) if ok.any() else 0.0
                if ek > worst3_k[k][0]:
                    worst3_k[k] = (ek, name)
        e = rel(p32, p64)
        per_param[name] = e
        if e > worst_p[0]:
            worst_p = (e, name)
        if name not in BIAS_BEFORE_TRAIN_BN and e > worst3[0]:
            worst3 = (e, name)
    worst_b = (0.0, "")
    for (name, b64), b32 in zip(g64.named_buffers(), g32.buffers()):
        if name.endswith("num_batches_tracked"):
            continue
        tensors["buffer." + name] = b64
        e = rel(b32, b64)
        if e > worst_b[0]:
            worst_b = (e, name)
    meta = {
        "variant": {"first": list(TINY[0]), "grmul": TINY[1], "depthwise": TINY[2], "growth": TINY[3],
                    "layers": TINY[4], "transition": TINY[5], "downsample": TINY[6]},
        "lr": LR, "weight_decay": WD, "steps": STEPS,
        "g_param_names": [n for n, _ in g64.named_parameters()],
        "g_params": sum(p.numel() for p in g64.parameters()),
        "loss_f64": l64, "loss_torch_f32": l32,
        "torch_f32_vs_f64_param_rel": per_param,
        "torch_f32_vs_f64_worst_param": list(worst_p),
        "torch_f32_vs_f64_worst_buffer": list(worst_b),
        "torch_f32_vs_f64_step1_by_margin": {str(k): list(v) + [excluded[k]] for k, v in worst_k.items()},
        "torch_f32_vs_f64_step3_by_margin": {str(k): list(v) + [excluded3[k]] for k, v in worst3_k.items()},
    }
    print("losses f64", l64, "f32", l32)
    print("loss rel", [abs(a - b) / abs(b) for a, b in zip(l32, l64)])
    print("torch f32 vs f64: worst param", worst_p, "worst buffer", worst_b)
    print("params", meta["g_params"])
    for k in kappas:
        print(f"step 1, margin >= {k}: excluded {excluded[k]}, worst f32 {worst_k[k]}")
    print("step 3 worst excluding BN-absorbed biases", worst3)
    for k in kappas:
        print(f"step 3, min over steps of margin >= {k}: excluded {excluded3[k]}, worst f32 {worst3_k[k]}")
    for n, e in sorted(per_param.items(), key=lambda kv: -kv[1])[:12]:
        print(f"  {n}: {e:.3g}")
    print(write_binary_fixture("train_step", tensors, meta, strides))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "weights/lite_medsam.pth")
