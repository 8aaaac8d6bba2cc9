"""Name -> builder tables for every option that is chosen by a string.

The config validators, the CLI choices, the web playground's dropdowns and the docs all read
these tables, so adding an activation (say) is one line here. Reading the names costs no torch
import (the CLI lists and validates them before it needs torch); builders import it when called.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlplab.errors import ConfigError, did_you_mean

if TYPE_CHECKING:
    import torch
    from torch import nn


def _nn(name: str, *args: Any, **kwargs: Any) -> Callable[..., nn.Module]:
    """A builder of ``torch.nn.<name>(*args, **kwargs, **more)`` that imports torch when called."""

    def build(**more: Any) -> nn.Module:
        module: nn.Module = getattr(importlib.import_module("torch.nn"), name)(*args, **kwargs,
                                                                                 **more)
        return module

    build.__name__ = name
    return build

# --- activations --------------------------------------------------------------------------

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": _nn("ReLU"),
    "leaky_relu": _nn("LeakyReLU", 0.01),
    "gelu": _nn("GELU"),
    "tanh": _nn("Tanh"),
    "sigmoid": _nn("Sigmoid"),
    "elu": _nn("ELU"),
    "silu": _nn("SiLU"),
    "identity": _nn("Identity"),  # no activation: stacked linear layers stay linear
}

# --- output layers (what the last Linear is followed by) -----------------------------------

OUTPUTS: dict[str, Callable[[], nn.Module] | None] = {
    "logits": None,  # raw scores; the loss applies sigmoid / softmax itself
    "sigmoid": _nn("Sigmoid"),
    "softmax": _nn("Softmax", dim=-1),
    "log_softmax": _nn("LogSoftmax", dim=-1),  # log-probabilities, for nll (torch's NLLLoss)
}


# --- losses --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LossInfo:
    """A loss and what it needs: ``input`` is 'logits', 'probabilities', 'values' or
    'log_values' (the log of the predicted value: a log link)."""

    build: Callable[..., nn.Module]
    input: str
    description: str


LOSSES: dict[str, LossInfo] = {
    "bce_logits": LossInfo(_nn("BCEWithLogitsLoss"), "logits",
                           "binary cross-entropy on raw logits (sigmoid inside, stable)"),
    "bce": LossInfo(_nn("BCELoss"), "probabilities", "binary cross-entropy on sigmoid outputs"),
    "cross_entropy": LossInfo(_nn("CrossEntropyLoss"), "logits",
                              "cross-entropy on raw class scores (softmax inside)"),
    "mse": LossInfo(_nn("MSELoss"), "values", "mean squared error"),
    "l1": LossInfo(_nn("L1Loss"), "values", "mean absolute error"),
    "poisson": LossInfo(_nn("PoissonNLLLoss", log_input=True), "log_values",
                        "Poisson negative log-likelihood on a log link: the model outputs "
                        "log(mean), predictions are exp(output); targets must be >= 0"),
    "nll": LossInfo(lambda **kw: _softmax_nll(**kw), "probabilities",
                    "negative log-likelihood of softmax probabilities (log of the softmax: "
                    "numerically weaker than cross_entropy on logits)"),
}


def _softmax_nll(**kwargs: Any) -> nn.Module:
    """``NLLLoss`` on the log of a softmax output: what feeding a softmax to
    ``CrossEntropyLoss`` was meant to compute. The log of a probability that underflowed to 0
    is clamped to the float's tiny, which is why logits with cross_entropy are safer."""
    import torch

    nll = torch.nn.NLLLoss(**kwargs)

    class SoftmaxNLLLoss(torch.nn.Module):
        def forward(self, p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # (B, k), (B,)
            return nll(torch.log(p.clamp_min(torch.finfo(p.dtype).tiny)), y)  # type: ignore[no-any-return]

    return SoftmaxNLLLoss()

# --- optimizers ----------------------------------------------------------------------------


# weight decay when optim.weight_decay is None, per epoch: AdamW decays its weights by
# lr * 0.5 over each epoch, in one full-batch step or spread over the epoch's mini-batch steps
# (mlplab.pipeline.prepare writes the resolved value into the run's config). Measured in
# benchmarks/bench_defaults.py, 3 seeds: 0.5 against 0.05 raised the 10 tables' mean accuracy
# by 0.005 (0.1: +0.0003, 1.0: +0.003) and lost no table by more than 0.001; on 200k rows
# (157 steps per epoch) 0.05 per step held the test accuracy at 0.979, 0.5 / 157 reached 0.984
DEFAULT_WEIGHT_DECAY: dict[str, float] = {"adamw": 0.5}
# AdamW shrinks the weights by lr * weight_decay every step; the default never makes that more
# than 1% (at lr 5 the per-epoch default would flip the weights' sign every step: 1 - 2.5)
MAX_DEFAULT_SHRINK = 0.01


def weight_decay(o: Any, steps_per_epoch: int = 1) -> float:
    """The weight decay an OptimConfig means: its own, or the optimizer's default per epoch
    spread over ``steps_per_epoch`` optimizer steps (capped so that one step shrinks the
    weights by at most :data:`MAX_DEFAULT_SHRINK`).

    >>> from mlplab.config import OptimConfig
    >>> weight_decay(OptimConfig()), weight_decay(OptimConfig(), 100)
    (0.5, 0.005)
    >>> weight_decay(OptimConfig(name="sgd")), weight_decay(OptimConfig(weight_decay=0.1), 100)
    (0.0, 0.1)
    >>> weight_decay(OptimConfig(lr=5.0))  # 5 * 0.002: 1% a step, not 1 - 5 * 0.5 = -1.5
    0.002
    """
    if o.weight_decay is not None:
        return float(o.weight_decay)
    default = DEFAULT_WEIGHT_DECAY.get(o.name, 0.0) / max(1, steps_per_epoch)
    return min(default, MAX_DEFAULT_SHRINK / o.lr)


# multi-tensor updates: one kernel call per operation for all parameters instead of one per
# parameter; on CPU torch defaults to the per-parameter loop. Bitwise the same weights for
# SGD/Adam/AdamW/RMSprop (tests/test_fastpath.py), unlike fused=True (~3e-8 apart).
FOREACH = True


def _sgd(params: Any, o: Any) -> torch.optim.Optimizer:
    from torch import optim

    return optim.SGD(params, lr=o.lr, momentum=o.momentum, nesterov=o.nesterov,
                     weight_decay=weight_decay(o), foreach=FOREACH)


def _adam(params: Any, o: Any) -> torch.optim.Optimizer:
    from torch import optim

    return optim.Adam(params, lr=o.lr, betas=tuple(o.betas), eps=o.eps,
                      weight_decay=weight_decay(o), foreach=FOREACH)


def _adamw(params: Any, o: Any) -> torch.optim.Optimizer:
    from torch import optim

    return optim.AdamW(params, lr=o.lr, betas=tuple(o.betas), eps=o.eps,
                       weight_decay=weight_decay(o), foreach=FOREACH)


def _rmsprop(params: Any, o: Any) -> torch.optim.Optimizer:
    from torch import optim

    return optim.RMSprop(params, lr=o.lr, momentum=o.momentum, eps=o.eps,
                         weight_decay=weight_decay(o), foreach=FOREACH)


OPTIMIZERS: dict[str, Callable[[Any, Any], torch.optim.Optimizer]] = {
    "sgd": _sgd,
    "adam": _adam,
    "adamw": _adamw,
    "rmsprop": _rmsprop,
}

# --- learning-rate schedules ---------------------------------------------------------------
# Each builder gets (optimizer, ScheduleConfig, total epochs, steps per epoch). All step once
# per epoch except onecycle, which steps once per batch (see STEP_PER_BATCH).

Scheduler = Any  # torch's LRScheduler and ReduceLROnPlateau share no useful base type


def _step(opt: torch.optim.Optimizer, s: Any, epochs: int, steps: int) -> Scheduler:
    from torch.optim import lr_scheduler

    return lr_scheduler.StepLR(opt, step_size=s.step_size, gamma=s.gamma)


def _cosine(opt: torch.optim.Optimizer, s: Any, epochs: int, steps: int) -> Scheduler:
    from torch.optim import lr_scheduler

    return lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs),
                                                      eta_min=s.min_lr)


