"""Many configurations at once: grids and random search, on top of the ensembles.

Keys are RunConfig dotted paths (``optim.lr``, ``model.hidden``, ``seed``). Configurations
that share shapes and code path train as one batched stack; the rest train alone with
:func:`mlplab.train`. Each member is a normal :class:`~mlplab.runs.run.Run`. Members are ranked
on a validation split (added when the base config has none), never on the test split; see
:mod:`mlplab.search.results`. Optuna searches are in :mod:`mlplab.search.study`.

Example
-------
>>> res = sweep({"data": {"source": "moons", "n_samples": 200}, "train": {"epochs": 100},
...              "optim": {"name": "sgd"}}, grid={"optim.lr": [0.1, 0.5], "seed": range(2)})
>>> len(res.table), res.metric, res.n_batched
(4, 'val_accuracy', 4)
>>> list(res.summary()["optim.lr"]), res.best.params, res.best.count
([0.5, 0.1], {'optim.lr': 0.5}, 2)
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlplab.config import RunConfig, with_overrides
from mlplab.errors import ConfigError, TrainingError
from mlplab.runs.store import one_sync
from mlplab.search.results import (
    SweepResult,
    check_metric,
    failed_row,
    locked,
    member_row,
    run_state,
    save_summary,
    selection_config,
)
from mlplab.search.spaces import check_space, expand_grid, sample_space

if TYPE_CHECKING:
    from mlplab.api import Prepared
    from mlplab.runs.run import Run
    from mlplab.training.callbacks import Callback

MAX_GROUP = 256  # members per ensemble; beyond this the batched matmuls stop gaining
# options that write files into a member's own run directory while it trains: such members
# train alone, straight into their folder, so a sweep without a folder refuses them
WRITES_WHILE_TRAINING = {
    "log.tensorboard": lambda c: c.log.tensorboard,
    "log.snapshots_every": lambda c: c.log.snapshots_every is not None,
    "log.checkpoint_every": lambda c: c.log.checkpoint_every is not None,
}
# member settings a sweep fixes: no progress bars, and one boundary grid for the whole sweep
# (boundaries.png) instead of each member's figures and report
MEMBER_OVERRIDES = {"log.quiet": True, "log.plots": False}


def member_configs(base: RunConfig, names: Sequence[str],
                   params: Sequence[Mapping[str, Any]]) -> list[RunConfig]:
    """The base config with each member's name and swept values (and MEMBER_OVERRIDES)."""
    return [with_overrides(base, {"name": n, **MEMBER_OVERRIDES, **p})
            for n, p in zip(names, params, strict=True)]


# what prepare() reads besides data, seed, task and loss: members that agree on these (and
# differ only in the model's layers, the optimizer, the schedule, epochs...) share one prepare
PREPARE_READS = {"model": ("output",), "train": ("batch_size", "eval_every", "early_stopping",
                                                  "threshold")}
PREPARE_IGNORES = ("name", "description", "optim", "schedule", "log")


def prepare_shared(configs: Sequence[RunConfig]) -> list[Prepared]:
    """``prepare(c)`` for each config, run once per distinct data: members that differ only
    in what preparation does not read share the split, fitted preprocessing and arrays (each
    keeps its own config, resolved as ``prepare`` resolves it:
    :func:`~mlplab.training.runners.stacked.member_config`).

    Example
    -------
    >>> base = RunConfig.from_dict({"data": {"source": "circles", "n_samples": 60}})
    >>> a, b = prepare_shared(member_configs(base, ["a", "b"],
    ...                                      [{"optim.lr": 0.1}, {"optim.lr": 0.2}]))
    >>> a.X is b.X, (a.cfg.optim.lr, b.cfg.optim.lr)
    (True, (0.1, 0.2))
    """
    from mlplab.api import prepare
    from mlplab.training.runners.stacked import member_config

    done: dict[str, Prepared] = {}
    out = []
    for c in configs:
        d = c.to_dict()
        key = {k: v for k, v in d.items() if k not in PREPARE_IGNORES}
        key.update({part: {k: d[part][k] for k in keys} for part, keys in PREPARE_READS.items()})
        text = json.dumps(key, sort_keys=True, default=str)
        first = done.get(text)
        if first is None:
            done[text] = first = prepare(c)
            out.append(first)
            continue
        out.append(dataclasses.replace(first, cfg=member_config(c, first)))
    return out


def check_writable(configs: Sequence[RunConfig], dirs: Sequence[Path] | None,
                   overwrite: bool) -> None:
    """Refuse, before anything trains, what the sweep could not honour or would clobber."""
    from mlplab.runs.store import check_out_dir

    if dirs is None:
        for key, asks in WRITES_WHILE_TRAINING.items():
            if any(asks(c) for c in configs):
                raise ConfigError(f"{key} writes into each member's run directory, and this "
                                  "sweep has none", hint="give the sweep a folder (out=... or "
                                  "--out DIR), or unset " + key)
        return
    for d in dirs:
        check_out_dir(d, overwrite)


