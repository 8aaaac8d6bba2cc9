"""The stream runner: mini-batches read from a file, one chunk at a time, through the shared step.

It differs from the eager runner only in where batches come from (a
:class:`~mlplab.data.stream.FileBatches`: Parquet/CSV chunks mixed in a shuffle buffer), so
L1, clipping, schedules, evaluation, callbacks, early stopping and the NaN check behave as in
memory. Sample weights and checkpoints are refused (:data:`.support.STREAM`).

Example
-------
>>> import numpy as np, pandas as pd, tempfile, os, mlplab
>>> path = os.path.join(tempfile.mkdtemp(), "t.parquet")
>>> rng = np.random.default_rng(0); x = rng.normal(size=(400, 2))
>>> pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": (x[:, 0] > 0).astype(int)}).to_parquet(path)
>>> run = mlplab.train({"data": {"source": path, "target": "y", "stream": True},
...                     "train": {"epochs": 3, "batch_size": 64}, "log": {"quiet": True}},
...                    save=False)
>>> run.info["runner"], run.info["epochs_run"]
('stream', 3)
"""

from __future__ import annotations

import torch

from mlplab import registry
from mlplab.data.stream import FileBatches
from mlplab.training.runners import support
from mlplab.training.state import TrainState
from mlplab.training.step import Step, epoch_loss


class StreamRunner:
    """Epochs over a file's training rows in shuffled mini-batches."""

    name = "stream"
    supports = support.STREAM

    def __init__(self, source: FileBatches) -> None:
        self.source = source
        self.step: Step | None = None

    def __call__(self, state: TrainState, n_epochs: int) -> None:
        if self.step is None:
            self.step = Step.for_state(state)
        step, task = self.step, state.task
        bs = state.batch_size or state.data.n_train
        per_epoch = state.scheduler is not None and \
            state.cfg.schedule.name in registry.STEP_PER_EPOCH
        state.model.train()
        for _ in range(n_epochs):
            losses, sizes = [], []
            for i, (Xb, yb) in enumerate(self.source.epoch(bs)):
                losses.append(step(torch.from_numpy(Xb), task.targets(yb)))
                sizes.append(len(Xb))
                if state.batch_callbacks:
                    state.batch_done(i)
            state.last_loss = epoch_loss(losses, sizes, sum(sizes))
            if per_epoch:
                state.scheduler.step()
            state.epoch += 1


__all__ = ["StreamRunner"]
