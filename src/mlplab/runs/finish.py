"""A finished training as a :class:`~mlplab.runs.run.Run`: metrics per split and bookkeeping.

It sits above both the pipeline (data, metrics) and the Run, so that the pipeline needs no Run
and the Run's notebook views may use the pipeline without a cycle. :func:`finish_run` scores
one model; :func:`finish_members` scores a stack's K members from their batched outputs with
the batched metrics (:func:`~mlplab.metrics.classification_metrics_batch`), equal to what
:func:`finish_run` gives each member.
"""

from __future__ import annotations

import resource
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from mlplab.config import RunConfig
from mlplab.metrics import classification_metrics_batch, regression_metrics_batch
from mlplab.models import count_parameters
from mlplab.pipeline import SPLITS, Prepared, split_metrics
from mlplab.runs.run import Run
from mlplab.training.state import DataTensors, TrainState


def finish_run(cfg: RunConfig, net: nn.Module, p: Prepared, tensors: DataTensors,
               state: TrainState) -> Run:
    """Metrics and bookkeeping after training: the :class:`Run` to save or return."""
    return _run(cfg, net, p, state, split_metrics(net, p.task, p, tensors))


def _run(cfg: RunConfig, net: nn.Module, p: Prepared, state: TrainState,
         metrics: dict[str, Any]) -> Run:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    info = {"epochs_run": state.epoch, "stop_reason": state.stop_reason or "completed",
            "best_epoch": state.best_epoch, "summary": state.summary,
            "seconds": round(state.seconds, 3),
            "runner": state.runner_name, "batch_size": state.batch_size,
            "device": str(next(net.parameters()).device), "n_parameters": count_parameters(net),
            "n_train": len(p.split.train), "n_val": len(p.split.val),
            "n_test": len(p.split.test),
            "peak_rss_mb": round(rss / (1024 if sys.platform != "darwin" else 1024**2), 1)}
    metrics["training"] = info
    return Run(config=cfg, model=net, task=p.task, preprocessor=p.preprocessor,
               target_encoder=p.target_encoder, metrics=metrics, history=state.history,
               info=info)


def member_metrics(preps: Sequence[Prepared], tensors: Sequence[DataTensors],
                   outputs: dict[str, torch.Tensor]) -> list[dict[str, Any]]:
    """Each member's metrics per split, as :func:`~mlplab.pipeline.split_metrics` gives a
    solo run's, from the members' model outputs ``outputs[split]`` (K, n, out)."""
    task = preps[0].task
    out: list[dict[str, Any]] = [{} for _ in preps]
    for split in SPLITS:
        if split not in outputs:
            continue
        raw = outputs[split]
        K, n, o = raw.shape
        proba = task.proba(raw.reshape(K * n, o)).reshape(K, n, -1).cpu().numpy()
        if task.is_classification:
            ms = classification_metrics_batch(
                np.stack([p.y[split] for p in preps]), proba, task=task.name,
                threshold=task.threshold, n_classes=len(preps[0].target_encoder.classes))
        else:  # in each member's target units
            ms = regression_metrics_batch(
                np.stack([p.target_encoder.inverse_values(p.y[split]) for p in preps]),
                np.stack([p.target_encoder.inverse_values(v) for p, v in
                          zip(preps, proba, strict=True)]))
        for k, (m, t) in enumerate(zip(ms, tensors, strict=True)):
            m["loss"] = float(task.batch_loss(raw[k], t.y[split]))
            out[k][split] = m
    return out


def finish_members(cfgs: Sequence[RunConfig], nets: Sequence[nn.Module],
                   preps: Sequence[Prepared], tensors: Sequence[DataTensors],
                   states: Sequence[TrainState],
                   outputs: dict[str, torch.Tensor]) -> list[Run]:
    """:func:`finish_run` for K members at once, scored from their outputs (K, n, out)."""
    metrics = member_metrics(preps, tensors, outputs)
    return [_run(c, net, p, st, m) for c, net, p, st, m
            in zip(cfgs, nets, preps, states, metrics, strict=True)]


__all__ = ["finish_members", "finish_run", "member_metrics"]
