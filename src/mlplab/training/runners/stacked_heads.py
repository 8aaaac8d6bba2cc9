"""The stacked runner's loss heads: output activation and loss folded into one gradient.

For K members at once (``z`` of shape (K, n, out)), each head gives dLoss/dz divided by the
member's own count of averaged terms. The formulas equal autograd's to float rounding (not
bitwise: the stacked runner's ``bmm`` kernels round differently from ``mm`` anyway).

Example
-------
>>> z, y = torch.zeros(1, 2, 1), torch.tensor([[[1.0], [0.0]]])
>>> head = HEADS[("logits", "bce_logits")]
>>> head.grad(z, head_targets(head, y, 1, 0.5), 0.5).flatten().tolist()  # (p - y) / 2
[-0.25, 0.25]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class Head:
    """The last layer's output activation and the loss, folded together.

    ``prepare(y, scale)`` turns targets into what ``grad`` needs (done once per segment);
    ``grad(z, t, scale)`` is dLoss/dz for pre-activation outputs ``z``, already divided by
    the number of averaged terms (``scale = 1 / count``); ``value(z, y)`` is the unreduced
    loss (its mean is the loss).
    """

    prepare: Callable[[Tensor, float], Tensor]
    grad: Callable[[Tensor, Tensor, float], Tensor]
    value: Callable[[Tensor, Tensor], Tensor]
    per_row: bool = False  # the loss averages over rows only (cross-entropy), not elements


def _ce_value(z: Tensor, y: Tensor) -> Tensor:  # z (..., n, C), y (..., n) -> (..., n)
    return F.cross_entropy(z.reshape(-1, z.shape[-1]), y.reshape(-1),
                           reduction="none").reshape(y.shape)


def _onehot(y: Tensor, n_classes: int) -> Tensor:
    return F.one_hot(y, n_classes).to(torch.float32)


# Sigmoid + BCE and softmax + CE both give (p - y) / count: computed as one add of a
# pre-scaled negative target, ``(-y * scale) + p * scale``.
HEADS: dict[tuple[str, str], Head] = {
    ("logits", "bce_logits"): Head(
        lambda y, s: y * -s, lambda z, t, s: torch.add(t, torch.sigmoid(z), alpha=s),
        lambda z, y: F.binary_cross_entropy_with_logits(z, y, reduction="none")),
    ("sigmoid", "bce"): Head(
        lambda y, s: y * -s, lambda z, t, s: torch.add(t, torch.sigmoid(z), alpha=s),
        lambda z, y: F.binary_cross_entropy(torch.sigmoid(z), y, reduction="none")),
    ("logits", "cross_entropy"): Head(
        lambda y, s: y * -s, lambda z, t, s: torch.add(t, torch.softmax(z, -1), alpha=s),
        _ce_value, per_row=True),
    ("logits", "mse"): Head(
        lambda y, s: y * (-2 * s), lambda z, t, s: torch.add(t, z, alpha=2 * s),
        lambda z, y: (z - y) ** 2),
    ("logits", "l1"): Head(
        lambda y, s: y, lambda z, t, s: torch.sign(z - t).mul_(s),
        lambda z, y: (z - y).abs()),
}


def head_targets(head: Head, y: Tensor, n_outputs: int, scale: float) -> Tensor:
    """Targets in the form ``head.grad`` wants: one-hot for cross-entropy, pre-scaled."""
    t = _onehot(y, n_outputs) if head.per_row else y
    return head.prepare(t, scale)


__all__ = ["HEADS", "Head", "head_targets"]
