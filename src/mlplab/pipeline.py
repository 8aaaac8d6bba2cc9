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
from mlplab.resolve import Facts, resolve, split_settings
from mlplab.tasks import TaskSpec, resolve_task
from mlplab.training.state import DataTensors

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

    def facts(self, device: str | None = None) -> Facts:
        """The facts :func:`mlplab.resolve.resolve` reads, of this table (mlplab's MLP)."""
        return table_facts(self.split, self.target_encoder, self.y["train"], device=device)

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


def table_facts(split: Split, encoder: TargetEncoder, y: np.ndarray, *, output: str | None = None,
                device: str | None = None, members: bool = False) -> Facts:
    """The :class:`~mlplab.resolve.Facts` of a split table whose targets ``y`` (any split's
    rows) the ``encoder`` made; ``output``: what a learner's module returns; ``members``:
    whether an "auto" ensemble may train."""
    n_targets = 1 if y.ndim == 1 else int(y.shape[1])
    task = encoder.task
    return Facts(n_train=len(split.train), has_val=len(split.val) > 0, task=task,
                 n_classes=len(encoder.classes) if task != "regression" else n_targets,
                 n_targets=n_targets, output=output, n_rows=sum(split.sizes().values()),
                 device=device, members=members)


def prepare(cfg: RunConfig, data: DataLike = None,
            output: str | Callable[[np.ndarray], str] | None = None,
            device: str | None = None, members: bool = False) -> Prepared:
    """Load, clean, split, fit the preprocessing on the train split and resolve the task.

    The returned ``Prepared.cfg`` is ``cfg`` through :func:`mlplab.resolve.resolve` for this
    table: the validation split held out, the task, loss and output, the batch size, what
    ``"auto"`` stopping became, the weight decay, the device (``device``, else
    :func:`mlplab.models.resolve_device`). Train with it, so the saved config, its exports
    and resumes repeat the run exactly. ``output`` is what a learner's module returns (or a
    function reading it from the training rows); None for mlplab's MLP (logits). ``members``:
    the caller can train an ensemble (``model.ensemble: auto``; :func:`mlplab.api.train`)."""
    table = clean_missing(table_from(data, cfg), cfg.data.impute)
    n_rows = len(table.X)
    split_cfg = with_overrides(cfg, split_settings(cfg, n_rows))
    e = encode_table(table, split_cfg.data, cfg.task, cfg.seed)
    split, pre, encoder, X_all, y_all = e.split, e.preprocessor, e.target_encoder, e.X, e.y
    if callable(output):  # a learner's module: what its forward returns on training rows
        output = output(X_all[split.train])
    facts = table_facts(split, encoder, y_all, output=output, device=device,  # split: n_rows
                        members=members)
    cfg = resolve(cfg, facts)
    task = task_of(cfg, facts.n_classes, facts.n_targets)
    Xs = {s: X_all[getattr(split, s)] for s in SPLITS}
    ys = {s: y_all[getattr(split, s)] for s in SPLITS}
    return Prepared(cfg, table, split, pre, encoder, task, Xs, ys)


def task_of(cfg: RunConfig, n_classes: int, n_targets: int) -> TaskSpec:
    """The TaskSpec of a resolved config (its task, loss and output are names)."""
    return resolve_task(cfg.task, n_classes=n_classes, n_targets=n_targets, loss=cfg.loss,
                        output=cfg.model.output, threshold=cfg.train.threshold)


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
                     output=task.output, dropout=cfg.model.dropout,
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
    :class:`~mlplab.data.stream.FileBatches`. Mini-batches are
    :data:`mlplab.resolve.AUTO_BATCH` rows unless ``train.batch_size`` is a number; the
    returned ``Prepared.cfg`` is resolved (:func:`mlplab.resolve.resolve`).
    """
    stats = scan(cfg.data, cfg.seed)
    ycol = pd.DataFrame({stats.target: stats.classes if stats.classes is not None
                         else np.linspace(0.0, 1.0, MAX_CLASSES + 1)})
    enc = TargetEncoder.fit(ycol, cfg.task if stats.classes is not None else "regression")
    if enc.task == "regression" and cfg.data.scale_target and cfg.loss != "poisson":
        enc.scaler = {"mean": [stats.target_mean], "scale": [stats.target_std]}  # as scan saw
    pre = Preprocessor(input_columns=stats.features, numeric=stats.features, categorical={},
                       scale=cfg.data.scale, impute="error", center=stats.center,
                       spread=stats.spread, fill={f: None for f in stats.features})
    n_classes = len(enc.classes) if enc.task != "regression" else 1
    cfg = resolve(cfg, Facts(n_train=stats.n_train, has_val=False, task=enc.task,
                             n_classes=n_classes, streamed=True, device="cpu"))
    task = task_of(cfg, n_classes, 1)
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


__all__ = ["DataLike", "Prepared", "model_spec", "prepare", "prepare_stream", "split_metrics",
           "table_from", "task_of"]