def _plateau(opt: torch.optim.Optimizer, s: Any, epochs: int, steps: int) -> Scheduler:
    from torch.optim import lr_scheduler

    return lr_scheduler.ReduceLROnPlateau(opt, factor=s.gamma, patience=s.patience,
                                                      min_lr=s.min_lr)


def _onecycle(opt: torch.optim.Optimizer, s: Any, epochs: int, steps: int) -> Scheduler:
    from torch.optim import lr_scheduler

    max_lr = s.max_lr if s.max_lr is not None else opt.param_groups[0]["lr"]

    return lr_scheduler.OneCycleLR(opt, max_lr=max_lr, epochs=max(1, epochs),
                                               steps_per_epoch=max(1, steps))


SCHEDULERS: dict[str, Callable[..., Scheduler] | None] = {
    "none": None,
    "step": _step,
    "cosine": _cosine,
    "plateau": _plateau,
    "onecycle": _onecycle,
}
STEP_PER_BATCH = frozenset({"onecycle"})
# ScheduleConfig's defaults, here so `mlplab train --help` can show them without torch
SCHEDULE_DEFAULTS: dict[str, Any] = {"step_size": 100, "gamma": 0.5, "patience": 10}
STEP_PER_EPOCH = frozenset({"step", "cosine"})  # plateau steps at evaluations, on the loss

