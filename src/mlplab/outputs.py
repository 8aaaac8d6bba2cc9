"""What a learner's module outputs: logits, a sigmoid, a softmax or a log-softmax.

:func:`probe_output` reads it from what ``forward`` computed on a few rows (the autograd
node of its output, else the values), never from how the module is written;
:func:`read_output` gives the kind to train and score with, where a stated kind always wins
but is refused when ``forward`` cannot return it. The tasks (:mod:`mlplab.tasks`) then pair
that kind with a loss and a decoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from mlplab.errors import ConfigError

# the autograd node a forward's last computing operation leaves -> the output kind it makes
_GRAD_KINDS = {"SigmoidBackward0": "sigmoid", "SoftmaxBackward0": "softmax",
               "LogSoftmaxBackward0": "log_softmax"}
_OPS = {"sigmoid": "a sigmoid", "softmax": "a softmax", "log_softmax": "a log-softmax"}
# nodes that only reshape or copy: the kind is decided by the node below them
_SHAPE_NODES = ("View", "Reshape", "UnsafeView", "Squeeze", "Unsqueeze", "Clone", "ToCopy",
                "Expand", "Transpose", "Permute", "T", "Alias", "Contiguous", "Flatten")
PROBE_ROWS = 64  # rows a learner's module is run on to see what its forward returns


@dataclass(frozen=True)
class OutputProbe:
    """What a module's ``forward`` returns: ``kind`` (logits, sigmoid, softmax or log_softmax)
    and ``reason``, the evidence in words."""

    kind: str
    reason: str

    def __str__(self) -> str:
        return f"{self.kind} ({self.reason})"


def probe_output(model: nn.Module, x: torch.Tensor | np.ndarray) -> OutputProbe:
    """Find what ``model``'s ``forward`` returns by running it on a few rows of ``x``.

    The answer comes from what ``forward`` computed, not from how the module is written: the
    autograd node of its output (``torch.sigmoid`` / ``nn.Sigmoid``, softmax, log-softmax,
    through reshapes and squeezes), else rows that sum to 1 (a softmax written by hand) or whose
    ``exp`` sums to 1 (a log-softmax); anything else is logits. The order in which layers were
    registered (an ``nn.Sigmoid`` declared first, or declared and never used) plays no part,
    nor do logits that happen to fall in (0, 1). The module's weights, mode and gradients are
    left as they were.

    Example
    -------
    >>> class Net(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.sigmoid = nn.Sigmoid()  # declared first, used last
    ...         self.fc = nn.Linear(2, 1)
    ...     def forward(self, x):
    ...         return self.sigmoid(self.fc(x)).squeeze(1)
    >>> print(probe_output(Net(), torch.randn(8, 2)))
    sigmoid (forward ends in a sigmoid)
    >>> probe_output(nn.Sequential(nn.Linear(2, 3), nn.LogSoftmax(dim=1)), torch.randn(8, 2)).kind
    'log_softmax'
    >>> class Unused(Net):
    ...     def forward(self, x):
    ...         return self.fc(x)
    >>> probe_output(Unused(), torch.randn(8, 2)).kind
    'logits'
    """
    return _kind_of(_forward_rows(model, x))


def _forward_rows(model: nn.Module, x: torch.Tensor | np.ndarray) -> Any:
    """What ``model``'s forward returns on the first PROBE_ROWS rows of ``x`` (in the module's
    dtype and device), in eval mode and with autograd on, so the output carries the node of
    forward's last operation; the module's mode is put back."""
    rows = torch.as_tensor(np.asarray(x[:PROBE_ROWS]) if not isinstance(x, torch.Tensor)
                           else x[:PROBE_ROWS])
    param = next(iter(model.parameters()), None)
    rows = rows.to(dtype=param.dtype if param is not None and param.is_floating_point()
                   else torch.float32, device=param.device if param is not None else "cpu")
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            return model(rows.detach().clone().requires_grad_(True))
    finally:
        model.train(was_training)


def _kind_of(out: Any) -> OutputProbe:
    """The output kind of forward's result ``out`` (see :func:`probe_output`)."""
    node = out.grad_fn if isinstance(out, torch.Tensor) else None
    while node is not None and type(node).__name__.removesuffix("Backward0").removesuffix(
            "Backward1").removesuffix("Backward2") in _SHAPE_NODES and node.next_functions:
        node = node.next_functions[0][0]
    kind = _GRAD_KINDS.get(type(node).__name__) if node is not None else None
    if kind is not None:
        return OutputProbe(kind, f"forward ends in {_OPS[kind]}")
    out = _values(out)
    if out.shape[1] > 1 and len(out):
        ones = torch.ones(len(out), dtype=out.dtype)
        if bool((out >= 0).all()) and torch.allclose(out.sum(dim=1), ones, atol=1e-5):
            return OutputProbe("softmax", "every row of its output sums to 1")
        if bool((out <= 0).all()) and torch.allclose(out.exp().sum(dim=1), ones, atol=1e-5):
            return OutputProbe("log_softmax", "every row of its output's exp sums to 1")
    return OutputProbe("logits", "forward ends in a linear layer or another raw score"
                       if node is not None else "its output carries no autograd history")


