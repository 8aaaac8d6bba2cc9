"""Many configurations at once: grids, random search and Optuna, on top of the ensembles.

Keys are RunConfig dotted paths (``optim.lr``, ``model.hidden``, ``seed``). Configurations
that share shapes and code path train as one batched stack; the rest train
alone with :func:`mlplab.train`. Each member is a normal :class:`~mlplab.runs.run.Run`.

Example
-------
>>> res = sweep({"data": {"source": "moons", "n_samples": 200}, "train": {"epochs": 100},
...              "optim": {"name": "sgd"}, "log": {"quiet": True}},
...             grid={"optim.lr": [0.1, 0.5], "seed": range(2)})
>>> len(res.table), res.metric, res.n_batched
(4, 'test_accuracy', 4)
>>> list(res.summary()["optim.lr"])
[0.1, 0.5]
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlplab.config import RunConfig, with_overrides
from mlplab.errors import ConfigError

if TYPE_CHECKING:
    import optuna
    import pandas as pd

    from mlplab.api import Prepared
    from mlplab.runs.run import Run

MAX_GROUP = 256  # members per ensemble; beyond this the batched matmuls stop gaining
LOWER_IS_BETTER = ("loss", "log_loss", "mae", "rmse")


@dataclass
class SweepResult:
    """The members of a sweep: their configs, runs and one row of metrics each."""

    params: list[dict[str, Any]]  # the swept values per member (dotted path -> value)
    configs: list[RunConfig]
    runs: list[Run]
    metric: str  # e.g. "test_accuracy"; the table's ranking column
    seconds: float = 0.0
    n_batched: int = 0  # members trained inside ensembles
    paths: list[Path | None] = field(default_factory=list)

    @property
    def higher_is_better(self) -> bool:
        return not self.metric.endswith(LOWER_IS_BETTER)

    @property
    def table(self) -> pd.DataFrame:
        """One row per member: swept values, final metrics per split, runner, run dir."""
        import pandas as pd

        rows = []
        for k, (p, r) in enumerate(zip(self.params, self.runs, strict=True)):
            row: dict[str, Any] = {"member": k, **{key: _cell(v) for key, v in p.items()}}
            for split in ("train", "val", "test"):
                for name, v in (r.metrics.get(split) or {}).items():
                    if isinstance(v, int | float) and name != "n":
                        row[f"{split}_{name}"] = v
            row["runner"] = r.info.get("runner")
            row["stop_reason"] = r.info.get("stop_reason")
            row["path"] = str(self.paths[k]) if k < len(self.paths) and self.paths[k] else ""
            rows.append(row)
        return pd.DataFrame(rows)

    def ranked(self) -> pd.DataFrame:
        """The table, best member first."""
        return self.table.sort_values(self.metric, ascending=not self.higher_is_better,
                                      kind="stable")

    def summary(self) -> pd.DataFrame:
        """Mean, spread (std) and count of the metric over seeds, per other setting."""
        t = self.table
        keys = [k for k in (self.params[0] if self.params else {}) if k != "seed"]
        if not keys:
            keys = ["_all"]
            t = t.assign(_all="all")
        g = t.groupby(keys, sort=True, dropna=False)[self.metric]
        return g.agg(["mean", "std", "count"]).reset_index()

    @property
    def best(self) -> Run:
        return self.runs[int(self.ranked()["member"].iloc[0])]


def _cell(v: Any) -> Any:
    return json.dumps(v) if isinstance(v, list | tuple | dict) else v


# --- spaces -------------------------------------------------------------------------------


def expand_grid(grid: Mapping[str, Iterable[Any]]) -> list[dict[str, Any]]:
    """All combinations of a grid, in order (the last key varies fastest).

    >>> expand_grid({"optim.lr": [0.1, 1.0], "seed": range(2)})
    [{'optim.lr': 0.1, 'seed': 0}, {'optim.lr': 0.1, 'seed': 1}, {'optim.lr': 1.0, 'seed': 0}, {'optim.lr': 1.0, 'seed': 1}]
    """  # noqa: E501
    keys = list(grid)
    values = [list(grid[k]) for k in keys]
    for k, v in zip(keys, values, strict=True):
        if not v:
            raise ConfigError(f"sweep grid entry '{k}' has no values")
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]


def sample_space(space: Mapping[str, Any], n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` random draws: a list is a choice; ``{low, high, log}`` a range (int if both are).

    >>> draws = sample_space({"optim.lr": {"low": 0.01, "high": 1, "log": True},
    ...                       "seed": [0, 1]}, 3)
    >>> [(round(d["optim.lr"], 4), d["seed"]) for d in draws]
    [(0.1879, 1), (0.0121, 0), (0.0108, 0)]
    """
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n):
        d: dict[str, Any] = {}
        for key, spec in space.items():
            if isinstance(spec, Mapping):
                lo, hi, log = _range(key, spec)
                if isinstance(lo, int) and isinstance(hi, int) and not log:
                    d[key] = int(rng.integers(lo, hi + 1))
                else:
                    u = rng.uniform(math.log(lo), math.log(hi)) if log else rng.uniform(lo, hi)
                    d[key] = float(math.exp(u) if log else u)
                    if isinstance(lo, int) and isinstance(hi, int):  # log-uniform integers
                        d[key] = round(d[key])
            else:
                choices = list(spec)
                d[key] = choices[int(rng.integers(len(choices)))]
        draws.append(d)
    return draws