# --- weight initialisation -----------------------------------------------------------------


def _kaiming(layer: nn.Linear, activation: str) -> None:
    from torch import nn

    if activation == "leaky_relu":
        nn.init.kaiming_normal_(layer.weight, a=0.01, nonlinearity="leaky_relu")
    else:
        nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
    nn.init.zeros_(layer.bias)


def _xavier(layer: nn.Linear, activation: str) -> None:
    from torch import nn

    gain = nn.init.calculate_gain("tanh") if activation == "tanh" else 1.0
    nn.init.xavier_uniform_(layer.weight, gain=gain)
    nn.init.zeros_(layer.bias)


INITS: dict[str, Callable[[nn.Linear, str], None] | None] = {
    "default": None,  # PyTorch's own (kaiming-uniform with a=sqrt(5))
    "kaiming": _kaiming,
    "xavier": _xavier,
}

# --- input feature crosses ----------------------------------------------------------------
# TensorFlow Playground's x1², x2², x1·x2, sin x1, sin x2: name -> (how it is computed from the
# first two input columns a, b (tensors), how many input columns it needs)

CROSSES: dict[str, tuple[Callable[[torch.Tensor, torch.Tensor], torch.Tensor], int]] = {
    "x1^2": (lambda a, b: a * a, 1),
    "x2^2": (lambda a, b: b * b, 2),
    "x1*x2": (lambda a, b: a * b, 2),
    "sin(x1)": (lambda a, b: a.sin(), 1),
    "sin(x2)": (lambda a, b: b.sin(), 2),
}


def check_crosses(crosses: list[str], in_features: int | None = None) -> list[str]:
    """Raise ConfigError for an unknown cross, a repeated one, or one needing more inputs.

    >>> check_crosses(["x1*x2"], 1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mlplab.errors.ConfigError: the cross 'x1*x2' needs 2 input columns: ...
    """
    for c in crosses:
        check_choice("model.crosses", c, CROSSES)
        need = CROSSES[c][1]
        if in_features is not None and in_features < need:
            raise ConfigError(f"the cross '{c}' needs {need} input columns",
                              expected=f">= {need} features", found=str(in_features))
    if len(set(crosses)) != len(crosses):
        raise ConfigError("model.crosses repeats a cross", found=str(crosses))
    return crosses

