"""Adam parity: torch.optim.Adam (lr 3e-4, weight decay 1e-5) for 5 steps on fixed gradients."""
import torch

from fixture_io import write_fixture


def main():
    g = torch.Generator().manual_seed(11)
    p0 = torch.randn(37, generator=g)
    grads = [torch.randn(37, generator=g) * (0.1 + i) for i in range(5)]
    p = torch.nn.Parameter(p0.clone())
    opt = torch.optim.Adam([p], lr=3e-4, weight_decay=1e-5)
    out = {"p0": p0}
    for i, gr in enumerate(grads):
        p.grad = gr.clone()
        opt.step()
        out[f"g{i}"] = gr
        out[f"p{i + 1}"] = p.detach().clone()
    write_fixture("adam", out, meta={"steps": 5})


if __name__ == "__main__":
    main()
