"""The whole workflow in one call: data -> split -> preprocess -> task -> model -> train ->
metrics -> run directory.

Example
-------
>>> run = train({"data": {"source": "gaussians", "n_samples": 200},
...              "model": {"hidden": [4]}, "train": {"epochs": 50}}, save=False)
>>> run.task.name, run.metrics["test"]["accuracy"] > 0.95
('binary', True)
>>> run.predict([[2.0, 2.0], [-2.0, -2.0]]).tolist()
[1, 0]
"""

from __future__ import annotations

import resource
import sys
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import torch
from torch import nn

from mlplab.config import RunConfig
from mlplab.data import (
    Preprocessor,
    Split,
    Table,
    TargetEncoder,
    clean_missing,
    load_table,
    split_indices,
)
from mlplab.errors import ConfigError, DataError, MlplabWarning
from mlplab.metrics import classification_metrics, regression_metrics
from mlplab.models import ModelSpec, build_model, count_parameters, resolve_device
from mlplab.runs import store as runs
from mlplab.runs.run import Run
from mlplab.tasks import TaskSpec, detect_output, resolve_task
from mlplab.training.callbacks import Callback, ProgressBar
from mlplab.training.loop import DataTensors, TrainState, fit, make_loss

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
        return load_table(cfg.data, cfg.seed)
    if isinstance(data, pd.DataFrame):
        target = cfg.data.target
        if target is None:
            raise ConfigError("a DataFrame needs data.target", hint="set data.target to the "
                              f"label column (columns: {', '.join(map(str, data.columns))})")
        names = [target] if isinstance(target, str) else list(target)
        missing = [n for n in names if n not in data.columns]
        if missing:
            raise DataError(f"target column {missing[0]!r} not in the DataFrame",
                            hint=f"columns: {', '.join(map(str, data.columns))}")
        feats = cfg.data.features or [c for c in data.columns if c not in names]
        return Table(data[feats].reset_index(drop=True), data[names].reset_index(drop=True),
                     "dataframe", "memory")
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


def prepare(cfg: RunConfig, data: DataLike = None, output: str | None = None) -> Prepared:
    """Load, clean, split, fit the preprocessing on the train split and resolve the task."""
    table = clean_missing(table_from(data, cfg), cfg.data.impute)
    encoder = TargetEncoder.fit(table.y, cfg.task)
    y_all = encoder.transform(table.y)
    strat = y_all if encoder.task in ("binary", "multiclass") else None
    split = split_indices(len(table.X), test_size=cfg.data.test_size,
                          val_size=cfg.data.val_size, seed=cfg.seed, stratify=strat)
    pre = Preprocessor.fit(table.X.iloc[split.train], scale=cfg.data.scale,
                           impute=cfg.data.impute)
    X_all = pre.transform(table.X)
    n_targets = 1 if y_all.ndim == 1 else y_all.shape[1]
    n_classes = len(encoder.classes) if encoder.task != "regression" else n_targets
    task = resolve_task(encoder.task, n_classes=n_classes, n_targets=n_targets, loss=cfg.loss,
                        output=output or cfg.model.output, threshold=cfg.train.threshold)
    Xs = {s: X_all[getattr(split, s)] for s in ("train", "val", "test")}
    ys = {s: y_all[getattr(split, s)] for s in ("train", "val", "test")}
    return Prepared(cfg, table, split, pre, encoder, task, Xs, ys)


def model_spec(cfg: RunConfig, n_features: int, task: TaskSpec) -> ModelSpec:
    return ModelSpec(in_features=n_features, hidden=list(cfg.model.hidden),
                     activations=cfg.model.activations(), n_outputs=task.n_outputs,
                     output=cfg.model.output, dropout=cfg.model.dropout,
                     batchnorm=cfg.model.batchnorm, init=cfg.model.init)


def split_metrics(model: nn.Module, task: TaskSpec, p: Prepared,
                  data: DataTensors) -> dict[str, Any]:
    """Final metrics per split (scikit-learn's functions), plus each split's loss."""
    loss_fn = make_loss(task, weighted=False)
    out: dict[str, Any] = {}
    model.eval()
    with torch.inference_mode():
        for split in ("train", "val", "test"):
            if not data.has(split):
                continue
            raw = model(data.X[split])
            if task.is_classification:
                m = classification_metrics(p.y[split], task.proba(raw).cpu().numpy(),
                                           task=task.name, threshold=task.threshold,
                                           n_classes=len(p.target_encoder.classes))
            else:
                m = regression_metrics(p.y[split], raw.cpu().numpy())
            m["loss"] = float(loss_fn(raw, data.y[split]))
            out[split] = m
    return out


