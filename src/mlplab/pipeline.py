"""The stages of a run, in order: prepare (load -> clean -> split -> preprocess -> task) ->
tensors -> fit (:mod:`mlplab.runs.finish` turns the result into a Run).

:func:`mlplab.api.train` strings these together with logging and saving; the sweep, the
playground, the baselines and the report call the stages they need.

Example
-------
>>> from mlplab.config import RunConfig, with_overrides
>>> p = prepare(RunConfig.from_dict({"data": {"source": "moons", "n_samples": 100}}))
>>> p.task.name, p.n_features, len(p.X["train"]) + len(p.X["test"])
('binary', 2, 100)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import torch
from torch import nn

from mlplab import registry
from mlplab.budget import check_fits, dataset_bytes, network_bytes
from mlplab.config import RunConfig, with_overrides
from mlplab.data import (
    Preprocessor,
    Split,
    Table,
    TargetEncoder,
    clean_missing,
    encode_table,
    frame_table,
    load_table,
)
from mlplab.data.stream import (
    EVAL_ROWS,
    MAX_CLASSES,
    FileBatches,
    encoded_chunks,
    head_rows,
    scan,
)
from mlplab.errors import ConfigError, DataError, MlplabWarning
from mlplab.metrics import metrics_for
from mlplab.models import ModelSpec
from mlplab.registry import DATASETS
from mlplab.tasks import TaskSpec, resolve_task
from mlplab.training.callbacks import auto_patience
from mlplab.training.state import DataTensors
from mlplab.training.step import resolve_batch_size, steps_per_epoch

SPLITS = ("train", "val", "test")
DataLike: TypeAlias = pd.DataFrame | tuple[Any, Any] | None


@dataclass
class Prepared:
    """Data split, preprocessed and encoded, with the resolved task (no model yet)."""

    cfg: RunConfig
    table: Table
    split: Split
    preprocessor: Preprocessor
    target_encoder: TargetEncoder
    task: TaskSpec
    X: dict[str, np.ndarray]  # float32 (n, features) per split
    y: dict[str, np.ndarray]  # encoded targets per split

    @property
    def n_features(self) -> int:
        return int(self.X["train"].shape[1])

    def tensors(self, device: torch.device | str = "cpu",
                sample_weight: np.ndarray | None = None) -> DataTensors:
        X = {s: torch.as_tensor(a, device=device) for s, a in self.X.items()}
        y = {s: self.task.targets(a, device) for s, a in self.y.items()}
        w = None if sample_weight is None else \
            torch.as_tensor(np.asarray(sample_weight, dtype=np.float32), device=device)
        return DataTensors(X, y, w)


def table_from(data: DataLike, cfg: RunConfig) -> Table:
    """A Table from in-memory data: a DataFrame (target named in the config) or (X, y)."""
    if data is None:
        info = DATASETS.get(cfg.data.source)
        if info is not None and info.kind == "synthetic":
            check_fits(dataset_bytes(cfg.data.n_samples, info.features + 1),
                       f"{cfg.data.n_samples} rows of {cfg.data.source}")
        return load_table(cfg.data, cfg.seed)
    if isinstance(data, pd.DataFrame):
        if cfg.data.target is None:
            raise ConfigError("a DataFrame needs data.target", hint="set data.target to the "
                              f"label column (columns: {', '.join(map(str, data.columns))})")
        return frame_table(data, cfg.data.target, cfg.data.features, cfg.data.drop)
    if isinstance(data, tuple) and len(data) == 2:
        X, y = (np.asarray(v.detach().cpu() if isinstance(v, torch.Tensor) else v)
                for v in data)
        if X.ndim == 1:
            X = X.reshape(-1, 1)
        if len(X) != len(y):
            raise DataError("X and y have different lengths", found=f"{len(X)} vs {len(y)}")
        y = _fix_label_shape(y, cfg.task)
        Xf = pd.DataFrame(X, columns=[f"x{i + 1}" for i in range(X.shape[1])])
        ycols = ["y"] if y.ndim == 1 else [f"y{i + 1}" for i in range(y.shape[1])]
        return Table(Xf, pd.DataFrame(y.reshape(len(y), -1), columns=ycols), "arrays", "memory")
    raise ConfigError("cannot use this data", expected="a DataFrame or a tuple (X, y)",
                      found=type(data).__name__)


def _fix_label_shape(y: np.ndarray, task: str) -> np.ndarray:
    """Undo the label shapes tutorials produce: (n, 1) columns and one-hot rows."""
    if y.ndim == 2 and y.shape[1] == 1:
        return y[:, 0]
    if y.ndim == 2 and task != "multilabel" and task != "regression" and \
            np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all():
        warnings.warn("y looks one-hot encoded; using class indices y.argmax(1) (pass "
                      "task='multilabel' if a row may have several labels)", MlplabWarning,
                      stacklevel=3)
        return y.argmax(axis=1)
    return y


# early stopping's automatic validation split: this fraction of the training rows, held out
# (stratified) only when at least AUTO_VAL_MIN_ROWS rows are left to train on, so it holds
# 30+ rows; smaller tables train every epoch on every row
AUTO_VAL_FRACTION = 0.1
AUTO_VAL_MIN_ROWS = 300


def auto_val_size(cfg: RunConfig, n_rows: int) -> float:
    """``data.val_size`` for a table of ``n_rows``: the configured one, or, when early
    stopping is on and no validation split is set, ``AUTO_VAL_FRACTION`` of the training rows
    if the table is large enough.

    Example
    -------
    >>> from mlplab.config import RunConfig
    >>> auto_val_size(RunConfig(), 1000), auto_val_size(RunConfig(), 150)
    (0.08, 0.0)
    >>> off = RunConfig.from_dict({"train": {"early_stopping": "off"}})
    >>> auto_val_size(off, 1000)
    0.0
    """
    d = cfg.data
    n_fit = n_rows * (1.0 - d.test_size)
    if d.val_size > 0 or cfg.train.early_stopping is None or \
            n_fit * (1.0 - AUTO_VAL_FRACTION) < AUTO_VAL_MIN_ROWS:
        return d.val_size
    return round(AUTO_VAL_FRACTION * (1.0 - d.test_size), 6)


# "auto" stopping on mini-batches also halves the learning rate (a plateau schedule) after
# patience // AUTO_PLATEAU_SHARE evaluations without a better validation loss. Measured on
# 200k x 20 make_classification (benchmarks/bench_sklearn.py): without it the defaults stopped
# at 0.9835 and never reached scikit-learn's 0.9850; with it they reached it at epoch 93, 8.9x
# faster than scikit-learn's fit. Full-batch tables keep a constant rate (a plateau there:
# +0.0002 mean accuracy, 3 seeds); on the mini-batch fair and randhie tables it was neutral.
AUTO_PLATEAU_SHARE = 3


def resolve_auto(cfg: RunConfig, n_train: int, has_val: bool) -> RunConfig:
    """``cfg`` with what its defaults become for ``n_train`` training rows: ``"auto"``
    stopping becomes a patience (:func:`~mlplab.training.callbacks.auto_patience`; None
    without a validation split) and, on mini-batches without a schedule, also a plateau
    schedule that halves the learning rate after a third of that patience; an unset weight
    decay becomes the optimizer's default spread over the epoch's steps
    (:func:`mlplab.registry.weight_decay`).

    Example
    -------
    >>> from mlplab.config import RunConfig
    >>> big = resolve_auto(RunConfig(), 102_400, has_val=True)  # 100 batches of 1024
    >>> big.train.early_stopping, big.optim.weight_decay, big.schedule.name
    (3, 0.005, 'plateau')
    >>> small = resolve_auto(RunConfig(), 120, has_val=False)
    >>> small.train.early_stopping, small.optim.weight_decay, small.schedule.name
    (None, 0.5, 'none')
    """
    steps = steps_per_epoch(resolve_batch_size(cfg.train.batch_size, n_train), n_train)
    resolved: dict[str, Any] = {}
    if cfg.train.early_stopping == "auto":
        patience = auto_patience(steps, cfg.train.eval_every) if has_val else None
        resolved["train.early_stopping"] = patience
        if patience is not None and steps > 1 and cfg.schedule.name == "none":
            resolved["schedule.name"] = "plateau"
            resolved["schedule.patience"] = max(1, patience // AUTO_PLATEAU_SHARE)
    resolved |= default_decay(cfg, n_train)
    return with_overrides(cfg, resolved) if resolved else cfg


def default_decay(cfg: RunConfig, n_train: int) -> dict[str, Any]:
    """``{"optim.weight_decay": ...}``: the optimizer's default spread over the epoch's
    steps for ``n_train`` rows (:func:`mlplab.registry.weight_decay`), when the config
    leaves it unset and the optimizer has one; else empty."""
    if cfg.optim.weight_decay is not None or cfg.optim.name not in registry.DEFAULT_WEIGHT_DECAY:
        return {}
    steps = steps_per_epoch(resolve_batch_size(cfg.train.batch_size, n_train), n_train)
    return {"optim.weight_decay": registry.weight_decay(cfg.optim, steps)}


def prepare(cfg: RunConfig, data: DataLike = None,
            output: str | Callable[[np.ndarray], str] | None = None) -> Prepared:
    """Load, clean, split, fit the preprocessing on the train split and resolve the task.

    The returned ``Prepared.cfg`` says what ``"auto"`` stopping became for this table: the
    validation split actually held out (:func:`auto_val_size`) and the patience
    (:func:`~mlplab.training.callbacks.auto_patience`), or no stopping without a split, and
    the weight decay (:func:`resolve_auto`); train with it, so the saved config, its exports
    and resumes repeat the run exactly."""
    table = clean_missing(table_from(data, cfg), cfg.data.impute)
    if cfg.loss == "poisson" and cfg.data.scale_target:  # counts keep their units (log link)
        cfg = with_overrides(cfg, {"data.scale_target": False})
    val_size = auto_val_size(cfg, len(table.X))
    if val_size != cfg.data.val_size:
        cfg = with_overrides(cfg, {"data.val_size": val_size})
    e = encode_table(table, cfg.data, cfg.task, cfg.seed)
    cfg = resolve_auto(cfg, len(e.split.train), has_val=len(e.split.val) > 0)
    split, pre, encoder, X_all, y_all = e.split, e.preprocessor, e.target_encoder, e.X, e.y
    n_targets = 1 if y_all.ndim == 1 else y_all.shape[1]
    n_classes = len(encoder.classes) if encoder.task != "regression" else n_targets
    if callable(output):  # a learner's module: what its forward returns on training rows
        output = output(X_all[split.train])
    task = resolve_task(encoder.task, n_classes=n_classes, n_targets=n_targets, loss=cfg.loss,
                        output=output or cfg.model.output, threshold=cfg.train.threshold)
    Xs = {s: X_all[getattr(split, s)] for s in SPLITS}
    ys = {s: y_all[getattr(split, s)] for s in SPLITS}
    return Prepared(cfg, table, split, pre, encoder, task, Xs, ys)


def model_spec(cfg: RunConfig, n_features: int, task: TaskSpec) -> ModelSpec:
    """The MLP that ``cfg.model`` describes for ``n_features`` inputs and ``task``'s head;
    refused up front if training it would not fit in memory (:mod:`mlplab.budget`)."""
    rows = cfg.train.batch_size if isinstance(cfg.train.batch_size, int) else 0
    check_fits(network_bytes(n_features + len(cfg.model.crosses), cfg.model.hidden,
                             task.n_outputs, cfg.optim.name, rows),
               f"a network {n_features} -> {' -> '.join(map(str, cfg.model.hidden))} -> "
               f"{task.n_outputs} trained with {cfg.optim.name}")
    return ModelSpec(in_features=n_features, hidden=list(cfg.model.hidden),
                     activations=cfg.model.activations(), n_outputs=task.n_outputs,
                     output=cfg.model.output, dropout=cfg.model.dropout,
                     batchnorm=cfg.model.batchnorm, init=cfg.model.init,
                     crosses=list(cfg.model.crosses))


def split_metrics(model: nn.Module, task: TaskSpec, p: Prepared,
                  data: DataTensors) -> dict[str, Any]:
    """Final metrics per split (scikit-learn's functions), plus each split's loss."""
    out: dict[str, Any] = {}
    model.eval()
    with torch.inference_mode():
        for split in SPLITS:
            if not data.has(split):
                continue
            raw = model(data.X[split])
            m = metrics_for(task, p.y[split], task.proba(raw).cpu().numpy(),
                            n_classes=len(p.target_encoder.classes),
                            unscale=p.target_encoder.inverse_values)
            m["loss"] = float(task.batch_loss(raw, data.y[split]))
            out[split] = m
    return out


def streamed_metrics(model: nn.Module, p: Prepared, source: FileBatches,
                     want_test: bool = True) -> dict[str, Any]:
    """Metrics of every test (or train) row of a streamed file, read chunk by chunk: only the
    predictions are kept, never the inputs (scikit-learn's functions, as :func:`split_metrics`).
    """
    task, loss_sum = p.task, 0.0
    preds: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    model.eval()
    with torch.inference_mode():
        for X, y in encoded_chunks(source.cfg, source.stats, source.classes, want_test):
            raw = model(torch.as_tensor(X))
            loss_sum += float(task.batch_loss(raw, task.targets(y))) * len(X)
            ys.append(y)
            preds.append(task.proba(raw).numpy())
    y_all = np.concatenate(ys) if ys else np.zeros(0)
    m = metrics_for(task, y_all, np.concatenate(preds) if preds else np.zeros((0, task.n_outputs)),
                    n_classes=len(p.target_encoder.classes),
                    unscale=p.target_encoder.inverse_values)
    m["loss"] = loss_sum / max(len(y_all), 1)
    m["rows"] = len(y_all)
    return m


def prepare_stream(cfg: RunConfig) -> tuple[Prepared, DataTensors, FileBatches]:
    """The streamed counterpart of :func:`prepare` for a file too large for memory.

    One pass over the file learns the scaling and the classes; evaluation uses the first
    ``EVAL_ROWS`` rows of each split (in memory); training batches come from the returned
    :class:`~mlplab.data.stream.FileBatches`. Mini-batches are 1024 rows unless
    ``train.batch_size`` is a number (the returned ``Prepared.cfg`` says so).
    """
    if not isinstance(cfg.train.batch_size, int):
        cfg = with_overrides(cfg, {"train.batch_size": 1024})
    stats = scan(cfg.data, cfg.seed)
    if decay := default_decay(cfg, stats.n_train):
        cfg = with_overrides(cfg, decay)
    ycol = pd.DataFrame({stats.target: stats.classes if stats.classes is not None
                         else np.linspace(0.0, 1.0, MAX_CLASSES + 1)})
    enc = TargetEncoder.fit(ycol, cfg.task if stats.classes is not None else "regression")
    if enc.task == "regression" and cfg.data.scale_target and cfg.loss != "poisson":
        enc.scaler = {"mean": [stats.target_mean], "scale": [stats.target_std]}  # as scan saw
    pre = Preprocessor(input_columns=stats.features, numeric=stats.features, categorical={},
                       scale=cfg.data.scale, impute="error", center=stats.center,
                       spread=stats.spread, fill={f: None for f in stats.features})
    n_classes = len(enc.classes) if enc.task != "regression" else 1
    task = resolve_task(enc.task, n_classes=n_classes, n_targets=1, loss=cfg.loss,
                        output=cfg.model.output, threshold=cfg.train.threshold)
    classes = None if enc.task == "regression" else list(enc.classes)
    sample = {"train": head_rows(encoded_chunks(cfg, stats, classes, False), EVAL_ROWS)}
    if cfg.data.test_size > 0:
        sample["test"] = head_rows(encoded_chunks(cfg, stats, classes, True), EVAL_ROWS)
    empty = np.zeros((0, len(stats.features)), np.float32)
    Xs = {s: sample[s][0] if s in sample else empty for s in SPLITS}
    ys = {s: sample[s][1] if s in sample else np.zeros(0) for s in SPLITS}
    split = Split(np.arange(stats.n_train), np.arange(0), np.arange(stats.n_rows - stats.n_train))
    p = Prepared(cfg, Table(pd.DataFrame(), pd.DataFrame(), cfg.data.source, "file"), split,
                 pre, enc, task, Xs, ys)
    tensors = DataTensors({s: torch.as_tensor(X) for s, (X, _) in sample.items()},
                          {s: task.targets(y) for s, (_, y) in sample.items()},
                          n_train_global=stats.n_train)
    return p, tensors, FileBatches(cfg, stats, classes)


__all__ = ["AUTO_PLATEAU_SHARE", "AUTO_VAL_FRACTION", "AUTO_VAL_MIN_ROWS", "DataLike",
           "Prepared", "auto_val_size", "default_decay", "model_spec", "prepare", "prepare_stream",
           "resolve_auto", "split_metrics", "table_from"]
