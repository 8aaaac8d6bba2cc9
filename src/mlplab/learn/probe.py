"""What a learner's module is made of and what it outputs.

:func:`output_kind` is :func:`mlplab.outputs.probe_output`, the one answer mlplab gives to "is this
output logits, a sigmoid, a softmax or a log-softmax?" (read from what ``forward`` computed).

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

from torch import nn

from mlplab.outputs import probe_output as output_kind


def layer_shapes(model: nn.Module) -> list[tuple[int, int]]:
    """(in_features, out_features) of each ``nn.Linear``, in the order they were defined."""
    return [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, nn.Linear)]


__all__ = ["layer_shapes", "output_kind"]
