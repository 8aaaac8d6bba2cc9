"""``fit``: the only training loop, for every way of training.

Epochs run in segments between "boundaries" (evaluations and callbacks' ``every`` epochs); a
runner executes a whole segment at once: the eager runner loops over in-memory batches, the
stream runner over file chunks, the DDP runner over a rank's shard, the fused runners replace
the step's maths with kernels proven equal to it. Everything between segments happens here,
once: evaluation (under ``torch.inference_mode()``, no host syncs in the hot loop), callbacks,
the NaN/inf check, Ctrl-C, the plateau schedule and early stopping (a callback, whose state is
typed and checkpointed). Options a runner cannot honour are refused before the first epoch.

:func:`train_loop` is that loop; it trains a :class:`Group`: one run (``fit`` wraps its state
as a :class:`Solo`) or a sweep's K stacked members
(:class:`~mlplab.training.runners.stacked_group.MemberGroup`), each member with its own state,
early stopping and callbacks.

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
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn

from mlplab import threads
from mlplab.config import RunConfig
from mlplab.errors import TrainingError
from mlplab.resolve import Facts, resolve, unresolved
from mlplab.tasks import TaskSpec
from mlplab.training.callbacks import Callback, early_stopping_for
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


class Group(Protocol):
    """What the loop trains: K member states whose segments one runner runs together.

    A single run is a group of one (:class:`Solo`); the stacked runner's
    :class:`~mlplab.training.runners.stacked_group.MemberGroup` holds a sweep's K members.
    Members share ``epochs`` and ``train.eval_every``; each keeps its own state and callbacks.
    """

    @property
    def states(self) -> Sequence[TrainState]: ...

    def run(self, runner: Any, n_epochs: int) -> None:
        """``n_epochs`` epochs of every running member (``state.stop`` false)."""

    def evaluate(self, due: Sequence[int], t0: float) -> list[dict[str, Any]]:
        """The history rows of members ``due`` (indices into ``states``), before any check."""
        ...


@dataclass
class Solo:
    """One training state as a group of one: its runner is called with the state."""

    state: TrainState

    @property
    def states(self) -> Sequence[TrainState]:
        return (self.state,)

    def run(self, runner: Runner, n_epochs: int) -> None:
        runner(self.state, n_epochs)

    def evaluate(self, due: Sequence[int], t0: float) -> list[dict[str, Any]]:
        return [eval_row(self.state, t0)]


def _boundaries(epoch: int, epochs: int, eval_every: int, callbacks: Iterable[Callback]) -> int:
    """The next epoch after ``epoch`` at which something must happen."""
    periods = [eval_every] + [c.every for c in callbacks if c.every]
    return min([epochs] + [(epoch // p + 1) * p for p in periods])


def eval_row(state: TrainState, t0: float) -> dict[str, Any]:
    """One history row of a single run: train loss, each split's loss and score, lr, clock."""
    last = float(state.last_loss) if state.last_loss is not None else float("nan")
    row: dict[str, Any] = {"epoch": state.epoch, "train_loss": last}
    if not math.isfinite(last):
        return row  # diverged: the loop stops here (see divergence)
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


