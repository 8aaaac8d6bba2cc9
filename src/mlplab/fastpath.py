"""Choosing the runner that executes training epochs.

The eager runner (:func:`mlplab.train.eager_runner`) is always correct; faster runners for
tiny full-batch nets plug in here and are picked when they apply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlplab.train import Runner, TrainState


def select_runner(state: TrainState) -> tuple[Runner, str]:
    """The runner for this training state and its name (recorded in the run's metrics)."""
    from mlplab.train import eager_runner

    return eager_runner, "eager"
