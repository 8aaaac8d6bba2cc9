"""What "equal" means in mlplab (issue 19 item 10), each claim checked.

- **Bitwise equal** (``torch.equal``): the same operations in the same order. A rerun with the
  same seed; a run killed and resumed vs uninterrupted (tests/test_resume.py, with early
  stopping and a schedule; tests/test_torchrun_failures.py under torchrun with 2 ranks);
  fused vs eager runners where tests/training/test_conformance.py says so.
- **Equal to rounding**: the same mathematics in a different order. DDP on W ranks vs one
  process: each rank sums the gradient over its rows and the all-reduce adds the W partial
  sums, while one process sums all rows in one matrix product. Float addition is not
  associative, so the gradients differ in the last bits (about 1e-7 relative in float32), and
  training compounds the difference: it stays at rounding level for a few epochs and grows
  over hundreds of epochs, as any perturbation of SGD does. The same holds for a sweep member
  trained stacked with others vs alone (batched matrix products sum in another order).

The second kind is shown here with plain PyTorch, with DDP's exact arithmetic (two strided
shards, partial sums added), so the claim does not depend on mlplab's code.
"""

from __future__ import annotations

import torch
from torch import nn

import mlplab


def _grads(net: nn.Module, X: torch.Tensor, y: torch.Tensor, shards: int) -> list[torch.Tensor]:
    """The mean-loss gradient as DDP computes it on ``shards`` ranks (1: one process)."""
    total = [torch.zeros_like(p) for p in net.parameters()]
    for r in range(shards):
        net.zero_grad()
        xb, yb = X[r::shards], y[r::shards]
        loss = nn.functional.binary_cross_entropy_with_logits(net(xb)[:, 0], yb,
                                                              reduction="sum") / len(X)
        loss.backward()
        for t, p in zip(total, net.parameters(), strict=True):
            t += p.grad  # the all-reduce: partial sums added
    return total


def _train(shards: int, epochs: int) -> nn.Module:
    g = torch.Generator().manual_seed(0)
    X = torch.randn(256, 2, generator=g)
    y = (X[:, 0] * X[:, 1] > 0).float()
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    for _ in range(epochs):
        for idx in torch.randperm(256, generator=g).split(64):
            grads = _grads(net, X[idx], y[idx], shards)
            for p, gr in zip(net.parameters(), grads, strict=True):
                p.grad = gr
            opt.step()
    return net


def _max_diff(a: nn.Module, b: nn.Module) -> float:
    pairs = zip(a.parameters(), b.parameters(), strict=True)
    return max(float((p - q).detach().abs().max()) for p, q in pairs)


def test_same_arithmetic_in_the_same_order_is_bitwise_equal() -> None:
    assert _max_diff(_train(2, 3), _train(2, 3)) == 0.0
    cfg = {"data": {"source": "moons", "n_samples": 200}, "model": {"hidden": [8]},
           "train": {"epochs": 30, "batch_size": 32}, "log": {"quiet": True, "plots": False}}
    a, b = mlplab.train(cfg, save=False), mlplab.train(cfg, save=False)
    for k, v in a.model.state_dict().items():
        assert torch.equal(b.model.state_dict()[k], v), k


def test_two_shards_vs_one_differ_by_rounding_that_training_compounds() -> None:
    """One step: the gradients agree to float32 rounding. After 1 epoch the weights agree to
    about 1e-6; after 100 epochs the difference has grown by orders of magnitude."""
    g = torch.Generator().manual_seed(1)
    X, y = torch.randn(64, 2, generator=g), (torch.rand(64, generator=g) > 0.5).float()
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    for a, b in zip(_grads(net, X, y, 1), _grads(net, X, y, 2), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
    short = _max_diff(_train(1, 1), _train(2, 1))
    long = _max_diff(_train(1, 100), _train(2, 100))
    assert short < 1e-5
    assert long > 10 * short
