"""Mini-batch throughput: one epoch, 1,000,000 x 32 rows, batch 1024, 32-64-64-1 MLP."""

from __future__ import annotations

import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from benchmarks._timing import md_table


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                         nn.Linear(64, 1))


def _step(model: nn.Module, opt: torch.optim.Optimizer, loss_fn: nn.Module,
          xb: torch.Tensor, yb: torch.Tensor) -> None:
    loss = loss_fn(model(xb), yb)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def run(quick: bool) -> str:
    from mlplab.config import RunConfig
    from mlplab.models import ModelSpec, build_model
    from mlplab.tasks import resolve_task
    from mlplab.training.loop import DataTensors, eager_runner, fit

    n, bs = (200_000 if quick else 1_000_000), 1024
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, 32, generator=g)
    y = (X[:, :4].sum(1, keepdim=True) > 0).float()
    loss_fn = nn.BCEWithLogitsLoss()

    n_dl = min(n, 250_000)  # the DataLoader pays per row: rows/s does not depend on n

    def dataloader() -> None:
        model = _model()
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        for xb, yb in DataLoader(TensorDataset(X[:n_dl], y[:n_dl]), batch_size=bs,
                                 shuffle=True):
            _step(model, opt, loss_fn, xb, yb)

    perm = torch.randperm(n, generator=g)
    pre = [(X[i], y[i]) for i in perm.split(bs)]  # pre-sliced batches: pure compute

    def compute() -> None:
        model = _model()
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        for xb, yb in pre:
            _step(model, opt, loss_fn, xb, yb)

    cfg = RunConfig.from_dict({"optim": {"name": "sgd", "lr": 0.05},
                               "train": {"epochs": 1, "batch_size": bs}})
    task = resolve_task("binary", n_classes=2, n_targets=1, loss="auto", output="logits")
    state = fit(build_model(ModelSpec(32, [64, 64], ["relu", "relu"], 1), seed=0), task,
                DataTensors({"train": X[:4096]}, {"train": y[:4096]}), cfg)
    state.data = DataTensors({"train": X}, {"train": y})

    def mlplab_epoch() -> None:
        eager_runner(state, 1)  # mlplab's epoch: randperm once, index slices, step

    times: dict[str, list[float]] = {"dl": [], "mlplab": [], "compute": []}
    reps = 2 if quick else 3
    for r in range(reps + 1):  # first round is a warm-up
        for name, fn in (("mlplab", mlplab_epoch), ("compute", compute)):
            t = time.perf_counter()
            fn()
            if r:
                times[name].append(time.perf_counter() - t)
        if r in (0, 1):  # the DataLoader epoch is slow: one timed run
            t = time.perf_counter()
            dataloader()
            if r:
                times["dl"].append(time.perf_counter() - t)
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    med["dl"] *= n / n_dl  # the same number of rows as the others
    rows = [["`DataLoader(TensorDataset, shuffle=True)`", f"{n / med['dl']:,.0f}",
             f"{med['dl']:.2f}", "1.00", f"{med['compute'] / med['dl']:.2f}"],
            ["mlplab (randperm once, index slices)", f"{n / med['mlplab']:,.0f}",
             f"{med['mlplab']:.2f}", f"**{med['dl'] / med['mlplab']:.2f}**",
             f"**{med['compute'] / med['mlplab']:.2f}**"],
            ["pure compute (same steps on pre-sliced tensors)", f"{n / med['compute']:,.0f}",
             f"{med['compute']:.2f}", f"{med['dl'] / med['compute']:.2f}", "1.00"]]
    return (f"## Throughput: one epoch over {n:,} x 32 rows, batch {bs}, 32-64-64-1, SGD\n\n"
            f"torch threads: {torch.get_num_threads()}; median of {reps} (DataLoader: 1 run over "
            f"the first {n_dl:,} rows, its time scaled to {n:,} rows). "
            "Goal: >= 8x vs DataLoader, within 10% of pure compute (fraction >= 0.91).\n\n"
            + md_table(["variant", "rows/s", "seconds", "speed-up vs DataLoader",
                        "fraction of pure compute speed"], rows))