def _range(key: str, spec: Mapping[str, Any]) -> tuple[Any, Any, bool]:
    if "low" not in spec or "high" not in spec:
        raise ConfigError(f"bad search space entry '{key}'",
                          expected="a list of choices or {low, high, log}", found=str(spec))
    return spec["low"], spec["high"], bool(spec.get("log", False))


# --- running members ----------------------------------------------------------------------


def default_metric(cfg: RunConfig, task_name: str) -> str:
    split = "val" if cfg.data.val_size > 0 else "test" if cfg.data.test_size > 0 else "train"
    return f"{split}_{'r2' if task_name == 'regression' else 'accuracy'}"


def run_configs(configs: list[RunConfig], preps: list[Prepared] | None = None, *,
                on_eval: Any = None) -> tuple[list[Run], int]:
    """Train configs, batching same-shaped ones; returns (runs in order, number batched)."""
    from mlplab.api import prepare, train
    from mlplab.training.runners.stacked import group_key, train_members, why_not_batched

    preps = preps if preps is not None else [prepare(c) for c in configs]
    groups: dict[str, list[int]] = {}
    solo: list[int] = []
    for i, (c, p) in enumerate(zip(configs, preps, strict=True)):
        if why_not_batched(c) is None:
            groups.setdefault(group_key(c, p), []).append(i)
        else:
            solo.append(i)
    runs: list[Run | None] = [None] * len(configs)
    n_batched = 0
    for idx in groups.values():
        for s in range(0, len(idx), MAX_GROUP):
            part = idx[s:s + MAX_GROUP]
            hook = None if on_eval is None else \
                (lambda e, rows, tr, part=part: on_eval(part, e, rows, tr))
            for i, r in zip(part, train_members([configs[i] for i in part],
                                                [preps[i] for i in part], on_eval=hook),
                            strict=True):
                runs[i] = r
            n_batched += len(part)
    for i in solo:
        runs[i] = train(configs[i], save=False, progress=False)
    return [r for r in runs if r is not None], n_batched


