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


OPTIMS = {"sgd": (torch.optim.SGD, 0.05), "adam": (torch.optim.Adam, 1e-3)}


def _opt(name: str, model: nn.Module, **kw: object) -> torch.optim.Optimizer:
    cls, lr = OPTIMS[name]
    return cls(model.parameters(), lr=lr, **kw)  # type: ignore[arg-type]


def run(quick: bool) -> str:
    n, bs = (200_000 if quick else 1_000_000), 1024
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, 32, generator=g)
    y = (X[:, :4].sum(1, keepdim=True) > 0).float()
    reps = 2 if quick else 3
    parts = [f"## Throughput: one epoch over {n:,} x 32 rows, batch {bs}, 32-64-64-1\n\n"
             f"torch threads: {torch.get_num_threads()}; median of {reps} (DataLoader: 1 run "
             f"over the first {min(n, 250_000):,} rows, its time scaled to {n:,} rows). mlplab "
             "shuffles with one `index_select` per epoch and steps with multi-tensor "
             "(`foreach`) torch.optim kernels (bitwise the per-parameter loop's weights). "
             "Goal: >= 8x vs DataLoader, within 10% of pure compute (fraction >= 0.9).\n"]
    for name in OPTIMS:
        parts.append(_one(name, X, y, bs, reps))
    return "\n\n".join(parts)


def _one(name: str, X: torch.Tensor, y: torch.Tensor, bs: int, reps: int) -> str:
    from mlplab.config import RunConfig
    from mlplab.models import ModelSpec, build_model
    from mlplab.tasks import resolve_task
    from mlplab.training.loop import DataTensors, eager_runner, fit

    n = len(X)
    g = torch.Generator().manual_seed(1)
    loss_fn = nn.BCEWithLogitsLoss()
    n_dl = min(n, 250_000)  # the DataLoader pays per row: rows/s does not depend on n

    def dataloader() -> None:
        model = _model()
        opt = _opt(name, model)
        for xb, yb in DataLoader(TensorDataset(X[:n_dl], y[:n_dl]), batch_size=bs,
                                 shuffle=True):
            _step(model, opt, loss_fn, xb, yb)

    perm = torch.randperm(n, generator=g)
    pre = [(X[i], y[i]) for i in perm.split(bs)]  # pre-sliced batches: pure compute

    def compute(**kw: object) -> None:
        model = _model()
        opt = _opt(name, model, **kw)
        for xb, yb in pre:
            _step(model, opt, loss_fn, xb, yb)

    cfg = RunConfig.from_dict({"optim": {"name": name, "lr": OPTIMS[name][1]},
                               "train": {"epochs": 1, "batch_size": bs}})
    task = resolve_task("binary", n_classes=2, n_targets=1, loss="auto", output="logits")
    state = fit(build_model(ModelSpec(32, [64, 64], ["relu", "relu"], 1), seed=0), task,
                DataTensors({"train": X[:4096]}, {"train": y[:4096]}), cfg)
    state.data = DataTensors({"train": X}, {"train": y})

    def mlplab_epoch() -> None:
        eager_runner(state, 1)  # mlplab's epoch: one shuffle, index slices, the shared step

    fns = {"mlplab": mlplab_epoch, "compute": compute}
    if name == "adam":
        fns["fused"] = lambda: compute(fused=True)
    times: dict[str, list[float]] = {k: [] for k in [*fns, "dl"]}
    for r in range(reps + 1):  # first round is a warm-up
        for key, fn in fns.items():
            t = time.perf_counter()
            fn()
            if r:
                times[key].append(time.perf_counter() - t)
        if r in (0, 1):  # the DataLoader epoch is slow: one timed run
            t = time.perf_counter()
            dataloader()
            if r:
                times["dl"].append(time.perf_counter() - t)
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    med["dl"] *= n / n_dl  # the same number of rows as the others

    def row(label: str, key: str, bold: bool = False) -> list[str]:
        b = "**" if bold else ""
        return [label, f"{n / med[key]:,.0f}", f"{med[key]:.2f}",
                f"{b}{med['dl'] / med[key]:.2f}{b}", f"{b}{med['compute'] / med[key]:.2f}{b}"]

    rows = [row("`DataLoader(TensorDataset, shuffle=True)`", "dl"),
            row("mlplab (shuffle once per epoch, index slices, the shared step)", "mlplab",
                bold=True),
            row("pure compute (same steps on pre-sliced tensors, torch.optim default)",
                "compute")]
    if "fused" in med:
        rows.append(row("pure compute with `torch.optim.Adam(fused=True)`", "fused"))
    return (f"### {name}\n\n" + md_table(["variant", "rows/s", "seconds",
                                           "speed-up vs DataLoader",
                                           "fraction of pure compute speed"], rows))
