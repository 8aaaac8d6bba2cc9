"""Callbacks: the hooks fit calls and when, early stopping and its typed state, the progress
bar's terminal check, and the one-line run summary."""

from __future__ import annotations

import io
from typing import Any

import pytest
import torch
from torch import nn

from mlplab.config import RunConfig
from mlplab.models import ModelSpec, build_model
from mlplab.tasks import resolve_task
from mlplab.training.callbacks import Callback, EarlyStopping, ProgressBar
from mlplab.training.loop import DataTensors, eager_runner, fit
from mlplab.training.state import BestState

TASK = resolve_task("binary", n_classes=2, n_targets=1, loss="auto", output="logits")


def _data(n: int = 48, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 2, generator=g)
    return X, (X[:, :1] * X[:, 1:] > 0).float()


def _fit(callbacks: list[Callback], val: bool = False, **train: Any) -> Any:
    X, y = _data()
    Xv, yv = _data(seed=1)
    cfg = RunConfig.from_dict({"optim": {"name": "adam", "lr": 0.05},
                               "train": {"epochs": 30, "eval_every": 10, **train}})
    data = DataTensors({"train": X, **({"val": Xv} if val else {})},
                       {"train": y, **({"val": yv} if val else {})})
    model = build_model(ModelSpec(2, [16, 16], ["relu", "relu"], 1), seed=0)
    return fit(model, TASK, data, cfg, callbacks, runner=eager_runner)


def test_hooks_run_in_order_on_their_own_schedules(recorder: Any) -> None:
    """on_epoch at multiples of ``every`` (7), on_eval at multiples of eval_every (10) and
    the last epoch, begin and end once."""
    log = recorder(every=7)
    state = _fit([log])
    assert log.calls == [("begin", 0), ("epoch", 7), ("eval", 10), ("epoch", 14),
                         ("eval", 20), ("epoch", 21), ("epoch", 28), ("eval", 30),
                         ("end", 30)]
    assert [r["epoch"] for r in state.history] == [10, 20, 30]


def test_a_callback_stops_training_and_end_still_runs(recorder: Any) -> None:
    class StopAt14(recorder):  # type: ignore[misc,valid-type]
        def on_epoch(self, state: Any) -> None:
            super().on_epoch(state)
            if state.epoch == 14:
                state.stop, state.stop_reason = True, "enough"

    log = StopAt14(every=7)
    state = _fit([log])
    assert state.epoch == 14 and state.stop_reason == "enough"
    assert log.calls[-2:] == [("eval", 14), ("end", 14)]  # a final row for the stop


class _Rows:
    """A state double: early stopping reads the model, the data's splits and the flags."""

    def __init__(self, val: bool) -> None:
        self.model = nn.Linear(1, 1)
        self.data = DataTensors({"train": torch.zeros(1, 1),
                                 **({"val": torch.zeros(1, 1)} if val else {})},
                                {"train": torch.zeros(1, 1)})
        self.best: BestState | None = None
        self.best_epoch: int | None = None
        self.stop, self.stop_reason = False, None


def _feed(es: EarlyStopping, state: _Rows, losses: list[float], key: str) -> list[int]:
    """Evaluations 1..n with these losses; the weight is set to the epoch so the restored
    weights say which epoch they came from. Returns the epochs that were evaluated."""
    es.on_train_begin(state)  # type: ignore[arg-type]
    seen = []
    for epoch, loss in enumerate(losses, start=1):
        if state.stop:
            break
        with torch.no_grad():
            state.model.weight.fill_(epoch)
        es.on_eval(state, {"epoch": epoch, key: loss})  # type: ignore[arg-type]
        seen.append(epoch)
    es.on_train_end(state)  # type: ignore[arg-type]
    return seen


def test_early_stopping_counts_patience_and_restores_the_best_weights() -> None:
    """Hand-made losses: best at evaluation 2, then two evaluations without improvement."""
    state = _Rows(val=True)
    seen = _feed(EarlyStopping(patience=2), state, [1.0, 0.8, 0.9, 0.85, 0.1], "val_loss")
    assert seen == [1, 2, 3, 4] and state.stop
    assert state.best is not None and (state.best.best_loss, state.best.bad) == (0.8, 2)
    assert state.best_epoch == 2 and float(state.model.weight.detach()) == 2.0
    assert "val_loss did not improve for 2 evaluations (best 0.8 at epoch 2)" in \
        (state.stop_reason or "")


def test_early_stopping_watches_train_loss_without_a_validation_split() -> None:
    state = _Rows(val=False)
    _feed(EarlyStopping(patience=1), state, [0.5, 0.7], "train_loss")
    assert state.best is not None and state.best.monitor == "train_loss" and state.stop


def test_min_delta_counts_tiny_improvements_as_none() -> None:
    best = BestState("val_loss")
    assert best.update(1.0, 1, {}, min_delta=0.1)
    assert not best.update(0.95, 2, {}, min_delta=0.1) and best.bad == 1
    assert best.update(0.85, 3, {}, min_delta=0.1) and best.bad == 0


def test_early_stopping_continues_from_a_saved_state() -> None:
    """A resumed run brings its BestState (from the checkpoint): the count goes on."""
    state = _Rows(val=True)
    state.best = BestState("val_loss", best_loss=0.5, best_epoch=4, bad=1,
                           weights={"weight": torch.full((1, 1), 4.0), "bias": torch.zeros(1)})
    _feed(EarlyStopping(patience=2), state, [0.6], "val_loss")
    assert state.stop and state.best_epoch == 4 and float(state.model.weight.detach()) == 4.0


def test_early_stopping_in_fit_restores_the_best_val_loss() -> None:
    """End to end: the model fit returns scores the best validation loss of its history."""
    state = _fit([], val=True, epochs=2000, eval_every=1, early_stopping=5)
    assert state.epoch < 2000 and state.stop_reason.startswith("early stopping")
    best = min(r["val_loss"] for r in state.history)
    with torch.inference_mode():
        now = float(nn.BCEWithLogitsLoss()(state.model(state.data.X["val"]),
                                           state.data.y["val"]))
    assert now == pytest.approx(best, rel=1e-5)
    assert state.summary == f"stopped at epoch {state.epoch} of 2000 (best {state.best_epoch})"


def test_summary_of_a_completed_run() -> None:
    assert _fit([]).summary == "completed 30 epochs"


def test_progress_bar_only_on_a_terminal() -> None:
    assert not ProgressBar.wanted(quiet=False, stream=io.StringIO())

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert ProgressBar.wanted(quiet=False, stream=Tty())
    assert not ProgressBar.wanted(quiet=True, stream=Tty())