def sweep(config: RunConfig | dict[str, Any] | str | Path | None = None, *,
          grid: Mapping[str, Iterable[Any]] | None = None,
          space: Mapping[str, Any] | None = None, n_random: int | None = None,
          metric: str | None = None, out: str | Path | None = None, seed: int = 0,
          overwrite: bool = False) -> SweepResult:
    """Train every configuration of a grid (or ``n_random`` draws from ``space``).

    Parameters
    ----------
    config : the base RunConfig (dict, file path, ...); swept keys override it.
    grid : dotted path -> values; all combinations are trained.
    space, n_random : random search instead: see :func:`sample_space`.
    metric : ranking column of :attr:`SweepResult.table`, e.g. ``"test_f1"``; default the
        validation (else test) accuracy, or R² for regression.
    out : if given, every member is saved as a run directory ``out/<k>-<name>`` and the
        summary as ``out/summary.csv`` (see :func:`save_sweep`).
    """
    from mlplab.api import prepare

    base = RunConfig.from_any(config)
    if grid is not None and space is not None:
        raise ConfigError("give a grid or a random space, not both")
    if space is not None:
        params = sample_space(space, n_random or 10, seed)
    else:
        params = expand_grid(grid or {"seed": [base.seed]})
    configs = [with_overrides(base, {"name": f"{base.name}-{k:03d}", "log.quiet": True, **p})
               for k, p in enumerate(params)]
    t0 = time.perf_counter()
    preps = [prepare(c) for c in configs]
    runs, n_batched = run_configs(configs, preps)
    res = SweepResult(params, configs, runs, metric or default_metric(base, runs[0].task.name),
                      time.perf_counter() - t0, n_batched)
    if res.metric not in res.table.columns:
        raise ConfigError(f"unknown sweep metric '{res.metric}'",
                          expected="one of " + ", ".join(
                              c for c in res.table.columns if c.startswith(("train", "val",
                                                                            "test"))))
    if out is not None:
        save_sweep(res, Path(out), overwrite=overwrite, preps=preps)
    return res


def save_sweep(res: SweepResult, out: Path, *, overwrite: bool = False,
               preps: list[Prepared] | None = None) -> None:
    """Write each member's run directory, ``summary.csv``, ``seeds.csv`` and a boundary grid."""
    from mlplab.runs.store import atomic_write_text

    out.mkdir(parents=True, exist_ok=True)
    res.paths = [r.save(out / f"{k:03d}-{r.config.name}", overwrite=overwrite)
                 for k, r in enumerate(res.runs)]
    atomic_write_text(out / "summary.csv", res.ranked().to_csv(index=False))
    atomic_write_text(out / "seeds.csv", res.summary().to_csv(index=False))
    if preps is not None and preps[0].n_features == 2:
        boundary_grid(res, preps, out / "boundaries.png")


def boundary_grid(res: SweepResult, preps: list[Prepared], path: Path, limit: int = 64) -> None:
    """One small panel per member (2-feature data): P(class 1) or the predicted class over
    the preprocessed input plane, with the member's test points; ranked best first."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    order = list(res.ranked()["member"])[:limit]
    cols = min(8, len(order))
    rows = math.ceil(len(order) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.8 * cols, 1.9 * rows), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, k in zip(axes.flat, order, strict=False):
        run, p = res.runs[k], preps[k]
        X = np.concatenate([p.X[s] for s in ("train", "test") if len(p.X[s])])
        lo, hi = X.min(0) - 0.3, X.max(0) + 0.3
        gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 80), np.linspace(lo[1], hi[1], 80))
        grid = torch.as_tensor(np.c_[gx.ravel(), gy.ravel()], dtype=torch.float32)
        with torch.inference_mode():
            out = run.task.proba(run.model.eval()(grid)).numpy()
        z = out[:, 1] if out.shape[1] == 2 else out.argmax(1) if run.task.is_classification \
            else out[:, 0]
        ax.imshow(z.reshape(80, 80), origin="lower", extent=(lo[0], hi[0], lo[1], hi[1]),
                  aspect="auto", cmap="RdBu_r", alpha=0.8)
        Xt, yt = (p.X["test"], p.y["test"]) if len(p.X["test"]) else (p.X["train"], p.y["train"])
        ax.scatter(Xt[:, 0], Xt[:, 1], c=np.asarray(yt).reshape(len(Xt), -1)[:, 0], s=3,
                   cmap="RdBu_r", edgecolors="none")
        label = ", ".join(f"{key.split('.')[-1]}={_cell(v)}" for key, v in res.params[k].items())
        ax.set_title(f"{label}\n{res.metric} {res.table[res.metric][k]:.3f}", fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- Optuna -------------------------------------------------------------------------------


def optuna_storage(storage: str | Path | None, default_dir: Path) -> Any:
    """A journal file by default (``default_dir/optuna.journal``), or any Optuna URL."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    if storage is None:
        default_dir.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(
            JournalFileBackend(str(default_dir / "optuna.journal")))
    s = str(storage)
    if "://" in s:
        return s  # sqlite:///..., postgresql://..., mysql://...
    Path(s).parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(s))


