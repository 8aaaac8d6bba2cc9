"""What training works on and leaves behind: the data tensors and the typed training state.

Every field that modules share is declared here (no untyped ``extra`` dict): runners move
``epoch`` and ``last_loss``, callbacks read the history and may set ``stop``, early stopping
keeps its :class:`BestState`, and checkpoints save all of it.

Example
-------
>>> best = BestState(monitor="val_loss")
>>> best.update(0.5, epoch=10, weights={}), best.update(0.7, epoch=20, weights={})
(True, False)
>>> best.best_loss, best.best_epoch, best.bad
(0.5, 10, 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from mlplab.config import RunConfig
from mlplab.errors import TrainingError
from mlplab.tasks import TaskSpec


@dataclass
class DataTensors:
    """Preprocessed features and encoded targets per split, already on the device."""

    X: dict[str, torch.Tensor]
    y: dict[str, torch.Tensor]
    w: torch.Tensor | None = None  # per-sample weights of the train split (or None)
    n_train_global: int | None = None  # rows of the train split over all ranks (DDP shards)

    def has(self, split: str) -> bool:
        """True when ``split`` exists and has rows."""
        return split in self.X and len(self.X[split]) > 0

    @property
    def n_train(self) -> int:
        """Training rows of the whole job (all ranks' shards together)."""
        return self.n_train_global or len(self.X["train"])


@dataclass
class BestState:
    """Early stopping's memory: the best monitored loss so far, where, and its weights.

    ``bad`` counts evaluations since the last improvement (the patience counter). Saved in
    checkpoints, so a resumed run stops and restores exactly as an uninterrupted one.
    """

    monitor: str  # "val_loss" or "train_loss"
    best_loss: float = float("inf")
    best_epoch: int | None = None
    bad: int = 0
    weights: dict[str, torch.Tensor] = field(default_factory=dict)

    def update(self, value: float, epoch: int, weights: dict[str, torch.Tensor],
               min_delta: float = 0.0) -> bool:
        """Record one evaluation; True when it is a new best (its weights are copied)."""
        if value < self.best_loss - min_delta:
            self.best_loss, self.best_epoch, self.bad = value, epoch, 0
            self.weights = {k: v.detach().clone() for k, v in weights.items()}
            return True
        self.bad += 1
        return False


@dataclass
class TrainState:
    """What callbacks see: the model, optimizer, progress and history."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any  # torch's LRScheduler or ReduceLROnPlateau (no common base type)
    task: TaskSpec
    cfg: RunConfig
    data: DataTensors
    epochs: int
    batch_size: int | None
    generator: torch.Generator = field(default_factory=torch.Generator)  # batch order
    epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    stop: bool = False
    stop_reason: str | None = None
    best: BestState | None = None  # early stopping's state, when it is on
    best_epoch: int | None = None  # the epoch whose weights the model ends with, if restored
    last_loss: torch.Tensor | None = None  # mean train loss of the latest epoch (0-dim)
    error: TrainingError | None = None  # why training failed (a diverged loss), if it did
    runner_name: str = "eager"
    seconds: float = 0.0
    batch_callbacks: list[Any] = field(default_factory=list)  # those with batch_end set

    def batch_done(self, index: int) -> None:
        """The seam after one optimizer step: each batch callback's ``on_batch_end``."""
        for cb in self.batch_callbacks:
            cb.on_batch_end(self, index)

    @property
    def score_name(self) -> str:
        return self.task.score_name

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    @property
    def summary(self) -> str:
        """One line for the run summary, e.g. ``"stopped at epoch 84 of 1000 (best 74)"``."""
        if self.epoch >= self.epochs and not self.stop:
            text = f"completed {self.epochs} epochs"
        else:
            text = f"stopped at epoch {self.epoch} of {self.epochs}"
        return text if self.best_epoch is None else f"{text} (best {self.best_epoch})"


__all__ = ["BestState", "DataTensors", "TrainState"]