def _values(out: Any) -> torch.Tensor:
    """Forward's output as float64 values, one row per sample: (n, outputs)."""
    out = torch.as_tensor(out).detach().double()
    return out.reshape(len(out), -1)


# what a stated output needs of the values forward returns -> the rule, in words
_STATED_NEEDS = {
    "sigmoid": (lambda o: bool(((o >= 0) & (o <= 1)).all()), "values in [0, 1]"),
    "softmax": (lambda o: o.shape[1] > 1 and bool((o >= 0).all()) and torch.allclose(
        o.sum(dim=1), torch.ones(len(o), dtype=o.dtype), atol=1e-4), "rows that sum to 1"),
    "log_softmax": (lambda o: o.shape[1] > 1 and torch.allclose(
        o.exp().sum(dim=1), torch.ones(len(o), dtype=o.dtype), atol=1e-4),
        "rows whose exp sums to 1"),
}


def read_output(model: nn.Module, x: torch.Tensor | np.ndarray,
                stated: str = "auto") -> OutputProbe:
    """The output kind to train and score a learner's ``model`` with, on rows ``x``.

    ``stated`` is the configured output (``model.output`` / ``--head`` / ``output=``). The
    default, ``"auto"``, is what :func:`probe_output` finds; a stated kind always wins,
    logits included, but is refused in one line when ``forward``'s values cannot be that (a
    "sigmoid" output outside [0, 1] would make BCELoss raise, or train on nonsense; logits
    may be any values).

    Example
    -------
    >>> net = nn.Sequential(nn.Linear(2, 1), nn.Sigmoid())
    >>> print(read_output(net, torch.randn(8, 2)))
    sigmoid (forward ends in a sigmoid)
    >>> print(read_output(net, torch.randn(8, 2), "logits"))  # stated: wins
    logits (as configured; the probe found sigmoid (forward ends in a sigmoid))
    >>> read_output(nn.Identity(), torch.full((8, 1), 10.0), "sigmoid")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mlplab.errors.ConfigError: the output is set to sigmoid, but the model's forward does not ...
    """
    out = _forward_rows(model, x)  # one forward pass: the probe and the stated kind's check
    found = _kind_of(out)
    if stated in ("auto", found.kind):
        return found
    rule = _STATED_NEEDS.get(stated)
    if rule is not None and not rule[0](_values(out)):
        raise ConfigError(f"the output is set to {stated}, but the model's forward does "
                          f"not return {rule[1]}", found=str(found),
                          hint="leave the output unset to use what forward returns")
    return OutputProbe(stated, f"as configured; the probe found {found}")


__all__ = ["PROBE_ROWS", "OutputProbe", "probe_output", "read_output"]
