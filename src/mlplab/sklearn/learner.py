"""``module=``: your own ``torch.nn.Module`` behind the estimators (skorch's convention).

``module`` is either an ``nn.Module`` class, built at each fit with the estimator's
``module__*`` parameters (``MLPClassifier(module=Net, module__hidden=32)``), or a module
instance, deep-copied at each fit (the instance you passed is never trained, so ``clone``,
``GridSearchCV`` and ``set_params`` work on it as on any parameter). A class whose
``__init__`` takes ``in_features`` or ``n_outputs`` and is not given them gets the data's
width and the task's head size.

What ``forward`` returns (logits, a sigmoid, a softmax or a log-softmax) is read from the
module itself by :func:`mlplab.outputs.probe_output`; the loss and the decoding follow it
(``BCELoss`` for a sigmoid, ``NLLLoss`` for log-probabilities, ...). The fit is mlplab's
loop with scikit-learn's rules, as for the built-in MLP; ``hidden_layer_sizes``,
``activation``, ``init``, ``dropout`` and ``batchnorm`` describe the built-in MLP and are not
used.

Example
-------
>>> from torch import nn
>>> class Net(nn.Module):
...     def __init__(self, in_features, n_outputs, hidden=8):
...         super().__init__()
...         self.body = nn.Sequential(nn.Linear(in_features, hidden), nn.Tanh(),
...                                   nn.Linear(hidden, n_outputs))
...     def forward(self, x):
...         return self.body(x)
>>> from mlplab import MLPClassifier
>>> est = MLPClassifier(module=Net, module__hidden=4)
>>> build(est, n_features=3, n_outputs=2, seed=0).body[0].out_features
4
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

import numpy as np
import torch
from torch import nn

from mlplab.errors import ConfigError
from mlplab.outputs import probe_output
from mlplab.sklearn.layers import ROW_BLOCK

PREFIX = "module__"
# constructor arguments the estimator fills from the data when a module class takes them
FILLED = ("in_features", "n_outputs")


def module_params(est: Any) -> dict[str, Any]:
    """The estimator's ``module__*`` parameters, without the prefix."""
    return {k[len(PREFIX):]: v for k, v in vars(est).items() if k.startswith(PREFIX)}


def check(est: Any) -> None:
    """Refuse a ``module`` that is neither an ``nn.Module`` class nor an instance."""
    m = est.module
    if not (isinstance(m, nn.Module) or (isinstance(m, type) and issubclass(m, nn.Module))):
        raise ConfigError("module must be a torch.nn.Module class or instance",
                          found=repr(m)[:80],
                          hint="module=MyNet (built with the module__* parameters) or "
                               "module=MyNet(...) (copied at each fit)")
    if isinstance(m, nn.Module) and module_params(est):
        raise ConfigError("module__* parameters are for a module class, not an instance",
                          found=", ".join(PREFIX + k for k in module_params(est)),
                          hint=f"pass the class: module={type(m).__name__}")


def build(est: Any, n_features: int, n_outputs: int, seed: int) -> nn.Module:
    """A fresh module for one fit: the class built with ``module__*`` (and the data's
    ``in_features`` / the task's ``n_outputs`` where it takes them), or a deep copy of the
    instance. torch's default init draws from a generator seeded with ``seed``; the caller's
    global torch RNG is left as it was."""
    m = est.module
    if isinstance(m, nn.Module):
        return copy.deepcopy(m)
    kwargs = module_params(est)
    accepted = inspect.signature(m).parameters
    for name, value in zip(FILLED, (n_features, n_outputs), strict=True):
        if name in accepted and name not in kwargs:
            kwargs[name] = value
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            return m(**kwargs)  # type: ignore[no-any-return]
        except TypeError as e:
            raise ConfigError(f"could not build {m.__name__}: {e}",
                              hint=f"set its arguments as {PREFIX}<name>=value") from e


def output_kind(model: nn.Module, X: Any) -> tuple[str, int]:
    """What ``forward`` returns on the first rows of ``X`` (dense or sparse): its kind
    (:func:`~mlplab.outputs.probe_output`) and its width."""
    rows = X[:8]
    rows = np.asarray(rows.toarray() if hasattr(rows, "toarray") else rows, dtype=np.float32)
    kind = probe_output(model, rows).kind
    was_training = model.training
    model.eval()
    try:
        width = forward(model, torch.from_numpy(rows)).shape[1]
    finally:
        model.train(was_training)
    return kind, width


def linears(model: nn.Module) -> list[nn.Linear]:
    """The module's ``nn.Linear`` layers in registration order (``coefs_``/``intercepts_``)."""
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


@torch.inference_mode()
def forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The module's outputs (B, n_outputs) as float64, in the mode fit left it in (eval),
    without changing the module. A (B,) output becomes (B, 1). Rows are zero-padded to a
    multiple of :data:`~.layers.ROW_BLOCK`, as for the built-in MLP."""
    param = next(iter(model.parameters()), None)
    n = len(x)
    pad = -n % ROW_BLOCK  # a row's output must not depend on the rows beside it
    x = x.to(param.dtype if param is not None else torch.float32)
    if pad:
        x = torch.cat([x, x.new_zeros(pad, *x.shape[1:])])
    out = model(x)[:n]
    return (out if out.dim() == 2 else out.reshape(n, -1)).double()


__all__ = ["PREFIX", "build", "check", "forward", "linears", "module_params", "output_kind"]
