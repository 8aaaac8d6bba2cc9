"""Which runner trains a run: the choice, and the refusal of what a runner cannot do.

``train.fast``:

- ``auto`` (default): the fused runner where it applies and every option the run asks for is
  one it supports (it is bitwise equal to eager there, full batch and mini-batch alike), else
  the eager runner;
- ``on``: a fused runner always, the NumPy kernel for the tiniest full-batch float32 nets
  without a schedule (equal to rounding only), refusing before training anything they
  cannot do;
- ``off``: the eager runner.

The fused runners also need an :class:`~mlplab.models.MLP` on the CPU (parameters all float32
or all float64) with a supported activation, output/loss pair and optimizer, whose loss and
activation modules give bitwise the fused kernels' gradients (:func:`.fused.why_not_fused`
probes them).

Example
-------
>>> import mlplab
>>> cfg = {"data": {"source": "moons", "n_samples": 100}, "model": {"hidden": [4]},
...        "train": {"epochs": 5}, "log": {"quiet": True, "plots": False}}
>>> [mlplab.train({**cfg, "train": {"epochs": 5, "fast": f}}, save=False).info["runner"]
...  for f in ("auto", "on", "off")]
['fast', 'numpy', 'eager']
"""

from __future__ import annotations

from typing import Protocol

import torch

from mlplab.errors import ConfigError
from mlplab.models import ModelSpec
from mlplab.training.runners import support
from mlplab.training.runners.eager import EagerRunner
from mlplab.training.runners.fused import FastRunner, why_not_fused
from mlplab.training.runners.numpy import NP_ACTS, NUMPY_MAX_ROWS, NumpyRunner
from mlplab.training.state import TrainState


class Runner(Protocol):
    """Runs ``n_epochs`` epochs of ``state`` (moving ``state.epoch`` and ``state.last_loss``)."""

    def __call__(self, state: TrainState, n_epochs: int) -> None: ...


def wanted(state: TrainState) -> list[str]:
    """The options this training state asks for (see :mod:`.support`)."""
    return support.requested(state.cfg, weighted=state.data.w is not None,
                             mini_batch=state.batch_size is not None,
                             batch_end=bool(state.batch_callbacks))


def check_runner(runner: Runner, state: TrainState) -> None:
    """Refuse, before training, options a runner declares it does not support."""
    supports = getattr(runner, "supports", None)
    if supports is not None:
        support.check(getattr(runner, "name", "chosen"), supports, wanted(state))


def fused_takes(state: TrainState, wanted_options: list[str]) -> bool:
    """Whether ``train.fast=auto`` trains ``state`` (model, optimizer, task) on the fused
    runner when it asks for ``wanted_options``: exactly where it is bitwise equal to eager."""
    return why_not_fused(state) is None and not support.missing(support.FUSED, wanted_options)


def select_runner(state: TrainState) -> tuple[Runner, str]:
    """The runner for this training state and its name (recorded in the run's metrics)."""
    mode = state.cfg.train.fast
    if mode == "off":
        return EagerRunner(), "eager"
    if mode == "auto":
        if fused_takes(state, wanted(state)):
            return FastRunner(state), "fast"
        return EagerRunner(), "eager"
    why = why_not_fused(state)
    if why is not None:
        raise ConfigError(f"train.fast=on cannot train this run: {why}",
                          hint="use --set train.fast=auto (mlplab picks a runner that can)")
    support.check("fast", support.FUSED, wanted(state))
    spec: ModelSpec = state.model.spec  # type: ignore[assignment]  # an MLP (why_not_fused)
    float32 = all(p.dtype == torch.float32 for p in state.model.parameters())  # NumPy's
    if float32 and state.data.n_train <= NUMPY_MAX_ROWS and \
            all(a in NP_ACTS for a in spec.activations) and \
            not support.missing(support.NUMPY, wanted(state)):
        return NumpyRunner(state), "numpy"
    return FastRunner(state), "fast"


__all__ = ["Runner", "check_runner", "fused_takes", "select_runner", "wanted"]
