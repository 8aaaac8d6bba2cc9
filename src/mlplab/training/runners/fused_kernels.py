"""The fused runners' kernels: autograd's and torch.optim's own aten operators, by hand.

Each entry calls the operator autograd (or torch.optim's foreach CPU code) calls for the same
maths, so a step built from them leaves bitwise the weights the eager step leaves
(tests/test_fastpath.py, tests/training/test_fused_minibatch.py). Activations come in two
forms: allocating (used by the stacked runner) and in place, writing into buffers the fused
runner preallocates (the same elementwise kernels through their ``out=`` / in-place overloads).

Example
-------
>>> h = torch.tensor([-1.0, 2.0])
>>> g = torch.ones(2)
>>> ACTS["relu"].backward(g, h, torch.relu(h)).tolist()
[0.0, 1.0]
>>> ACTS["relu"].backward_(g.clone(), h, ACTS["relu"].forward_(h.clone())).tolist()
[0.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

aten = torch.ops.aten  # called through their overloads: ~1.5 µs less per call
MEAN = 1  # aten's Reduction::Mean


@dataclass(frozen=True)
class Act:
    """An activation as the module computes it and as autograd differentiates it.

    ``forward(h) -> a`` and ``backward(grad_a, h, a) -> grad_h`` allocate; ``forward_`` (None
    when the backward needs ``h``) overwrites ``h`` with ``a``; ``backward_`` overwrites
    ``grad_a`` with ``grad_h`` and returns it.
    """

    forward: Callable[[Tensor], Tensor]
    backward: Callable[[Tensor, Tensor, Tensor], Tensor]
    forward_: Callable[[Tensor], Tensor] | None
    backward_: Callable[[Tensor, Tensor, Tensor], Tensor]


def _same(h: Tensor) -> Tensor:
    return h


def _grad_same(g: Tensor, h: Tensor, a: Tensor) -> Tensor:
    return g


ACTS: dict[str, Act] = {
    "relu": Act(torch.relu, lambda g, h, a: aten.threshold_backward.default(g, a, 0),
                aten.relu_.default,
                lambda g, h, a: aten.threshold_backward.grad_input(g, a, 0, grad_input=g)),
    "leaky_relu": Act(lambda h: F.leaky_relu(h, 0.01),
                      lambda g, h, a: aten.leaky_relu_backward.default(g, h, 0.01, False),
                      None,
                      lambda g, h, a: aten.leaky_relu_backward.grad_input(
                          g, h, 0.01, False, grad_input=g)),
    "tanh": Act(torch.tanh, lambda g, h, a: aten.tanh_backward.default(g, a),
                aten.tanh_.default,
                lambda g, h, a: aten.tanh_backward.grad_input(g, a, grad_input=g)),
    "sigmoid": Act(torch.sigmoid, lambda g, h, a: aten.sigmoid_backward.default(g, a),
                   aten.sigmoid_.default,
                   lambda g, h, a: aten.sigmoid_backward.grad_input(g, a, grad_input=g)),
    "gelu": Act(F.gelu, lambda g, h, a: aten.gelu_backward.default(g, h), None,
                lambda g, h, a: aten.gelu_backward.grad_input(g, h, grad_input=g)),
    "silu": Act(F.silu, lambda g, h, a: aten.silu_backward.default(g, h), None,
                lambda g, h, a: aten.silu_backward.grad_input(g, h, grad_input=g)),
    "identity": Act(_same, _grad_same, _same, _grad_same),
}

# --- output activation + loss: dLoss/dz as autograd computes it -------------------------------


def _bce_logits(z: Tensor, y: Tensor, one: Tensor) -> Tensor:
    return (torch.sigmoid(z) - y) / z.numel()  # torch's formula for the mean reduction


def _bce_sigmoid(z: Tensor, y: Tensor, one: Tensor) -> Tensor:
    p = torch.sigmoid(z)
    g = aten.binary_cross_entropy_backward.default(one, p, y, None, MEAN)
    return aten.sigmoid_backward.default(g, p)


def _cross_entropy(z: Tensor, y: Tensor, one: Tensor) -> Tensor:
    logp = torch.log_softmax(z, 1)
    total = torch.tensor(float(len(y)))  # nll_loss's total weight: the row count
    g = aten.nll_loss_backward.default(one, logp, y, None, MEAN, -100, total)
    return aten._log_softmax_backward_data.default(g, logp, 1, z.dtype)


def _mse(z: Tensor, y: Tensor, one: Tensor) -> Tensor:
    return aten.mse_loss_backward.default(one, z, y, MEAN)


def _l1(z: Tensor, y: Tensor, one: Tensor) -> Tensor:
    return torch.sgn(z - y) * (1.0 / z.numel())  # mean's 1/N, then abs's sgn


# (output, loss) -> dLoss/dz for the last layer's pre-activation z, given a 0-dim ``one``
HEADS: dict[tuple[str, str], Callable[[Tensor, Tensor, Tensor], Tensor]] = {
    ("logits", "bce_logits"): _bce_logits,
    ("sigmoid", "bce"): _bce_sigmoid,
    ("logits", "cross_entropy"): _cross_entropy,
    ("logits", "mse"): _mse,
    ("logits", "l1"): _l1,
}
OUT_ACTS: dict[str, Callable[[Tensor], Tensor]] = {"logits": _same, "sigmoid": torch.sigmoid}

# Optimizers the fused runners implement exactly (torch's foreach / single-tensor CPU maths).
OPTIMIZERS = {torch.optim.SGD: "sgd", torch.optim.Adam: "adam", torch.optim.AdamW: "adamw"}

__all__ = ["ACTS", "HEADS", "MEAN", "OPTIMIZERS", "OUT_ACTS", "Act", "aten"]
