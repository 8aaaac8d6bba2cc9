"""The estimators' view of an :class:`~mlplab.models.MLP`'s layers: scikit-learn's
initialisation, a forward pass that never changes the module (safe from many threads), and
``coefs_`` / ``intercepts_`` as live arrays over the weights.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mlplab.models import MLP

# scikit-learn's Glorot factor per hidden activation (mlplab's names): 2 for logistic, else 6
_GLOROT_FACTOR = {"sigmoid": 2.0}


def glorot_init(model: MLP, activation: str, rng: np.random.RandomState) -> None:
    """Draw every Linear layer's weights and biases as scikit-learn's ``_init_coef`` does:
    uniform in +-sqrt(factor / (fan_in + fan_out)), weights then biases, layer by layer, from
    ``rng`` (so an integer ``random_state`` gives scikit-learn's exact initial weights).

    Example
    -------
    >>> from mlplab.models import ModelSpec
    >>> m = MLP(ModelSpec(in_features=2, n_outputs=1, hidden=[3], activations=["relu"]))
    >>> glorot_init(m, "relu", np.random.RandomState(0))
    >>> bool(m.linears()[0].weight.abs().max() <= math.sqrt(6 / 5))
    True
    """
    factor = _GLOROT_FACTOR.get(activation, 6.0)
    with torch.no_grad():
        for layer in model.linears():
            fan_out, fan_in = layer.weight.shape
            bound = math.sqrt(factor / (fan_in + fan_out))
            coef = rng.uniform(-bound, bound, (fan_in, fan_out))  # scikit-learn's layout
            intercept = rng.uniform(-bound, bound, fan_out)
            layer.weight.copy_(torch.as_tensor(coef.T))
            layer.bias.copy_(torch.as_tensor(intercept))


# rows per prediction pass (as ``mlplab.runs.run.PREDICT_CHUNK``; that module pulls in the
# data layer and pandas, which a joblib worker running the estimator does not need)
PREDICT_CHUNK = 4096
# rows are padded to a multiple of this many: the BLAS kernels sum a row's products in an
# order that depends on whether the row falls in a full block of rows or in the tail, so
# without padding a row's output could change in its last bit with the number of rows
ROW_BLOCK = 16


@torch.inference_mode()
def forward64(model: MLP, x: torch.Tensor) -> torch.Tensor:
    """``model``'s eval-mode outputs for ``x`` (B, in), computed in float64 without touching
    the module: no ``.double()``, no ``.eval()``, so concurrent calls and a training thread
    never see a half-changed model. The rows are zero-padded to a multiple of
    :data:`ROW_BLOCK`, so a row's output does not depend on how many rows come with it
    (tests/sklearn/test_concurrency.py). Returns (B, n_outputs) float64.

    Example
    -------
    >>> from mlplab.models import ModelSpec
    >>> m = MLP(ModelSpec(in_features=2, n_outputs=1, hidden=[3], activations=["relu"]))
    >>> x = torch.randn(4, 2)
    >>> torch.allclose(forward64(m, x), m.eval()(x).double(), atol=1e-6)
    True
    """
    n = x.shape[0]
    pad = -n % ROW_BLOCK
    h = x.double()
    if pad:
        h = torch.cat([h, h.new_zeros(pad, h.shape[1])])
    for m in model.net:
        if isinstance(m, nn.Linear):
            h = F.linear(h, m.weight.double(), m.bias.double())
        elif isinstance(m, nn.BatchNorm1d):  # eval mode: the running statistics
            h = F.batch_norm(h, _f64(m.running_mean), _f64(m.running_var), _f64(m.weight),
                             _f64(m.bias), training=False, eps=m.eps)
        elif not isinstance(m, nn.Dropout):  # dropout is the identity in eval mode
            h = m(h)  # activations and output heads: stateless
    return h[:n] if pad else h


def _f64(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.double()


class LiveArrays(list):  # type: ignore[type-arg]
    """``coefs_`` / ``intercepts_``: numpy views of the layers' tensors (CPU; the dtype the
    model trains in, float32 or float64), so writing into an array, or assigning an item,
    changes the model, as in scikit-learn.
    Weights appear as (fan_in, fan_out), scikit-learn's layout. Off the CPU the arrays are
    read-only copies and writing raises."""

    def __init__(self, tensors: list[torch.Tensor], transpose: bool) -> None:
        self.tensors, self.transpose = tensors, transpose
        super().__init__(self._view(t) for t in tensors)

    def _view(self, t: torch.Tensor) -> np.ndarray:
        if t.device.type == "cpu":
            a = t.detach().numpy()
        else:
            a = t.detach().cpu().numpy()
            a.setflags(write=False)
        return a.T if self.transpose else a

    def __setitem__(self, i: Any, value: Any) -> None:
        if not isinstance(i, int):
            raise TypeError("assign one layer at a time: coefs_[i] = array")
        t = self.tensors[i]
        new = torch.as_tensor(np.asarray(value, dtype=self[i].dtype))  # the layer's dtype
        new = new.T if self.transpose else new
        if new.shape != t.shape:
            raise ValueError(f"layer {i} has shape {tuple(self[i].shape)}, got "
                             f"{tuple(np.shape(value))}")
        with torch.no_grad():
            t.copy_(new)
        super().__setitem__(i, self._view(t))


def assign(arrays: LiveArrays, values: list[Any]) -> None:
    """``est.coefs_ = [...]``: copy each array into its layer (same shapes)."""
    if len(values) != len(arrays):
        raise ValueError(f"expected {len(arrays)} arrays, got {len(values)}")
    for i, v in enumerate(values):
        arrays[i] = v
