"""The stacked runner as :func:`~mlplab.training.loop.train_loop` drives it.

:class:`MemberGroup` is the loop's group of K member states trained as one
:class:`~.stacked_net.EnsembleTrainer`; :class:`StackedRunner` runs a segment for every member
still running (a stopped member, by its early stopping, a user callback, a pruner or a
diverged loss, is frozen: its learning rate is 0 from the next segment on). Evaluation is
batched over the K members and gives each member the row its solo run would record.

Example
-------
>>> from mlplab.config import RunConfig
>>> cfgs = [RunConfig.from_dict({"data": {"source": "moons", "n_samples": 100}, "seed": s,
...                              "train": {"epochs": 20, "eval_every": 10},
...                              "log": {"quiet": True}}) for s in (0, 1)]
>>> from mlplab.training.runners.stacked import train_members
>>> [[row["epoch"] for row in run.history] for run in train_members(cfgs)]
[[10, 20], [10, 20]]
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from mlplab.tasks import TaskSpec
from mlplab.training.runners import support
from mlplab.training.runners.stacked_net import EnsembleTrainer, evaluate
from mlplab.training.state import TrainState


@dataclass
class MemberGroup:
    """K members' training states and the stacked trainer that holds their weights.

    ``splits`` maps each split to its stacked (X (K, n, in), y (K, n, ...)) tensors; the
    members' models are bound to the stacked weights (:meth:`.StackedMLP.bind`).
    """

    states: Sequence[TrainState]
    trainer: EnsembleTrainer
    splits: dict[str, tuple[Tensor, Tensor]]
    task: TaskSpec

    def run(self, runner: StackedRunner, n_epochs: int) -> None:
        runner(self, n_epochs)

    def evaluate(self, due: Sequence[int], t0: float) -> list[dict[str, Any]]:
        """The rows of members ``due``, each as :func:`~mlplab.training.loop.eval_row`
        makes its solo run's (one batched forward per split for all K)."""
        score = self.task.score_name
        losses = torch.stack([st.last_loss if st.last_loss is not None
                              else torch.tensor(float("nan")) for st in self.states])
        cols: dict[str, list[float]] = {"train_loss": losses.tolist()}
        for split, (X, y) in self.splits.items():
            loss, value = evaluate(self.trainer, self.task, X, y)
            if split != "train":
                cols[f"{split}_loss"] = loss.tolist()
            cols[f"{split}_{score}"] = value.tolist()
        secs = round(time.perf_counter() - t0, 4)
        return [{"epoch": self.states[k].epoch, **{c: v[k] for c, v in cols.items()},
                 "lr": self.states[k].cfg.optim.lr, "seconds": secs} for k in due]


class StackedRunner:
    """Runs ``n_epochs`` epochs of every running member of a :class:`MemberGroup` at once."""

    name = "ensemble"
    supports = support.STACKED

    def __init__(self, batch_size: int | None) -> None:
        self.batch_size = batch_size

    def __call__(self, group: MemberGroup, n_epochs: int) -> None:
        trainer, states = group.trainer, group.states
        running = [k for k, st in enumerate(states) if not st.stop]
        trainer.set_active(torch.tensor([0.0 if st.stop else 1.0 for st in states]))
        done = 0
        try:
            with torch.no_grad():
                for e in range(n_epochs):  # the loss is read at segment ends only
                    loss = trainer.epoch(self.batch_size, want_loss=e == n_epochs - 1)
                    done += 1
            assert loss is not None
            for k in running:
                states[k].last_loss = loss[k]
        finally:  # also after Ctrl-C: the epochs run so far count
            for k in running:
                states[k].epoch += done


__all__ = ["MemberGroup", "StackedRunner"]
