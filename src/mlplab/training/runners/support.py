"""What each runner supports, declared in one table, and the refusal of everything else.

An *option* is a training feature a run may ask for (L1, clipping, a schedule, sample weights,
mini-batches, ...). Each runner lists the options it honours; :func:`check` raises one
:class:`~mlplab.errors.ConfigError` naming the first option a runner cannot honour and the way
around it, before any training happens. Options that :func:`~mlplab.training.loop.fit` itself
handles for every runner (evaluation, callbacks, early stopping, the NaN check, Ctrl-C) are not
listed: no runner can lack them.

Example
-------
>>> from mlplab.config import RunConfig
>>> cfg = RunConfig.from_dict({"optim": {"l1": 0.1}, "schedule": {"name": "plateau"}})
>>> requested(cfg, weighted=False, mini_batch=False)
['optim.l1', 'schedule.plateau']
>>> check("stacked", STACKED, requested(cfg, weighted=False, mini_batch=False))
Traceback (most recent call last):
...
mlplab.errors.ConfigError: the stacked runner does not support schedule.plateau (hint: ...
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from mlplab.config import RunConfig
from mlplab.errors import ConfigError


@dataclass(frozen=True)
class Option:
    """A training option: its user-facing name and whether a config asks for it."""

    name: str
    wanted: Callable[[RunConfig, bool, bool], bool]  # (cfg, weighted, mini_batch) -> bool


def _schedule(name: str) -> Option:
    return Option(f"schedule.{name}", lambda c, w, b: c.schedule.name == name)


OPTIONS: tuple[Option, ...] = (
    Option("optim.l1", lambda c, w, b: c.optim.l1 > 0),
    Option("train.clip_grad_norm", lambda c, w, b: c.train.clip_grad_norm is not None),
    _schedule("step"), _schedule("cosine"), _schedule("plateau"), _schedule("onecycle"),
    Option("sample weights", lambda c, w, b: w),
    Option("mini-batches", lambda c, w, b: b),
    Option("model.dropout", lambda c, w, b: c.model.dropout > 0),
    Option("model.batchnorm", lambda c, w, b: c.model.batchnorm),
    # "auto" asks for stopping once there is a validation split: a set one here, an automatic
    # one in the config pipeline.prepare returns (stacked.train_members checks that one)
    Option("train.early_stopping", lambda c, w, b: c.train.early_stopping is not None
           and (c.train.early_stopping != "auto" or c.data.val_size > 0)),
    Option("log.checkpoint_every", lambda c, w, b: c.log.checkpoint_every is not None),
)
# a callback with batch_end: the runner calls on_batch_end after every optimizer step (asked
# for by fit's callbacks, not by the config; see training.callbacks)
BATCH_END = "callback.on_batch_end"
ALL = frozenset(o.name for o in OPTIONS) | {BATCH_END}

# --- the declarations -----------------------------------------------------------------------
EAGER = ALL
DDP = ALL
STREAM = ALL - {"sample weights", "log.checkpoint_every"}
# the fused kernels keep the weights in flat buffers between steps: no batch seam (refused)
FUSED = ALL - {"sample weights", "model.dropout", "model.batchnorm", BATCH_END}
NUMPY = FUSED - {"schedule.step", "schedule.cosine", "schedule.plateau", "schedule.onecycle",
                 "mini-batches"}
STACKED = ALL - {"schedule.step", "schedule.cosine", "schedule.plateau", "schedule.onecycle",
                 "sample weights", "model.batchnorm", "log.checkpoint_every", BATCH_END}

HINTS = {  # runner -> how to get an option it refuses
    "stream": "load the file into memory (--set data.stream=false)",
    "fast": "let mlplab choose the runner (--set train.fast=auto)",
    "numpy": "let mlplab choose the runner (--set train.fast=auto)",
    "stacked": "train these runs one at a time (sweep does so for members it cannot stack)",
}


def requested(cfg: RunConfig, *, weighted: bool, mini_batch: bool,
              batch_end: bool = False) -> list[str]:
    """The options a run asks for, in table order (``batch_end``: a callback asks for
    :data:`BATCH_END`)."""
    return [o.name for o in OPTIONS if o.wanted(cfg, weighted, mini_batch)] + \
        ([BATCH_END] if batch_end else [])


def missing(supported: Collection[str], wanted: list[str]) -> list[str]:
    """The wanted options a runner does not support."""
    return [name for name in wanted if name not in supported]


def check(runner: str, supported: Collection[str], wanted: list[str]) -> None:
    """Refuse, before training, the first wanted option ``runner`` cannot honour."""
    gaps = missing(supported, wanted)
    if gaps:
        raise ConfigError(f"the {runner} runner does not support {gaps[0]}",
                          hint=HINTS.get(runner, "use the eager runner (--set train.fast=off)"))


__all__ = ["ALL", "BATCH_END", "DDP", "EAGER", "FUSED", "HINTS", "NUMPY", "OPTIONS", "STACKED",
           "STREAM", "Option", "check", "missing", "requested"]