def divergence(state: TrainState, row: dict[str, Any]) -> TrainingError | None:
    """The error a run whose train loss is NaN/inf stops with (None while it is finite)."""
    last = row["train_loss"]
    if math.isfinite(last):
        return None
    return TrainingError(
        f"training diverged: the loss became {last} at epoch {state.epoch}",
        hint=f"lower the learning rate (e.g. --lr {state.cfg.optim.lr / 10:g}) or clip "
             "gradients with --clip-grad-norm 1.0")


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
    if unresolved(cfg):  # library use with a raw config: the one resolution stage
        cfg = resolve(cfg, Facts(n_train=data.n_train, has_val=data.has("val"), task=task.name,
                                 n_classes=task.n_classes, n_targets=task.n_outputs,
                                 output=task.output, loss=task.loss, device=_device_of(model)))
    cbs = [*early_stopping_for(cfg), *callbacks]
    bs = resolve_batch_size(cfg.train.batch_size, data.n_train)  # a number >= the rows: full
    threads.apply(model, bs or data.n_train,
                  cfg.train.num_threads)  # the thread policy; callers undo it with restoring()
    epochs = cfg.train.epochs
    opt = optimizer or build_optimizer(model, cfg)
    sched = scheduler if scheduler is not None or optimizer is not None else \
        build_scheduler(opt, cfg, epochs, steps_per_epoch(bs, data.n_train))
    state = TrainState(model=model, optimizer=opt, scheduler=sched, task=task, cfg=cfg,
                       data=data, epochs=epochs, batch_size=bs, epoch=start_epoch,
                       history=list(history or []), best=best,
                       generator=torch.Generator().manual_seed(cfg.seed + start_epoch),
                       batch_callbacks=[cb for cb in cbs if cb.batch_end])
    with torch.inference_mode():  # refuse a user module whose output does not fit the task
        model.eval()
        task.check_output_shape(model(data.X["train"][:2]))
    model.train()
    if runner is None:
        runner, state.runner_name = select_runner(state)
    else:
        check_runner(runner, state)
        state.runner_name = getattr(runner, "name", "custom")
    train_loop(Solo(state), runner, [cbs])
    model.eval()
    if state.error is not None:
        raise state.error
    return state


def _device_of(model: nn.Module) -> str:
    param = next(iter(model.parameters()), None)
    return str(param.device) if param is not None else "cpu"


def train_loop(group: Group, runner: Any, callbacks: Sequence[Sequence[Callback]]) -> None:
    """The loop: segments of ``runner`` between boundaries, then evaluation and callbacks.

    ``callbacks[k]`` are member k's (its early stopping first). A member stops on its own
    (a callback sets ``stop``, or its loss diverges: ``stop_reason`` "diverged" and
    ``error`` the :class:`~mlplab.errors.TrainingError` a solo run raises); the others go
    on. Ctrl-C stops every running member after the current segment.
    """
    states = group.states
    t0 = time.perf_counter()
    for st, cbs in zip(states, callbacks, strict=True):
        for cb in cbs:
            cb.on_train_begin(st)
    try:
        while running := [k for k, st in enumerate(states) if not st.stop
                          and st.epoch < st.epochs]:
            first = states[running[0]]
            every, epochs = first.cfg.train.eval_every, first.epochs
            target = _boundaries(first.epoch, epochs, every,
                                 (cb for k in running for cb in callbacks[k]))
            try:
                group.run(runner, target - first.epoch)
            except KeyboardInterrupt:
                for k in running:
                    states[k].stop = True
                    states[k].stop_reason = f"interrupted at epoch {states[k].epoch}"
                if first.last_loss is None:
                    break
            for k in running:
                for cb in callbacks[k]:
                    if cb.every and states[k].epoch % cb.every == 0:
                        cb.on_epoch(states[k])
            due = [k for k in running if states[k].epoch % every == 0
                   or states[k].epoch == epochs or states[k].stop]
            if due:
                _evaluated(group, due, callbacks, t0)
    finally:
        for st, cbs in zip(states, callbacks, strict=True):
            st.seconds = time.perf_counter() - t0
            for cb in cbs:
                cb.on_train_end(st)


def _evaluated(group: Group, due: list[int], callbacks: Sequence[Sequence[Callback]],
               t0: float) -> None:
    """Each due member's row: the NaN/inf check, its history, plateau schedule, callbacks."""
    for k, row in zip(due, group.evaluate(due, t0), strict=True):
        st = group.states[k]
        error = divergence(st, row)
        if error is not None:
            st.stop, st.stop_reason, st.error = True, "diverged", error
            continue
        st.history.append(row)
        if st.cfg.schedule.name == "plateau" and st.scheduler is not None:
            st.scheduler.step(row.get("val_loss", row["train_loss"]))
        for cb in callbacks[k]:
            cb.on_eval(st, row)


__all__ = ["SPLITS", "BestState", "DataTensors", "Group", "Solo", "TrainState",
           "build_optimizer", "build_scheduler", "divergence", "eager_runner", "eval_row",
           "evaluate_split", "fit", "make_loss", "resolve_batch_size", "train_loop"]
