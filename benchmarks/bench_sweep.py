"""64 configurations of `circles-relu`: one `mlplab.sweep` vs loops of single fits."""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from benchmarks._timing import md_table, tutorial_loop

LRS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0]


def _tutorial_fit(X: torch.Tensor, y: torch.Tensor, lr: float, epochs: int, seed: int) -> float:
    """The tutorial's loop for one config: 2-10-10-1 ReLU, BCEWithLogitsLoss, SGD."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 10), nn.ReLU(), nn.Linear(10, 10), nn.ReLU(),
                          nn.Linear(10, 1))
    return tutorial_loop(model, nn.BCEWithLogitsLoss(), X, y, lr, epochs)


def _sklearn_fit(X: np.ndarray, y: np.ndarray, lr: float, epochs: int, seed: int) -> float:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=(10, 10), solver="sgd", learning_rate_init=lr,
                        momentum=0.0, alpha=0.0, batch_size=len(X), max_iter=epochs, tol=0.0,
                        n_iter_no_change=epochs + 1, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    return float(clf.loss_)


def run(quick: bool) -> str:
    import mlplab
    from mlplab.api import prepare
    from mlplab.config import RunConfig, with_overrides
    from mlplab.recipes import load_recipe

    seeds = range(2 if quick else 8)
    lrs = LRS[:4] if quick else LRS
    epochs = 300 if quick else 1000
    base = with_overrides(RunConfig.from_dict(load_recipe("circles-relu")),
                          {"train.epochs": epochs, "log.quiet": True,
                           "data.val_size": 0.2})  # the sweep ranks on it; the loops share it
    grid = {"optim.lr": lrs, "seed": list(seeds)}
    n = len(lrs) * len(seeds)
    mlplab.sweep(with_overrides(base, {"train.epochs": 5}), grid={"seed": [0]})  # warm-up
    t = time.perf_counter()
    res = mlplab.sweep(base, grid=grid)
    t_sweep = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as d:  # the same sweep, saved as the CLI saves it
        t = time.perf_counter()
        mlplab.sweep(with_overrides(base, {"log.plots": False}), grid=grid,
                     out=Path(d) / "dirs")  # every member's run directory, no figure
        t_dirs = time.perf_counter() - t
        t = time.perf_counter()
        mlplab.sweep(base, grid=grid, out=Path(d) / "sweep")
        t_saved = time.perf_counter() - t
    data = {s: prepare(with_overrides(base, {"seed": s})) for s in seeds}  # same data/splits
    t = time.perf_counter()
    for s in seeds:
        X = torch.as_tensor(data[s].X["train"])
        y = torch.as_tensor(data[s].y["train"], dtype=torch.float32).reshape(-1, 1)
        for lr in lrs:
            _tutorial_fit(X, y, lr, epochs, s)
    t_torch = time.perf_counter() - t
    t = time.perf_counter()
    for s in seeds:
        for lr in lrs:
            _sklearn_fit(data[s].X["train"], data[s].y["train"], lr, epochs, s)
    t_sk = time.perf_counter() - t
    train_s = sum(r.info["seconds"] for r in res.runs)  # batched training time, all members
    best = res.best
    rows = [["Python loop of the tutorial's eager training", f"{t_torch:.2f}", "1.00",
             f"{t_sk / t_torch:.2f}"],
            ["loop of scikit-learn MLPClassifier fits (sgd, full batch)", f"{t_sk:.2f}",
             f"{t_torch / t_sk:.2f}", "1.00"],
            ["`mlplab.sweep` (data, batched training, metrics of every member)",
             f"{t_sweep:.2f}", f"**{t_torch / t_sweep:.2f}**", f"**{t_sk / t_sweep:.2f}**"],
            ["  of which batched training", f"{train_s:.2f}", f"{t_torch / train_s:.2f}",
             f"{t_sk / train_s:.2f}"],
            ["`mlplab.sweep(out=DIR)` with `log.plots=false`: the same, plus every member's "
             "run directory and the summary", f"{t_dirs:.2f}",
             f"**{t_torch / t_dirs:.2f}**", f"**{t_sk / t_dirs:.2f}**"],
            ["`mlplab.sweep(out=DIR)`: the same, plus the grid of 64 boundaries "
             "(boundaries.png, matplotlib)", f"{t_saved:.2f}",
             f"{t_torch / t_saved:.2f}", f"{t_sk / t_saved:.2f}"]]
    return (f"## Sweep: {n} configurations of `circles-relu` ({len(lrs)} learning rates x "
            f"{len(seeds)} seeds, {epochs} epochs each, 2-10-10-1, 600 train points)\n\n"
            "One run of each (each is long); the loops exclude data generation, the sweep "
            f"includes it. Best mean validation accuracy over seeds: {best.mean:.3f} "
            f"(lr {best.params['optim.lr']}; its test accuracy "
            f"{best.test['test_accuracy']:.3f}). Goal: >= 20x vs both.\n\n"
            + md_table(["variant", "seconds", "speed-up vs torch loop",
                        "speed-up vs sklearn loop"], rows))
