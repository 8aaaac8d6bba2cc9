"""Mini-batch throughput: one epoch, 1,000,000 x 32 rows, batch 1024, 32-64-64-1 MLP.

The mlplab figures go through the real training path: ``fit`` chooses its runner (the fused
runner, bitwise equal to the eager step; tests/training/test_fused_minibatch.py) and trains.
"""

from __future__ import annotations

import time
from collections.abc import Callable

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
    from mlplab import threads

    n, bs = (200_000 if quick else 1_000_000), 1024
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, 32, generator=g)
    y = (X[:, :4].sum(1, keepdim=True) > 0).float()
    reps = 3
    with threads.restoring():
        # every variant runs with the thread count mlplab's policy picks for this step size
        n_threads = threads.apply(_model(), bs)
        parts = [f"## Throughput: one epoch over {n:,} x 32 rows, batch {bs}, 32-64-64-1\n\n"
                 f"torch threads: {n_threads} (mlplab's thread policy for this step; every "
                 f"variant runs with it); median of {reps} interleaved runs (DataLoader: 1 run "
                 f"over the first {min(n, 250_000):,} rows, its time scaled to {n:,} rows). "
                 "`mlplab.fit` picks the fused runner by itself (`train.fast: auto`): one "
                 "seeded `randperm` and one row gather per epoch into a reused buffer, then "
                 "per batch autograd's and torch.optim's own kernels with preallocated "
                 "outputs, bitwise the eager runner's weights. Its figure is a whole `fit` "
                 "call: model and optimizer built, one epoch, and `fit`'s end-of-training "
                 "evaluation of the train split (a forward pass over all rows); the "
                 "'fused runner, per epoch' row is the segment call `fit` makes once per "
                 "epoch in a longer run. Goal: >= 8x vs DataLoader, >= 0.9 of pure compute.\n"]
        for name in OPTIMS:
            parts.append(_one(name, X, y, bs, reps))
    return "\n\n".join(parts)


def _one(name: str, X: torch.Tensor, y: torch.Tensor, bs: int, reps: int) -> str:
    from mlplab.config import RunConfig
    from mlplab.models import ModelSpec, build_model
    from mlplab.tasks import resolve_task
    from mlplab.training.loop import DataTensors, eager_runner, fit
    from mlplab.training.runners.select import select_runner

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
                               "train": {"epochs": 1, "batch_size": bs, "early_stopping": None,
                                         "num_threads": torch.get_num_threads()}})
    task = resolve_task("binary", n_classes=2, n_targets=1, loss="auto", output="logits")
    data = DataTensors({"train": X}, {"train": y})
    spec = ModelSpec(32, [64, 64], ["relu", "relu"], 1)

    def mlplab_fit() -> None:
        state = fit(build_model(spec, seed=0), task, data, cfg)
        assert state.runner_name == "fast", state.runner_name

    state = fit(build_model(spec, seed=0), task, data, cfg)
    runner, chosen = select_runner(state)  # what fit runs each segment
    assert chosen == "fast", chosen

    fns: dict[str, Callable[[], None]] = {
        "fit": mlplab_fit, "runner": lambda: runner(state, 1),
        "eager": lambda: eager_runner(state, 1), "compute": compute}
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
        return [label, f"{n / med[key]:,.0f}", f"{med[key]:.3f}",
                f"{b}{med['dl'] / med[key]:.2f}{b}", f"{b}{med['compute'] / med[key]:.2f}{b}"]

    rows = [row("`DataLoader(TensorDataset, shuffle=True)`", "dl"),
            row("mlplab `fit` (fused runner, chosen automatically; + end evaluation)", "fit",
                bold=True),
            row("mlplab fused runner, per epoch (fit's segment call)", "runner", bold=True),
            row("mlplab eager runner, per epoch (autograd + foreach torch.optim)", "eager"),
            row("pure compute (same steps on pre-sliced tensors, torch.optim default)",
                "compute")]
    if "fused" in med:
        rows.append(row("pure compute with `torch.optim.Adam(fused=True)`", "fused"))
    return (f"### {name}\n\n" + md_table(["variant", "rows/s", "seconds",
                                           "speed-up vs DataLoader",
                                           "fraction of pure compute speed"], rows))