# --- datasets ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetInfo:
    """A built-in dataset: a generator (``synthetic``) or shipped real data (``real``)."""

    name: str
    kind: str  # "synthetic" | "real"
    builder: str  # "module:function", imported on first use
    description: str
    task: str  # the task its target implies
    rows: int  # at the default size, for generators
    features: int
    classes: int | None  # None for regression

    def load(self) -> Callable[..., Any]:
        module, func = self.builder.split(":")
        return getattr(importlib.import_module(module), func)  # type: ignore[no-any-return]


def _ds(name: str, kind: str, desc: str, task: str,
        shape: tuple[int, int, int | None]) -> DatasetInfo:
    """``shape`` is (rows, features, classes), written out so `mlplab datasets` loads nothing
    (tests/test_registry.py checks it against the loaded data)."""
    module = "mlplab.data.synthetic" if kind == "synthetic" else "mlplab.data.real"
    return DatasetInfo(name, kind, f"{module}:{name}", desc, task, *shape)


DATASETS: dict[str, DatasetInfo] = {d.name: d for d in [
    _ds("disk", "synthetic", "torch.randn points; label 1 inside the unit circle", "binary",
        (1000, 2, 2)),
    _ds("circles", "synthetic", "two concentric circles (sklearn make_circles)", "binary",
        (1000, 2, 2)),
    _ds("moons", "synthetic", "two interleaving half-moons (sklearn make_moons)", "binary",
        (1000, 2, 2)),
    _ds("blobs", "synthetic", "k Gaussian blobs, one class each (sklearn make_blobs)",
        "multiclass", (1000, 2, 4)),
    _ds("gaussians", "synthetic", "two Gaussian clusters: class 0 at (2,2), class 1 at (-2,-2)",
        "binary", (1000, 2, 2)),
    _ds("xor", "synthetic", "four quadrants, label = sign(x1) xor sign(x2)", "binary",
        (1000, 2, 2)),
    _ds("spiral", "synthetic", "k interleaved spiral arms", "multiclass", (1000, 2, 3)),
    _ds("linear", "synthetic", "regression: y = 3x + 2 + noise, x in [0, 10]", "regression",
        (1000, 1, None)),
    _ds("line", "synthetic", "regression: the straight line y = 0.7x + 0.3, x in [0, 1)",
        "regression", (1000, 1, None)),
    _ds("random", "synthetic", "torch.randn rows with random 0/1 labels (nothing to learn)",
        "binary", (1000, 2, 2)),
    _ds("breast_cancer", "real", "Wisconsin breast cancer (scikit-learn bundled)", "binary",
        (569, 30, 2)),
    _ds("iris", "real", "Fisher's iris flowers (scikit-learn bundled)", "multiclass",
        (150, 4, 3)),
    _ds("wine", "real", "wine cultivars (scikit-learn bundled)", "multiclass", (178, 13, 3)),
    _ds("digits", "real", "8x8 handwritten digits (scikit-learn bundled)", "multiclass",
        (1797, 64, 10)),
    _ds("penguins", "real", "Palmer penguins: mixed types, missing values (shipped CSV)",
        "multiclass", (344, 7, 3)),
]}

# --- lookup --------------------------------------------------------------------------------


def check_choice(kind: str, name: str, table: Mapping[str, Any]) -> str:
    """Return ``name`` if it is a key of ``table``, else raise a ConfigError that lists them.

    Example
    -------
    >>> check_choice("activation", "relu", ACTIVATIONS)
    'relu'
    """
    if name in table:
        return name
    raise ConfigError(f"unknown {kind} '{name}'", expected="one of " + ", ".join(table),
                      hint=did_you_mean(name, table))
