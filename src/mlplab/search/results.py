"""What a sweep found: one row per member, ranked on a selection split, the best configuration.

Selection never looks at the test split: members are ranked on a ``train_`` or ``val_``
metric (by default the validation accuracy, or R² for regression, on a validation split that
the sweep adds when the base config has none). Test scores are reported only for the chosen
configuration (:attr:`SweepResult.best`), as the mean over its members (seeds).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlplab.config import RunConfig, with_overrides
from mlplab.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from mlplab.runs.run import Run

# the score names a sweep may rank by, per kind of task (as in metrics.json)
SCORES = {"classification": ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss",
                             "loss"),
          "regression": ("r2", "mae", "rmse", "loss")}
LOWER_IS_BETTER = ("loss", "log_loss", "mae", "rmse")
SELECTION_SPLITS = ("val", "train")  # never "test": that would select on the test split
# validation fraction a sweep adds when the base config has no validation split
SWEEP_VAL_SIZE = 0.2
# member states: how a member ended (Optuna's trial states, lower case, for Optuna sweeps)
COMPLETE, PRUNED, FAILED = "complete", "pruned", "fail"


def selection_config(base: RunConfig) -> tuple[RunConfig, list[str]]:
    """The base config with a validation split to select on, and a note if one was added.

    >>> cfg, notes = selection_config(RunConfig())
    >>> cfg.data.val_size, notes[0][:48]
    (0.2, 'no validation split in the base config: members ')
    """
    if base.data.val_size > 0:
        return base, []
    cfg = with_overrides(base, {"data.val_size": SWEEP_VAL_SIZE})
    return cfg, [f"no validation split in the base config: members hold out "
                 f"data.val_size={SWEEP_VAL_SIZE} to be ranked on (set data.val_size to choose)"]


def check_metric(metric: str | None, task_name: str) -> str:
    """The ranking column: ``metric`` checked, or the default (``val_accuracy`` / ``val_r2``).

    >>> check_metric(None, "binary"), check_metric("val_loss", "regression")
    ('val_accuracy', 'val_loss')
    >>> check_metric("test_accuracy", "binary")
    Traceback (most recent call last):
    ...
    mlplab.errors.ConfigError: a sweep does not rank members on the test split ...
    """
    kind = "regression" if task_name == "regression" else "classification"
    if metric is None:
        return f"val_{SCORES[kind][0]}"
    split, _, name = metric.partition("_")
    if split == "test":
        raise ConfigError(f"a sweep does not rank members on the test split ('{metric}'): "
                          "that selects on the data meant to judge the choice",
                          expected=f"val_{name} (or train_{name})",
                          hint="the chosen configuration's test scores are reported in "
                               "best.json and printed at the end")
    if split not in SELECTION_SPLITS or name not in SCORES[kind]:
        raise ConfigError(f"unknown sweep metric '{metric}'",
                          expected="one of " + ", ".join(f"{s}_{n}" for s in SELECTION_SPLITS
                                                         for n in SCORES[kind]))
    return metric


def member_row(name: str, params: dict[str, Any], run: Run, state: str) -> dict[str, Any]:
    """One table row: the member, its swept values, state, final metrics per split, runner."""
    row: dict[str, Any] = {"member": name, **params, "state": state}
    for split in ("train", "val", "test"):
        for key, v in (run.metrics.get(split) or {}).items():
            if isinstance(v, int | float) and key != "n":
                row[f"{split}_{key}"] = v
    info = run.info
    row |= {"epochs_run": info.get("epochs_run"), "runner": info.get("runner"),
            "stop_reason": info.get("stop_reason"),
            "path": str(run.path) if run.path is not None else ""}
    return row


def failed_row(name: str, params: dict[str, Any], error: Exception) -> dict[str, Any]:
    """The row of a member that ended without a run (its training raised ``error``)."""
    return {"member": name, **params, "state": FAILED,
            "stop_reason": str(error).splitlines()[0], "path": ""}


def run_state(run: Run, metric: str) -> str:
    """complete, pruned, or fail (diverged, or the ranking metric is missing or not finite)."""
    reason = run.info.get("stop_reason")
    if reason == "pruned":
        return PRUNED
    if reason == "diverged":
        return FAILED
    split, _, name = metric.partition("_")
    v = (run.metrics.get(split) or {}).get(name)
    return COMPLETE if isinstance(v, int | float) and math.isfinite(v) else FAILED


@dataclass
class BestConfig:
    """The chosen configuration: best mean of the ranking metric over its complete members.

    ``test`` holds the mean test scores of those same members: the unbiased estimate, since
    the test split played no part in the choice.
    """

    params: dict[str, Any]  # swept values that define the configuration (seed excluded)
    metric: str
    mean: float
    std: float  # over members (seeds); NaN with one member
    count: int
    test: dict[str, float]  # e.g. {"test_accuracy": 0.93, "test_loss": 0.21}
    members: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"params": self.params, "metric": self.metric, "mean": _num(self.mean),
                "std": _num(self.std), "count": self.count,
                "test": {k: _num(v) for k, v in self.test.items()}, "members": self.members}

    def describe(self) -> str:
        """One line: the configuration, its score over seeds and its test scores."""
        what = ", ".join(f"{k}={short(v)}" for k, v in self.params.items()) or "the base"
        spread = f" ± {self.std:.4f}" if self.count > 1 else ""
        test = ", ".join(f"{k} {v:.4f}" for k, v in self.test.items()
                         if k.endswith(("accuracy", "r2", "loss")))
        return (f"best configuration: {what}: {self.metric} {self.mean:.4f}{spread} over "
                f"{self.count} member(s); {test or 'no test split'}")


@dataclass
class SweepResult:
    """Every member of a sweep (for Optuna: every trial of the study) and what was chosen.

    ``rows`` holds one dict per member (see :func:`member_row`); ``runs`` the members trained
    by this call, in this process (other workers' members are rows only).
    """

    keys: list[str]  # the swept dotted paths
    rows: list[dict[str, Any]]
    metric: str  # the ranking column, e.g. "val_accuracy"
    runs: list[Run] = field(default_factory=list)
    seconds: float = 0.0
    n_batched: int = 0  # members of this call trained inside ensembles
    notes: list[str] = field(default_factory=list)  # what the sweep decided for the user

    @property
    def higher_is_better(self) -> bool:
        return not self.metric.endswith(LOWER_IS_BETTER)

    def _frame(self) -> pd.DataFrame:
        import pandas as pd

        rows = [{k: _cell(v) for k, v in r.items()} for r in self.rows]
        first = ["member", *self.keys, "state", self.metric]  # present even with no rows
        return pd.DataFrame(rows, columns=list(dict.fromkeys(
            [*first, *(c for r in rows for c in r)])))

    @property
    def table(self) -> pd.DataFrame:
        """One row per member without test scores (those belong to the chosen one only)."""
        t = self._frame()
        return t[[c for c in t.columns if not c.startswith("test_")]]

    def ranked(self) -> pd.DataFrame:
        """The table, complete members best first, then pruned, failed and running ones."""
        t = self.table
        done = t[t["state"] == COMPLETE].sort_values(self.metric, kind="stable",
                                                     ascending=not self.higher_is_better)
        return _concat(done, t[t["state"] != COMPLETE])

    def summary(self) -> pd.DataFrame:
        """Mean, spread (std) and count of the metric over seeds (complete members only),
        one row per other setting, best first."""
        t = self._frame()
        t = t[t["state"] == COMPLETE]
        keys = self.config_keys or ["_all"]
        if not self.config_keys:
            t = t.assign(_all="all")
        g = t.groupby(keys, sort=True, dropna=False)[self.metric]
        s = g.agg(["mean", "std", "count"]).reset_index()
        return s.sort_values("mean", ascending=not self.higher_is_better, kind="stable")

    @property
    def config_keys(self) -> list[str]:
        return [k for k in self.keys if k != "seed"]

    @property
    def best(self) -> BestConfig:
        """The configuration with the best mean over seeds (not the luckiest single member)."""
        s = self.summary()
        if not len(s):
            raise ConfigError("no member of the sweep completed", hint="see summary.csv "
                              "(state, stop_reason) and lower the learning rate")
        top = s.iloc[0]
        params = {k: top[k] for k in self.config_keys}
        t = self._frame()
        mine = t[(t["state"] == COMPLETE)]
        for k, v in params.items():
            mine = mine[mine[k] == v]
        test = {c: float(mine[c].mean()) for c in mine.columns if c.startswith("test_")}
        return BestConfig({k: _uncell(v) for k, v in params.items()}, self.metric,
                          float(top["mean"]), float(top["std"]), int(top["count"]), test,
                          list(mine["member"]))


def save_summary(res: SweepResult, out: Path) -> None:
    """Write ``summary.csv`` (ranked members), ``seeds.csv`` (mean over seeds) and
    ``best.json`` (the chosen configuration with its test scores)."""
    from mlplab.runs.store import atomic_write_text, write_json

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "summary.csv", res.ranked().to_csv(index=False))
    atomic_write_text(out / "seeds.csv", res.summary().to_csv(index=False))
    if len(res.summary()):
        write_json(out / "best.json", {**res.best.to_dict(), "notes": res.notes})


@contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold ``out/.sweep.lock`` (an exclusive file lock) so that workers sharing a sweep
    folder write its summary one at a time."""
    import fcntl

    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / ".sweep.lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _concat(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    return pd.concat([x for x in (a, b) if len(x)] or [a], ignore_index=True)


def _cell(v: Any) -> Any:
    return json.dumps(v) if isinstance(v, list | tuple | dict) else v


def short(v: Any) -> str:
    """A swept value for a title or a line: floats to 4 significant digits.

    >>> short(0.840843806049465), short([8, 8]), short("relu")
    ('0.8408', '[8, 8]', 'relu')
    """
    return f"{v:.4g}" if isinstance(v, float) else str(_cell(v))


def _uncell(v: Any) -> Any:
    if isinstance(v, str) and v[:1] in "[{":
        return json.loads(v)
    return v.item() if hasattr(v, "item") else v


def _num(v: float) -> float | None:
    return v if math.isfinite(v) else None


__all__ = ["LOWER_IS_BETTER", "SCORES", "BestConfig", "SweepResult", "check_metric",
           "failed_row", "member_row", "run_state", "save_summary", "selection_config"]
