"""Shared fixtures of the training tests: a user callback that records every hook call."""

from __future__ import annotations

from typing import Any

import pytest

from mlplab.training.callbacks import Callback


class Recorder(Callback):
    """A user callback: which hooks ran, at which epochs (``every`` asks for on_epoch)."""

    def __init__(self, every: int | None = None) -> None:
        self.every = every
        self.calls: list[tuple[str, int]] = []

    def on_train_begin(self, state: Any) -> None:
        self.calls.append(("begin", state.epoch))

    def on_epoch(self, state: Any) -> None:
        self.calls.append(("epoch", state.epoch))

    def on_eval(self, state: Any, row: dict[str, Any]) -> None:
        self.calls.append(("eval", row["epoch"]))

    def on_train_end(self, state: Any) -> None:
        self.calls.append(("end", state.epoch))


@pytest.fixture
def recorder() -> type[Recorder]:
    """The recording callback's class: ``recorder(every=2)`` makes one (subclass it to act)."""
    return Recorder
