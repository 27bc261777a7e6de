"""SyncBatchNorm parity: BatchNorm2d in train mode over a whole batch, the reference that
SyncBatchNorm over the batch's shards must reproduce (forward, running statistics, backward).

Writes Tests/NetworkTests/Fixtures/sync_batchnorm.json. Computed in float64 and stored as
float32; the Swift test splits the batch into shards (uneven, and with an empty shard) and
runs SyncBatchNorm2D over them with the statistics summed between replicas.
"""
import torch

from fixture_io import seeded, write_fixture


def main():
    g = seeded(1509)
    n, c, h, w = 5, 6, 4, 3
    x = (torch.randn(n, c, h, w, generator=g, dtype=torch.float64) * 1.7 + 0.4).to(torch.float32)
    dy = torch.randn(n, c, h, w, generator=g, dtype=torch.float64).to(torch.float32)
    gamma = (torch.rand(c, generator=g, dtype=torch.float64) + 0.5).to(torch.float32)
    beta = torch.randn(c, generator=g, dtype=torch.float64).to(torch.float32)
    mean0 = (torch.randn(c, generator=g, dtype=torch.float64) * 0.1).to(torch.float32)
    var0 = (torch.rand(c, generator=g, dtype=torch.float64) + 0.5).to(torch.float32)

    bn = torch.nn.BatchNorm2d(c, eps=1e-5, momentum=0.1).double().train()
    with torch.no_grad():
        bn.weight.copy_(gamma.double())
        bn.bias.copy_(beta.double())
        bn.running_mean.copy_(mean0.double())
        bn.running_var.copy_(var0.double())
    xd = x.double().requires_grad_(True)
    y = bn(xd)
    y.backward(dy.double())
    write_fixture("sync_batchnorm", {
        "x": x, "dy": dy, "gamma": gamma, "beta": beta,
        "running_mean_before": mean0, "running_var_before": var0,
        "y": y, "dx": xd.grad, "dgamma": bn.weight.grad, "dbeta": bn.bias.grad,
        "running_mean": bn.running_mean, "running_var": bn.running_var,
    }, meta={"torch": torch.__version__, "eps": 1e-5, "momentum": 0.1})


if __name__ == "__main__":
    main()
