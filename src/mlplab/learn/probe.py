"""What a learner's module is made of and what it outputs.

:func:`output_kind` asks :func:`mlplab.tasks.probe_output` (one implementation of "is this
output logits, a sigmoid, a softmax or a log-softmax?"); until that function is in the
package it falls back to the tutorial helpers' detection, which reads the last layer and the
output values the same way.

Example
-------
>>> import torch
>>> from torch import nn
>>> layer_shapes(nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1)))
[(2, 4), (4, 1)]
>>> output_kind(nn.Sequential(nn.Linear(2, 3), nn.Softmax(dim=1)), torch.randn(8, 2)).kind
'softmax'
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from mlplab.inspect.helpers import _output_kind

try:  # the shared probe (mlplab.tasks); older trees only have the helpers' detection
    from mlplab.tasks import probe_output as _probe_output  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the tree
    _probe_output = None


@dataclass(frozen=True)
class Probe:
    """What :func:`output_kind` found: ``kind`` in logits / sigmoid / softmax / log_softmax."""

    kind: str
    reason: str


def layer_shapes(model: nn.Module) -> list[tuple[int, int]]:
    """(in_features, out_features) of each ``nn.Linear``, in the order they were defined."""
    return [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, nn.Linear)]


def output_kind(model: nn.Module, x: torch.Tensor) -> Any:
    """What ``model`` outputs on ``x`` (``.kind`` and ``.reason``); the model is not changed.

    A one-unit output (read as logits or, from its values, as a sigmoid) is looked at once more
    through its range: fed -50..50 in place of the last ``nn.Linear``'s output, a logit leaves
    [0, 1], while a sigmoid applied in ``forward`` (``torch.sigmoid(self.fc3(x))``, which an
    untrained net keeps near 0.5) stays inside.
    """
    if _probe_output is not None:
        probe = _probe_output(model, x)
    else:
        net = copy.deepcopy(model).eval()  # never the learner's own module's mode
        with torch.no_grad():
            out = net(x)
        probe = Probe(_output_kind(net, out.reshape(len(out), -1)),
                      "from the last layer and the output values")
    if probe.kind in ("logits", "sigmoid") and not _ends_in_sigmoid(model):
        squashed = _squashed(model, x)  # None: not a one-unit Linear output
        if squashed is True:
            return Probe("sigmoid", "the output stays in [0, 1] however large the last "
                                    "layer's output grows: forward applies a sigmoid")
        if squashed is False:
            return Probe("logits", "the output follows the last layer's output beyond [0, 1]")
    return probe


def _ends_in_sigmoid(model: nn.Module) -> bool:
    return isinstance(list(model.modules())[-1], nn.Sigmoid)


def _squashed(model: nn.Module, x: torch.Tensor) -> bool | None:
    """Whether what ``forward`` does after its last one-unit Linear layer maps the values
    -50..50 (put in place of that layer's output) into [0, 1]."""
    net = copy.deepcopy(model).eval()
    last = [m for m in net.modules() if isinstance(m, nn.Linear)]
    if not last or last[-1].out_features != 1:
        return None
    ramp = torch.linspace(-50.0, 50.0, len(x)).reshape(-1, 1)
    last[-1].register_forward_hook(lambda m, inp, out: ramp.to(out.dtype).expand_as(out))
    with torch.no_grad():
        out = net(x)
    return bool(((out >= 0) & (out <= 1)).all()) and float(out.max() - out.min()) > 0.9


__all__ = ["Probe", "layer_shapes", "output_kind"]
