"""The one training step: the objective and the update, written once for every runner.

- objective: the task's loss of a batch (sample weights included), plus the L1 penalty;
- update: gradient clipping, the optimizer's step and the per-batch schedule step.

The eager, streamed and DDP runners call :meth:`Step.__call__` on each batch and differ only in
where batches come from (and DDP in how gradients are reduced). The fused runners replace the
maths with hand-written kernels that a test proves equal to this step. Adding an option means
adding it here, declaring which runners support it (:mod:`.runners.support`) and adding a row
to the conformance test.

Example
-------
>>> from mlplab.tasks import resolve_task
>>> task = resolve_task("regression", n_classes=1, n_targets=1, loss="mse", output="logits")
>>> model = torch.nn.Linear(1, 1)
>>> with torch.no_grad():
...     _ = model.weight.fill_(1.0), model.bias.fill_(0.0)
>>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
>>> step = Step(model, opt, None, task, l1=0.0, clip=None)
>>> float(step(torch.tensor([[1.0]]), torch.tensor([[3.0]])))  # loss before the update
4.0
>>> round(float(model.weight.detach()), 3)  # w - lr * d/dw (w*x - y)^2 = 1 - 0.1 * 2 * (1 - 3)
1.4
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from mlplab import registry
from mlplab.config import RunConfig
from mlplab.data.batches import batch_indices
from mlplab.tasks import TaskSpec
from mlplab.training.state import TrainState

EVAL_CHUNK = 4096  # rows per forward pass when evaluating: activations stay in cache (measured
# on 200k x 32 rows, 32-64-64-1: 1.7x faster than 65,536-row chunks; 30-256-256-1: 1.5x)

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]


def l1_penalty(params: Sequence[torch.Tensor]) -> torch.Tensor:
    """Sum of |w| over weight matrices (biases and norm parameters excluded)."""
    return sum((p.abs().sum() for p in params if p.dim() > 1), start=torch.zeros(()))


@dataclass
class Step:
    """Objective + update for one batch; ``__call__`` returns the batch loss (detached)."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    per_batch_schedule: Any  # a scheduler stepped after every batch, or None
    task: TaskSpec
    l1: float
    clip: float | None

    def __post_init__(self) -> None:
        self.params = list(self.model.parameters())
        self.last_penalty: torch.Tensor | None = None  # the penalty in the latest objective

    @classmethod
    def for_state(cls, state: TrainState) -> Step:
        """The step a :class:`~mlplab.training.state.TrainState` asks for."""
        cfg: RunConfig = state.cfg
        per_batch = state.scheduler if cfg.schedule.name in registry.STEP_PER_BATCH else None
        return cls(state.model, state.optimizer, per_batch, state.task, cfg.optim.l1,
                   cfg.train.clip_grad_norm)

    def penalty(self) -> torch.Tensor | None:
        """The L1 term added to the loss (None when off)."""
        return self.l1 * l1_penalty(self.params) if self.l1 > 0 else None

    def objective(self, out: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None = None,
                  scale: float | torch.Tensor | None = None) -> torch.Tensor:
        """The loss to differentiate: mean (or weighted) batch loss + penalties.

        ``scale`` replaces the batch mean by ``sum(w * l) * scale``: a DDP rank holding part
        of a global batch passes ``world / global_count`` (or ``/ global_weight``), so the
        ranks' averaged gradient is the gradient of the global batch's mean.
        """
        if scale is None:
            loss = self.task.batch_loss(out, y, w)
        else:
            per = self.task.sample_losses(out, y)
            loss = (per if w is None else per * w).sum() * scale
        pen = self.last_penalty = self.penalty()
        return loss if pen is None else loss + pen

    def update(self) -> None:
        """Clip, step the optimizer, step a per-batch schedule (gradients already there)."""
        if self.clip is not None:
            nn.utils.clip_grad_norm_(self.params, self.clip)
        self.optimizer.step()
        if self.per_batch_schedule is not None:
            self.per_batch_schedule.step()

    def __call__(self, xb: torch.Tensor, yb: torch.Tensor, wb: torch.Tensor | None = None,
                 scale: float | torch.Tensor | None = None,
                 forward: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
        loss = self.objective((forward or self.model)(xb), yb, wb, scale)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.update()
        return loss.detach()


def epoch_loss(losses: list[torch.Tensor], sizes: list[int], n: int) -> torch.Tensor:
    """An epoch's mean train loss from its batch losses (one op, no host sync)."""
    if len(losses) == 1:  # full batch: the batch loss itself
        return losses[0]
    return torch.stack(losses) @ torch.tensor(sizes, dtype=losses[0].dtype,
                                              device=losses[0].device) / n


# --- optimizer, schedule, batches -----------------------------------------------------------


def build_optimizer(model: nn.Module, cfg: RunConfig) -> torch.optim.Optimizer:
    """The optimizer ``cfg.optim`` names, over all of ``model``'s parameters."""
    return registry.OPTIMIZERS[cfg.optim.name](model.parameters(), cfg.optim)


def build_scheduler(opt: torch.optim.Optimizer, cfg: RunConfig, epochs: int,
                    steps_per_epoch: int) -> Any:
    """The learning-rate schedule ``cfg.schedule`` names, or None."""
    builder = registry.SCHEDULERS[cfg.schedule.name]
    return None if builder is None else builder(opt, cfg.schedule, epochs, steps_per_epoch)


def resolve_batch_size(batch_size: int | str | None, n_train: int) -> int | None:
    """Rows per batch for ``n_train`` rows, None for full batch: the rule of
    :func:`mlplab.resolve.batch_size` (a resolved config's number or None passes through; a
    config saved before resolution may still say ``"auto"``).

    >>> resolve_batch_size("auto", 100), resolve_batch_size(32, 100), resolve_batch_size(500, 100)
    (None, 32, None)
    """
    from mlplab.resolve import batch_size as rule  # resolve sits above training

    return rule(batch_size, n_train)


def steps_per_epoch(batch_size: int | None, n_train: int) -> int:
    """Optimizer steps in one epoch."""
    return 1 if batch_size is None else math.ceil(n_train / batch_size)


def epoch_batches(X: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None,
                  batch_size: int | None, gen: torch.Generator, shuffle: bool) -> list[Batch]:
    """One epoch's (X, y, w) batches: the whole split for full batch; otherwise the rows
    gathered once in one seeded ``randperm`` order (or in order when ``shuffle`` is off) and
    cut into contiguous slices, which are views: one gather per epoch instead of per batch."""
    if batch_size is None:
        return [(X, y, w)]
    if shuffle:
        idx = batch_indices(len(X), batch_size, gen)
        assert idx is not None  # batch_size < n here (resolve_batch_size)
        order = torch.cat(idx).to(X.device)  # (n,) the epoch's row order
        # index_select copies whole rows: 2x (X) to 15x (y) faster than X[order], same values
        X, y = X.index_select(0, order), y.index_select(0, order)
        w = None if w is None else w.index_select(0, order)
    return [(X[i:i + batch_size], y[i:i + batch_size],
             None if w is None else w[i:i + batch_size]) for i in range(0, len(X), batch_size)]


# --- evaluation ----------------------------------------------------------------------------


def make_loss(task: TaskSpec, weighted: bool = False) -> Callable[..., torch.Tensor]:
    """``loss(out, y, w=None)``: the task's mean loss (see :meth:`TaskSpec.batch_loss`)."""
    return task.batch_loss


@torch.inference_mode()
def evaluate_split(model: nn.Module, task: TaskSpec, loss_fn: Callable[..., torch.Tensor],
                   X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(mean loss, accuracy or R²) of ``model`` on one split, in eval mode."""
    was_training = model.training
    model.eval()
    try:
        outs = [model(X[i:i + EVAL_CHUNK]) for i in range(0, len(X), EVAL_CHUNK)]
        out = torch.cat(outs) if len(outs) > 1 else outs[0]
        return float(loss_fn(out, y)), task.score(out, y)
    finally:
        model.train(was_training)


__all__ = ["Step", "build_optimizer", "build_scheduler", "epoch_batches", "epoch_loss",
           "evaluate_split", "l1_penalty", "make_loss", "resolve_batch_size",
           "steps_per_epoch"]