def suggest(trial: optuna.Trial, space: Mapping[str, Any]) -> dict[str, Any]:
    """One point of ``space`` (the :func:`sample_space` format) from an Optuna trial."""
    d: dict[str, Any] = {}
    for key, spec in space.items():
        if isinstance(spec, Mapping):
            lo, hi, log = _range(key, spec)
            if isinstance(lo, int) and isinstance(hi, int):
                d[key] = trial.suggest_int(key, lo, hi, log=log)
            else:
                d[key] = trial.suggest_float(key, float(lo), float(hi), log=log)
        else:
            choices = [json.dumps(c) for c in spec]  # lists (hidden sizes) as JSON strings
            d[key] = json.loads(trial.suggest_categorical(key, choices))
    return d


def optuna_sweep(config: RunConfig | dict[str, Any] | str | Path | None, space: Mapping[str, Any],
                 n_trials: int, *, storage: str | Path | None = None,
                 study_name: str = "mlplab", metric: str | None = None, batch: int = 8,
                 prune: bool = True, out: str | Path | None = None) -> SweepResult:
    """Optuna search: ``batch`` trials at a time train as one ensemble, with pruning.

    Several processes (or machines, with a database URL) may run this with the same
    ``storage`` and ``study_name``: they share one study. Pruned members are frozen in their
    ensemble and told to Optuna as pruned.
    """
    import optuna

    from mlplab.api import prepare

    base = RunConfig.from_any(config)
    out_dir = Path(out) if out is not None else Path("runs") / f"sweep-{study_name}"
    metric = metric or default_metric(base, prepare(base).task.name)
    higher = not metric.endswith(LOWER_IS_BETTER)
    study = optuna.create_study(
        storage=optuna_storage(storage, out_dir), study_name=study_name, load_if_exists=True,
        direction="maximize" if higher else "minimize",
        pruner=optuna.pruners.MedianPruner(n_warmup_steps=0) if prune
        else optuna.pruners.NopPruner())
    all_params, all_cfgs, all_runs, n_batched = [], [], [], 0
    t0 = time.perf_counter()
    done = 0
    while done < n_trials:
        trials = [study.ask() for _ in range(min(batch, n_trials - done))]
        params = [suggest(t, space) for t in trials]
        cfgs = [with_overrides(base, {"name": f"{base.name}-t{t.number:04d}", "log.quiet": True,
                                      **p}) for t, p in zip(trials, params, strict=True)]
        pruned: set[int] = set()

        def report(part: list[int], epoch: int, rows: list[dict[str, Any]], trainer: Any,
                   trials: list[Any] = trials, pruned: set[int] = pruned) -> None:
            for j, row in zip(part, rows, strict=True):
                if j in pruned or metric not in row:
                    continue
                trials[j].report(row[metric], step=epoch)
                if prune and trials[j].should_prune():
                    pruned.add(j)
                    trainer.active[part.index(j)] = 0.0

        runs, nb = run_configs(cfgs, on_eval=report)
        for j, (t, r) in enumerate(zip(trials, runs, strict=True)):
            value = r.metrics.get(metric.split("_", 1)[0], {}).get(metric.split("_", 1)[1])
            if j in pruned:
                study.tell(t, state=optuna.trial.TrialState.PRUNED)
            elif value is None or not math.isfinite(value):
                study.tell(t, state=optuna.trial.TrialState.FAIL)
            else:
                study.tell(t, value)
        all_params += params
        all_cfgs += cfgs
        all_runs += runs
        n_batched += nb
        done += len(trials)
    res = SweepResult(all_params, all_cfgs, all_runs, metric, time.perf_counter() - t0,
                      n_batched)
    if out is not None:
        save_sweep(res, out_dir)
    return res


__all__ = ["SweepResult", "expand_grid", "optuna_sweep", "run_configs", "sample_space",
           "save_sweep", "sweep"]
