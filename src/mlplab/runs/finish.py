"""A finished training as a :class:`~mlplab.runs.run.Run`: metrics per split and bookkeeping.

It sits above both the pipeline (data, metrics) and the Run, so that the pipeline needs no Run
and the Run's notebook views may use the pipeline without a cycle.
"""

from __future__ import annotations

import resource
import sys

from torch import nn

from mlplab.config import RunConfig
from mlplab.models import count_parameters
from mlplab.pipeline import Prepared, split_metrics
from mlplab.runs.run import Run
from mlplab.training.state import DataTensors, TrainState


def finish_run(cfg: RunConfig, net: nn.Module, p: Prepared, tensors: DataTensors,
               state: TrainState) -> Run:
    """Metrics and bookkeeping after training: the :class:`Run` to save or return."""
    metrics = split_metrics(net, p.task, p, tensors)
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


__all__ = ["finish_run"]