def run_configs(configs: Sequence[RunConfig], preps: Sequence[Prepared] | None = None, *,
                dirs: Sequence[Path] | None = None,
                callbacks: Callable[[int], list[Callback]] | None = None,
                overwrite: bool = False) -> tuple[list[Run | TrainingError], int]:
    """Train configs, batching same-shaped ones; returns (outcomes in order, number batched).

    An outcome is the member's Run, or the TrainingError that stopped it (its loss diverged),
    whether it trained alone or in a stack: the other members go on.

    ``dirs`` (one per config): members that must train alone (see
    :func:`~mlplab.training.runners.stacked.why_not_batched`) train straight into their
    folder, so their TensorBoard events, checkpoints and snapshots are written; the others
    are returned unsaved (``run.path is None``). ``callbacks(i)`` gives config ``i``'s own
    extra callbacks (a pruner), stacked or alone.
    """
    from mlplab.api import train
    from mlplab.training.runners.stacked import group_key, train_members, why_not_batched

    preps = list(preps) if preps is not None else prepare_shared(configs)
    check_writable(configs, dirs, overwrite)
    groups: dict[str, list[int]] = {}
    solo: list[int] = []
    for i, (c, p) in enumerate(zip(configs, preps, strict=True)):
        # as prepared: "auto" stopping may add a plateau schedule, which trains alone
        if why_not_batched(p.cfg) is None:
            groups.setdefault(group_key(c, p), []).append(i)
        else:
            solo.append(i)
    runs: list[Run | TrainingError | None] = [None] * len(configs)
    n_batched = 0
    for idx in groups.values():
        for s in range(0, len(idx), MAX_GROUP):
            part = idx[s:s + MAX_GROUP]
            extra = [callbacks(i) if callbacks is not None else [] for i in part]
            outcomes = train_members([configs[i] for i in part], [preps[i] for i in part],
                                     callbacks=extra)
            for i, r in zip(part, outcomes, strict=True):
                runs[i] = r
            n_batched += len(part)
    for i in solo:
        more = callbacks(i) if callbacks is not None else []
        try:
            runs[i] = train(configs[i], save=dirs is not None,
                            out=dirs[i] if dirs is not None else None, overwrite=overwrite,
                            progress=False, callbacks=more)
        except TrainingError as e:  # one member diverged: the others go on
            runs[i] = e
    return [r for r in runs if r is not None], n_batched


def sweep(config: RunConfig | dict[str, Any] | str | Path | None = None, *,
          grid: Mapping[str, Iterable[Any]] | None = None,
          space: Mapping[str, Any] | None = None, n_random: int | None = None,
          metric: str | None = None, out: str | Path | None = None, seed: int = 0,
          overwrite: bool = False) -> SweepResult:
    """Train every configuration of a grid (or ``n_random`` draws from ``space``).

    Parameters
    ----------
    config : the base RunConfig (dict, file path, ...); swept keys override it. Without a
        validation split (``data.val_size: 0``) the sweep adds one (``SWEEP_VAL_SIZE``) and
        says so in ``notes``.
    grid : dotted path -> values; all combinations are trained.
    space, n_random : random search instead: see :func:`~mlplab.search.spaces.sample_space`.
    metric : ranking column, a ``val_`` or ``train_`` score such as ``"val_f1"``; default the
        validation accuracy, or R² for regression. ``test_`` metrics are refused.
    out : if given, every member is saved as a run directory ``out/<name>-<k>``, with
        ``summary.csv``, ``seeds.csv``, ``best.json`` and ``boundaries.png`` beside them.

    Returns
    -------
    SweepResult : ``table``/``ranked()`` per member, ``summary()`` over seeds, and ``best``,
        the configuration with the best mean over seeds with its test scores.
    """
    if grid is not None and space is not None:
        raise ConfigError("give a grid or a random space, not both")
    base, notes = selection_config(RunConfig.from_any(config))
    if space is not None:
        check_space(base, space)
        params = sample_space(space, n_random or 10, seed)
    else:
        params = expand_grid(grid or {"seed": [base.seed]})
    names = [f"{base.name}-{k:03d}" for k in range(len(params))]
    configs = member_configs(base, names, params)
    preps = prepare_shared(configs)
    metric = check_metric(metric, preps[0].task.name)
    out_dir = Path(out) if out is not None else None
    dirs = [out_dir / n for n in names] if out_dir is not None else None
    check_writable(configs, dirs, overwrite)
    t0 = time.perf_counter()
    outcomes, n_batched = run_configs(configs, preps, dirs=dirs, overwrite=overwrite)
    seconds = time.perf_counter() - t0
    rows, runs, members = [], [], {}
    with one_sync():  # the members' run directories: one flush, not an fsync per file
        for k, (name, p, r) in enumerate(zip(names, params, outcomes, strict=True)):
            if isinstance(r, TrainingError):
                rows.append(failed_row(name, p, r))
                continue
            if dirs is not None and r.path is None:
                r.save(dirs[k], overwrite=overwrite)
            rows.append(member_row(name, p, r, run_state(r, metric)))
            runs.append(r)
            members[name] = (r, preps[k])
    res = SweepResult(list(params[0]), rows, metric, runs, seconds, n_batched, notes)
    if out_dir is not None:
        save_sweep(res, out_dir, members, plots=base.log.plots)
    return res


def save_sweep(res: SweepResult, out: Path,
               members: Mapping[str, tuple[Run, Prepared]] | None = None, *,
               plots: bool = True) -> None:
    """Write the sweep's ``summary.csv``, ``seeds.csv``, ``best.json`` and (2-feature data,
    unless ``plots`` is off: the base config's ``log.plots``) ``boundaries.png`` for the
    ``members`` at hand, holding the folder's lock."""
    from mlplab.search.figures import boundary_grid

    with locked(out):
        save_summary(res, out)
        if plots and members and next(iter(members.values()))[1].n_features == 2:
            boundary_grid(res, members, out / "boundaries.png")


__all__ = ["SweepResult", "prepare_shared", "run_configs", "save_sweep", "sweep"]
