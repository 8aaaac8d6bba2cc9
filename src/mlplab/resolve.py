"""The one resolution stage: what every ``"auto"`` (and unset default) of a RunConfig becomes
for the table a run trains on.

:func:`resolve` takes a config and the :class:`Facts` of its table (rows, task, what the
model outputs, streamed or not) and returns the config that trains and is saved: after it no
``"auto"`` is left in the keys it decides (``train.fast`` stays a runner policy, see
:mod:`mlplab.training.runners.select`; both of its choices give the same weights). Every
caller goes through it: :func:`mlplab.pipeline.prepare` and ``prepare_stream`` (so
:func:`mlplab.train`, a sweep's members and the playground), and ``fit`` for a config that
still holds ``"auto"`` (library use). Resolving a resolved config changes nothing, so a saved
``config.yaml`` trains again to the same weights.

Example
-------
>>> from mlplab.config import RunConfig
>>> cfg = resolve(RunConfig(), Facts(n_train=102_400, has_val=True, task="binary",
...                                  device="cpu"))  # 100 batches of 1024
>>> cfg.train.batch_size, cfg.train.early_stopping, cfg.schedule.name, cfg.optim.weight_decay
(1024, 3, 'plateau', 0.005)
>>> cfg.task, cfg.loss, cfg.model.output, cfg.data.stream, cfg.train.device
('binary', 'bce_logits', 'logits', False, 'cpu')
>>> resolve(cfg, Facts(n_train=102_400, has_val=True, task="binary")) == cfg
True
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

from mlplab import registry
from mlplab.config import RunConfig, flatten, with_overrides
from mlplab.models import resolve_device
from mlplab.tasks import resolve_task

# early stopping's automatic validation split: this fraction of the training rows, held out
# (stratified) whenever it holds at least AUTO_VAL_MIN_ROWS rows; tinier tables train every
# epoch on every row. Measured in benchmarks/bench_defaults.py (2,000-row cut, 3 seeds): the
# earlier rule (a split only when 300 rows were left to train on) let the 150-330-row tables
# train all their epochs unwatched; star98's R2 went from .686 to .761 with a split, +.0062 on
# the development half's mean, +.0002 on the test half's. A 20% split gained +.0098 on the
# development half but lost .0020 on the test half, so the fraction stays 10%.
AUTO_VAL_FRACTION = 0.1
AUTO_VAL_MIN_ROWS = 10

# "auto" batches: full batch up to AUTO_FULL_BATCH_ROWS training rows, else AUTO_BATCH rows
# (measured on 200k rows: 3.6x faster per epoch than 256 at the same accuracy); a streamed
# file always trains on mini-batches of AUTO_BATCH unless a number is set
AUTO_FULL_BATCH_ROWS = 4096
AUTO_BATCH = 1024

# automatic patience: about this many optimizer steps without a better validation loss, and
# never fewer than MIN_PATIENCE evaluations (measured in benchmarks/bench_defaults.py: 100
# steps, 10 evaluations on a full batch, against 200: the same mean accuracy on both halves of
# the tables, -.0002 and +.0002, at 0.58x the fit time)
PATIENCE_STEPS = 100
MIN_PATIENCE = 3

# "auto" stopping on mini-batches also halves the learning rate (a plateau schedule) after
# patience // AUTO_PLATEAU_SHARE evaluations without a better validation loss. Measured on
# 200k x 20 make_classification (benchmarks/bench_sklearn.py): without it the defaults stopped
# at 0.9835 and never reached scikit-learn's 0.9850; with it they reached it at epoch 93, 8.9x
# faster than scikit-learn's fit. Full-batch tables keep a constant rate (a plateau there:
# +0.0002 mean accuracy, 3 seeds); on the mini-batch fair and randhie tables it was neutral.
AUTO_PLATEAU_SHARE = 3

# "auto" ensembles (mlplab.ensemble): this many members for a run that trains mlplab's own MLP
# in memory, in one process, on full batches with a validation split; 1 otherwise (mini-batch
# tables are large enough that one model varies little, and a stack cannot take their plateau
# schedule). Measured in benchmarks/bench_defaults.py (2,000-row cut, 3 seeds, patience 10 on
# full batches), mean over each half against one network: 2 members +.0048 on the development
# half and +.0029 on the test half at about 1.9x one network's fit time; 3 members +.0052 /
# +.0032 at 3-4x; 4 members +.0040 / +.0055 and 8 members +.0056 / +.0069 with patience 20.
AUTO_ENSEMBLE = 2


@dataclass(frozen=True)
class Facts:
    """What resolution needs to know about the table and the model.

    ``n_rows`` is the table's size before the split (None when the split is already made:
    ``data.val_size`` then stays); ``output`` what a learner's module returns, as
    :func:`mlplab.outputs.read_output` read it (it honours a stated kind), None for mlplab's MLP
    (the configured output; logits for ``"auto"``);
    ``device`` where it trains (None: :func:`mlplab.models.resolve_device`).
    """

    n_train: int  # training rows, over all ranks
    has_val: bool
    task: str  # binary, multiclass, multilabel or regression, as the target encoder read it
    n_classes: int = 2
    n_targets: int = 1
    output: str | None = None
    streamed: bool = False
    n_rows: int | None = None
    device: str | None = None
    loss: str | None = None  # the loss of a task already resolved (fit's TaskSpec)
    members: bool = False  # an "auto" ensemble may train here (api.train decides, see below)


def val_size(cfg: RunConfig, n_rows: int) -> float:
    """``data.val_size`` for a table of ``n_rows``: the configured one, or, when early
    stopping is on, no validation split is set and there are epochs to train,
    ``AUTO_VAL_FRACTION`` of the training rows if that is at least ``AUTO_VAL_MIN_ROWS`` rows.

    Example
    -------
    >>> val_size(RunConfig(), 1000), val_size(RunConfig(), 150), val_size(RunConfig(), 100)
    (0.08, 0.08, 0.0)
    >>> val_size(RunConfig.from_dict({"train": {"early_stopping": "off"}}), 1000)
    0.0
    """
    d = cfg.data
    n_fit = n_rows * (1.0 - d.test_size)
    if d.val_size > 0 or cfg.train.early_stopping is None or cfg.train.epochs == 0 or \
            n_fit * AUTO_VAL_FRACTION < AUTO_VAL_MIN_ROWS:  # (0 epochs: nothing to stop)
        return d.val_size
    return round(AUTO_VAL_FRACTION * (1.0 - d.test_size), 6)


def split_settings(cfg: RunConfig, n_rows: int) -> dict[str, Any]:
    """The data settings the split and the target scaling read, for ``n_rows`` rows:
    ``data.val_size`` (:func:`val_size`) and ``data.scale_target`` (off for poisson: counts
    keep their units, the log link needs them). :func:`resolve` writes the same values."""
    return {"data.val_size": val_size(cfg, n_rows),
            "data.scale_target": cfg.data.scale_target and cfg.loss != "poisson"}


def batch_size(batch: int | str | None, n_train: int, streamed: bool = False) -> int | None:
    """Rows per batch, None for full batch: ``"auto"`` is full batch up to
    ``AUTO_FULL_BATCH_ROWS`` rows, else ``AUTO_BATCH``; a number at least ``n_train`` is full
    batch; a streamed file has mini-batches (``AUTO_BATCH`` unless a number is set).

    >>> batch_size("auto", 100), batch_size("auto", 10_000), batch_size(500, 100)
    (None, 1024, None)
    >>> batch_size("full", 100, streamed=True), batch_size(64, 100, streamed=True)
    (1024, 64)
    """
    if streamed:
        return batch if isinstance(batch, int) else AUTO_BATCH
    if batch == "auto":
        return None if n_train <= AUTO_FULL_BATCH_ROWS else AUTO_BATCH
    if not isinstance(batch, int):  # None or "full"
        return None
    return None if batch >= n_train else batch


def auto_patience(steps_per_epoch: int, eval_every: int) -> int:
    """The patience, in evaluations, that ``train.early_stopping="auto"`` becomes.

    About ``PATIENCE_STEPS`` optimizer steps: full-batch training (one step per epoch) waits
    longer in epochs than mini-batch training of a large table, whose epochs hold many steps.

    Example
    -------
    >>> auto_patience(1, 10), auto_patience(7, 10), auto_patience(196, 10)
    (10, 3, 3)
    """
    return max(MIN_PATIENCE, math.ceil(PATIENCE_STEPS / (steps_per_epoch * eval_every)))


def unresolved(cfg: RunConfig) -> list[str]:
    """The keys training reads that still hold ``"auto"`` or an unset default.

    >>> unresolved(RunConfig())[-3:]
    ['train.batch_size', 'train.early_stopping', 'optim.weight_decay']
    """
    keys = {"task": cfg.task, "loss": cfg.loss, "model.output": cfg.model.output,
            "model.ensemble": cfg.model.ensemble,
            "train.batch_size": cfg.train.batch_size,
            "train.early_stopping": cfg.train.early_stopping,
            "optim.weight_decay": cfg.optim.weight_decay}
    decays = cfg.optim.name in registry.DEFAULT_WEIGHT_DECAY
    return [k for k, v in keys.items()
            if v == "auto" or (k == "optim.weight_decay" and v is None and decays)]


def resolve(cfg: RunConfig, facts: Facts) -> RunConfig:
    """``cfg`` with every default decided for the table ``facts`` describes.

    - ``data.val_size`` / ``data.scale_target`` (with ``facts.n_rows``): :func:`split_settings`;
    - ``data.stream``: whether the run streams its file;
    - ``task``, ``loss``, ``model.output``: the encoder's task, the loss
      :func:`mlplab.tasks.resolve_task` picks, what the model outputs (an explicit output
      always stays: the caller checked it against the model);
    - ``train.batch_size``: :func:`batch_size` (None: full batch);
    - ``train.early_stopping``: ``"auto"`` becomes :func:`auto_patience` evaluations with a
      validation split, else None; on mini-batches without a schedule it also adds a plateau
      schedule halving the rate after a third of that patience;
    - ``optim.weight_decay``: unset becomes the optimizer's default spread over the epoch's
      steps (:func:`mlplab.registry.weight_decay`) for an optimizer that has one (plain SGD
      stays unset: no decay, as in the tutorials);
    - ``model.ensemble``: ``"auto"`` becomes ``AUTO_ENSEMBLE`` members when
      ``facts.members`` (the caller trains mlplab's MLP in memory, in one process, with
      nothing a stack cannot take), the batch is full and there is a validation split, else 1;
    - ``train.device``: where the run trains.
    """
    r: dict[str, Any] = {}
    if facts.n_rows is not None:
        r |= split_settings(cfg, facts.n_rows)
    r["data.stream"] = facts.streamed
    output = facts.output or ("logits" if cfg.model.output == "auto" else cfg.model.output)
    loss = facts.loss
    if loss is None:
        with warnings.catch_warnings():  # the pipeline's own resolve_task warns, once
            warnings.simplefilter("ignore")
            loss = resolve_task(facts.task, n_classes=facts.n_classes, loss=cfg.loss,
                                n_targets=facts.n_targets, output=output,
                                threshold=cfg.train.threshold).loss
    r |= {"task": facts.task, "loss": loss, "model.output": output}
    bs = batch_size(cfg.train.batch_size, facts.n_train, facts.streamed)
    r["train.batch_size"] = bs
    steps = 1 if bs is None else math.ceil(facts.n_train / bs)
    if cfg.train.early_stopping == "auto":
        patience = auto_patience(steps, cfg.train.eval_every) if facts.has_val else None
        r["train.early_stopping"] = patience
        if patience is not None and steps > 1 and cfg.schedule.name == "none":
            r["schedule.name"] = "plateau"
            r["schedule.patience"] = max(1, patience // AUTO_PLATEAU_SHARE)
    if cfg.model.ensemble == "auto":
        whole = facts.members and bs is None and facts.has_val
        r["model.ensemble"] = AUTO_ENSEMBLE if whole else 1
    if cfg.optim.weight_decay is None and cfg.optim.name in registry.DEFAULT_WEIGHT_DECAY:
        r["optim.weight_decay"] = registry.weight_decay(cfg.optim, steps)
    r["train.device"] = facts.device or str(resolve_device(cfg.train.device))
    now = flatten(cfg.to_dict())
    changed = {k: v for k, v in r.items() if now[k] != v}
    return with_overrides(cfg, changed) if changed else cfg


__all__ = ["AUTO_BATCH", "AUTO_ENSEMBLE", "AUTO_FULL_BATCH_ROWS", "AUTO_PLATEAU_SHARE",
           "AUTO_VAL_FRACTION", "AUTO_VAL_MIN_ROWS", "MIN_PATIENCE", "PATIENCE_STEPS", "Facts",
           "auto_patience", "batch_size", "resolve", "split_settings", "unresolved", "val_size"]
