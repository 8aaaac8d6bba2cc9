"""The eager runner: in-memory tensors, the shared :class:`~mlplab.training.step.Step` per batch.

Example
-------
>>> import mlplab
>>> run = mlplab.train({"data": {"source": "disk", "n_samples": 100},
...                     "model": {"hidden": [4], "dropout": 0.1},
...                     "train": {"epochs": 20}}, save=False)
>>> run.info["runner"]
'eager'
"""

from __future__ import annotations

from mlplab import registry
from mlplab.training.runners import support
from mlplab.training.state import TrainState
from mlplab.training.step import Step, epoch_batches, epoch_loss


class EagerRunner:
    """Run epochs the plain way: batches of the in-memory split through the shared step."""

    name = "eager"
    supports = support.EAGER

    def __call__(self, state: TrainState, n_epochs: int) -> None:
        step, cfg = Step.for_state(state), state.cfg
        X, y, w = state.data.X["train"], state.data.y["train"], state.data.w
        per_epoch = state.scheduler is not None and cfg.schedule.name in registry.STEP_PER_EPOCH
        state.model.train()
        for _ in range(n_epochs):
            losses, sizes = [], []
            for i, (xb, yb, wb) in enumerate(epoch_batches(X, y, w, state.batch_size,
                                                           state.generator, cfg.train.shuffle)):
                losses.append(step(xb, yb, wb))
                sizes.append(len(xb))
                if state.batch_callbacks:
                    state.batch_done(i)
            state.last_loss = epoch_loss(losses, sizes, len(X))
            if per_epoch:
                state.scheduler.step()
            state.epoch += 1


eager_runner = EagerRunner()  # stateless: one instance serves every fit

__all__ = ["EagerRunner", "eager_runner"]