def _callbacks_for(cfg: RunConfig, progress: bool | None, p: Prepared | None = None,
                   out: Path | None = None) -> list[Callback]:
    cbs: list[Callback] = []
    show = ProgressBar.wanted(cfg.log.quiet) if progress is None else progress
    if progress is not False and not cfg.log.quiet and "ipykernel" in sys.modules:
        from mlplab.inspect.notebook import live_display  # Jupyter: one live output, no bar

        cbs += live_display()
    elif show:
        cbs.append(ProgressBar())
    if p is not None and (cfg.log.tensorboard or cfg.log.snapshots_every or
                          (out is not None and cfg.log.plots)):
        from mlplab.inspect.tracking import tracking_callbacks  # snapshots and TensorBoard
        cbs += tracking_callbacks(cfg, p, out)
    return cbs


def train(config: RunConfig | dict[str, Any] | str | Path | None = None, *,
          data: DataLike = None, model: nn.Module | None = None, out: str | Path | None = None,
          overwrite: bool = False, save: bool = True, callbacks: Iterable[Callback] = (),
          progress: bool | None = None, sample_weight: np.ndarray | None = None,
          resume: str | Path | None = None) -> Run:
    """Train a model as ``config`` says and (unless ``save=False``) write its run directory.

    Parameters
    ----------
    config : RunConfig, dict, path to YAML/TOML, or None for the defaults.
    data : optional in-memory data instead of ``config.data.source``: a DataFrame (with
        ``data.target`` naming the label column) or a tuple ``(X, y)``.
    model : optional ``nn.Module`` to train instead of the MLP the config describes. Its
        output must fit the task (checked on the first batch).
    out : run directory; default ``runs/<name>-<timestamp>``. An existing non-empty directory
        is refused unless ``overwrite``.
    sample_weight : optional weights for the training rows (length = rows of the data before
        splitting are not known to the caller, so this is per *train-split* row).
    resume : a run directory with checkpoints (``log.checkpoint_every``): continue it with its
        own config (``config`` is ignored) up to the same final weights as an uninterrupted run.

    Under ``torchrun`` (``WORLD_SIZE > 1``) every process calls this; each trains on its shard
    with DistributedDataParallel and only rank 0 writes (see :mod:`mlplab.training.runners.ddp`).
    """
    from mlplab.training import checkpoint
    from mlplab.training.runners import ddp as distributed

    ck = checkpoint.resume_point(resume) if resume is not None else None
    cfg = ck.config if ck is not None else RunConfig.from_any(config)
    dist = distributed.setup(cfg.train.device)
    out_path = Path(resume) if resume is not None else None
    if save and out_path is None:
        out_path = Path(out) if out is not None else runs.default_run_dir(cfg.name)
        runs.check_out_dir(out_path, overwrite)
    if data is None and model is None and ck is None and not dist.active:
        from mlplab.data.stream import should_stream, train_stream

        if should_stream(cfg.data):  # a file too large for memory: chunks + shuffle buffer
            return train_stream(cfg, out=out_path, overwrite=overwrite)
    output = detect_output(model) if model is not None else None
    p = prepare(cfg, data, output=output)
    device = dist.device or resolve_device(cfg.train.device)
    torch.manual_seed(cfg.seed)
    net = model if model is not None else build_model(model_spec(cfg, p.n_features, p.task),
                                                      seed=cfg.seed)
    net.to(device)
    tensors = p.tensors(device, sample_weight)
    own = _callbacks_for(cfg, progress if dist.is_main else False, p,
                         out_path if dist.is_main else None)
    ckpt = checkpoint.callbacks_for(cfg, out_path, ck, write=dist.is_main)
    kw = checkpoint.optimizer_and_scheduler(net, cfg, tensors.n_train, ck) \
        if ck is not None or dist.active else {}
    state = fit(net, p.task, dist.shard(tensors), cfg,
                [*dist.callbacks(), *own, *ckpt, *callbacks], runner=dist.runner(), **kw)
    run = finish_run(cfg, net, p, tensors, state)
    if out_path is not None and dist.is_main:
        checkpoint.save_run(run, out_path, overwrite)
        if cfg.log.plots or cfg.log.tensorboard or cfg.log.snapshots_every:
            from mlplab.inspect.tracking import finish_logging  # figures, report.html, TensorBoard
            finish_logging(run, p, own)
    return run


def finish_run(cfg: RunConfig, net: nn.Module, p: Prepared, tensors: DataTensors,
               state: TrainState) -> Run:
    """Metrics and bookkeeping after training: the :class:`Run` to save or return."""
    metrics = split_metrics(net, p.task, p, tensors)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    info = {"epochs_run": state.epoch, "stop_reason": state.stop_reason or "completed",
            "best_epoch": state.best_epoch, "seconds": round(state.seconds, 3),
            "runner": state.runner_name, "batch_size": state.batch_size,
            "device": str(next(net.parameters()).device), "n_parameters": count_parameters(net),
            "n_train": len(p.split.train), "n_val": len(p.split.val),
            "n_test": len(p.split.test),
            "peak_rss_mb": round(rss / (1024 if sys.platform != "darwin" else 1024**2), 1)}
    metrics["training"] = info
    return Run(config=cfg, model=net, task=p.task, preprocessor=p.preprocessor,
               target_encoder=p.target_encoder, metrics=metrics, history=state.history,
               info=info)
