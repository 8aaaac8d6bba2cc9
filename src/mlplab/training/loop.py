"""``fit``: the only training loop, for every way of training.

Epochs run in segments between "boundaries" (evaluations and callbacks' ``every`` epochs); a
runner executes a whole segment at once: the eager runner loops over in-memory batches, the
stream runner over file chunks, the DDP runner over a rank's shard, the fused runners replace
the step's maths with kernels proven equal to it. Everything between segments happens here,
once: evaluation (under ``torch.inference_mode()``, no host syncs in the hot loop), callbacks,
the NaN/inf check, Ctrl-C, the plateau schedule and early stopping (a callback, whose state is
typed and checkpointed). Options a runner cannot honour are refused before the first epoch.

Example
-------
>>> import torch
>>> from mlplab.config import RunConfig
>>> from mlplab.models import ModelSpec, build_model
>>> from mlplab.tasks import resolve_task
>>> task = resolve_task("binary", n_classes=2, n_targets=1, loss="auto", output="logits")
>>> X = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
>>> y = (X[:, :1] > 0).float()
>>> cfg = RunConfig.from_dict({"train": {"epochs": 50, "eval_every": 25}})
>>> state = fit(build_model(ModelSpec(2, [4], ["relu"], 1), seed=0), task,
...             DataTensors({"train": X}, {"train": y}), cfg)
>>> [row["epoch"] for row in state.history], state.summary
([25, 50], 'completed 50 epochs')
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn

from mlplab import threads
from mlplab.config import RunConfig
from mlplab.errors import TrainingError
from mlplab.tasks import TaskSpec
from mlplab.training.callbacks import Callback, EarlyStopping
from mlplab.training.runners.eager import eager_runner
from mlplab.training.runners.select import Runner, check_runner, select_runner
from mlplab.training.state import BestState, DataTensors, TrainState
from mlplab.training.step import (
    build_optimizer,
    build_scheduler,
    evaluate_split,
    make_loss,
    resolve_batch_size,
    steps_per_epoch,
)

SPLITS = ("train", "val", "test")


def _boundaries(epoch: int, epochs: int, eval_every: int, callbacks: Sequence[Callback]) -> int:
    """The next epoch after ``epoch`` at which something must happen."""
    periods = [eval_every] + [c.every for c in callbacks if c.every]
    return min([epochs] + [(epoch // p + 1) * p for p in periods])


def _eval_row(state: TrainState, t0: float) -> dict[str, Any]:
    row: dict[str, Any] = {"epoch": state.epoch}
    last = float(state.last_loss) if state.last_loss is not None else float("nan")
    if not math.isfinite(last):
        raise TrainingError(
            f"training diverged: the loss became {last} at epoch {state.epoch}",
            hint=f"lower the learning rate (e.g. --lr {state.cfg.optim.lr / 10:g}) or clip "
                 "gradients with --clip-grad-norm 1.0")
    row["train_loss"] = last
    for split in SPLITS:
        if not state.data.has(split):
            continue
        loss, score = evaluate_split(state.model, state.task, state.task.batch_loss,
                                     state.data.X[split], state.data.y[split])
        if split != "train":
            row[f"{split}_loss"] = loss
        row[f"{split}_{state.score_name}"] = score
    row["lr"] = state.lr
    row["seconds"] = round(time.perf_counter() - t0, 4)
    return row


def fit(model: nn.Module, task: TaskSpec, data: DataTensors, cfg: RunConfig,
        callbacks: Iterable[Callback] = (), *, optimizer: torch.optim.Optimizer | None = None,
        scheduler: Any = None, runner: Runner | None = None, start_epoch: int = 0,
        history: list[dict[str, Any]] | None = None,
        best: BestState | None = None) -> TrainState:
    """Train ``model`` on ``data`` as ``cfg`` says; returns the final :class:`TrainState`.

    ``runner`` (default: chosen by ``train.fast``, see :mod:`.runners.select`) runs the
    epochs; ``optimizer``/``scheduler``/``start_epoch``/``history``/``best`` continue an
    earlier run (a checkpoint or ``partial_fit``). Ctrl-C stops after the current epoch and
    still returns (``stop_reason`` says so); a NaN/inf loss raises
    :class:`~mlplab.errors.TrainingError`. Options the runner cannot honour raise
    :class:`~mlplab.errors.ConfigError` before the first epoch.
    """
    # early stopping decides first, so the callbacks after it (checkpoints, progress) see
    # its verdict for this evaluation
    stopping = [EarlyStopping(cfg.train.early_stopping)] if cfg.train.early_stopping else []
    cbs = [*stopping, *callbacks]
    threads.apply(model, resolve_batch_size(cfg.train.batch_size, data.n_train) or data.n_train,
                  cfg.train.num_threads)  # the thread policy; callers undo it with restoring()
    epochs = cfg.train.epochs
    bs = resolve_batch_size(cfg.train.batch_size, data.n_train)
    opt = optimizer or build_optimizer(model, cfg)
    sched = scheduler if scheduler is not None or optimizer is not None else \
        build_scheduler(opt, cfg, epochs, steps_per_epoch(bs, data.n_train))
    state = TrainState(model=model, optimizer=opt, scheduler=sched, task=task, cfg=cfg,
                       data=data, epochs=epochs, batch_size=bs, epoch=start_epoch,
                       history=list(history or []), best=best,
                       generator=torch.Generator().manual_seed(cfg.seed + start_epoch))
    with torch.inference_mode():  # refuse a user module whose output does not fit the task
        model.eval()
        task.check_output_shape(model(data.X["train"][:2]))
    model.train()
    if runner is None:
        runner, state.runner_name = select_runner(state)
    else:
        check_runner(runner, state)
        state.runner_name = getattr(runner, "name", "custom")
    _train(state, runner, cbs)
    model.eval()
    return state


def _train(state: TrainState, runner: Runner, cbs: list[Callback]) -> None:
    cfg, epochs = state.cfg, state.epochs
    plateau = state.scheduler if cfg.schedule.name == "plateau" else None
    t0 = time.perf_counter()
    for cb in cbs:
        cb.on_train_begin(state)
    try:
        while state.epoch < epochs and not state.stop:
            target = _boundaries(state.epoch, epochs, cfg.train.eval_every, cbs)
            try:
                runner(state, target - state.epoch)
            except KeyboardInterrupt:
                state.stop, state.stop_reason = True, f"interrupted at epoch {state.epoch}"
                if state.last_loss is None:
                    break
            for cb in cbs:
                if cb.every and state.epoch % cb.every == 0:
                    cb.on_epoch(state)
            if state.epoch % cfg.train.eval_every == 0 or state.epoch == epochs or state.stop:
                row = _eval_row(state, t0)
                state.history.append(row)
                if plateau is not None:
                    plateau.step(row.get("val_loss", row["train_loss"]))
                for cb in cbs:
                    cb.on_eval(state, row)
    finally:
        state.seconds = time.perf_counter() - t0
        for cb in cbs:
            cb.on_train_end(state)


__all__ = ["SPLITS", "BestState", "DataTensors", "TrainState", "build_optimizer",
           "build_scheduler", "eager_runner", "evaluate_split", "fit", "make_loss",
           "resolve_batch_size"]
