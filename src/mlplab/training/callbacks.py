"""Callbacks: everything around the training loop that is not forward/backward/step.

The loop calls, on every callback:

- ``on_train_begin(state)`` once;
- ``on_epoch(state)`` at every epoch that is a multiple of the callback's ``every`` (if set);
- ``on_eval(state, row)`` at every evaluation (each ``train.eval_every`` epochs and the last),
  with the history row just computed;
- ``on_train_end(state)`` once, also after Ctrl-C;
- ``on_batch_end(state, batch_index)`` after every optimizer step, only for a callback that
  sets ``batch_end = True``. Runners declare whether they can call it (the option
  ``callback.on_batch_end`` in :mod:`.runners.support`): the eager, stream and DDP runners do;
  the fused, NumPy and stacked runners refuse it up front (``train.fast=auto`` then picks the
  eager runner), since their weights live in their own buffers between steps.

A callback stops training by setting ``state.stop = True`` (and ``state.stop_reason``).
"""

from __future__ import annotations

import sys
from typing import Any

from mlplab.config import RunConfig
from mlplab.training.state import BestState, TrainState


class Callback:
    """Base class: override the hooks you need. ``every`` asks for ``on_epoch`` calls."""

    every: int | None = None
    batch_end: bool = False  # True: call on_batch_end after every optimizer step

    def on_train_begin(self, state: TrainState) -> None:
        """Called once before the first epoch."""

    def on_epoch(self, state: TrainState) -> None:
        """Called at epochs that are multiples of ``every``."""

    def on_eval(self, state: TrainState, row: dict[str, Any]) -> None:
        """Called after each evaluation with the new history row."""

    def on_train_end(self, state: TrainState) -> None:
        """Called once at the end, whatever stopped training."""

    def on_batch_end(self, state: TrainState, batch_index: int) -> None:
        """Called after each optimizer step (``batch_index`` counts from 0 in each epoch)
        when ``batch_end`` is True; the model holds the weights after that step."""


class EarlyStopping(Callback):
    """Stop when the monitored loss has not improved for ``patience`` evaluations.

    Monitors ``val_loss`` when there is a validation split, otherwise ``train_loss``; the best
    weights are restored at the end. Its memory is ``state.best`` (a typed
    :class:`~mlplab.training.state.BestState` that checkpoints save), so a resumed run
    continues the count where the interrupted one left it.

    ``patience`` is a number: :func:`mlplab.resolve.resolve` decides before training what
    the config's ``"auto"`` becomes (a patience with a validation split, else no stopping).
    """

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        assert isinstance(patience, int), "resolve the config first (mlplab.resolve.resolve)"
        self.patience = patience
        self.min_delta = min_delta

    def on_train_begin(self, state: TrainState) -> None:
        if state.best is None:  # a fresh run (a resumed one brings its own)
            state.best = BestState("val_loss" if state.data.has("val") else "train_loss")

    def on_eval(self, state: TrainState, row: dict[str, Any]) -> None:
        best = state.best
        if best is None:
            return
        value = row.get(best.monitor)
        if value is None:
            return
        best.update(value, row["epoch"], state.model.state_dict(), self.min_delta)
        if best.bad >= int(self.patience) and not state.stop:
            state.stop = True
            state.stop_reason = (f"early stopping: {best.monitor} did not improve for "
                                 f"{self.patience} evaluations (best {best.best_loss:.4g} at "
                                 f"epoch {best.best_epoch})")

    def on_train_end(self, state: TrainState) -> None:
        if state.best is not None and state.best.weights:
            state.model.load_state_dict(state.best.weights)
            state.best_epoch = state.best.best_epoch


def early_stopping_for(cfg: RunConfig) -> list[Callback]:
    """The early stopping a run of ``cfg`` gets (``[]`` when off); the loop calls it before
    every other callback, so checkpoints and progress see its verdict for an evaluation."""
    patience = cfg.train.early_stopping
    assert patience != "auto", "resolve the config first (mlplab.resolve.resolve)"
    return [EarlyStopping(patience)] if patience else []


class ProgressBar(Callback):
    """A live rich progress bar (epoch, loss, accuracy, ETA) on a terminal."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self._progress: Any = None
        self._task: Any = None

    @staticmethod
    def wanted(quiet: bool, stream: Any = None) -> bool:
        """True when output goes to a terminal and the user did not ask for quiet."""
        s = stream or sys.stderr
        return not quiet and hasattr(s, "isatty") and s.isatty()

    def on_train_begin(self, state: TrainState) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]epoch"), MofNCompleteColumn(), BarColumn(),
            TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("eta"),
            TimeRemainingColumn(), console=Console(file=self.stream), transient=False)
        self._progress.start()
        self._task = self._progress.add_task("train", total=state.epochs, info="")

    def on_eval(self, state: TrainState, row: dict[str, Any]) -> None:
        if self._progress is None:
            return
        info = f"loss {row['train_loss']:.4f}"
        for split in ("val", "test"):
            score = row.get(f"{split}_{state.score_name}")
            if score is not None:
                info += f"  {split} {state.score_name} {score:.3f}"
                break
        self._progress.update(self._task, completed=row["epoch"], info=info)

    def on_train_end(self, state: TrainState) -> None:
        if self._progress is not None:
            self._progress.stop()
