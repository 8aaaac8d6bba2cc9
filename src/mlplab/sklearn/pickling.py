"""Pickling the estimators: tensors travel as numpy arrays (an optimizer's state too), and
an MLP is rebuilt from its spec and weights in the dtype it trained in."""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import torch
from torch import nn

from mlplab.errors import ConfigError
from mlplab.models import MLP, ModelSpec, resolve_device
from mlplab.sklearn import learner
from mlplab.sklearn.optimizer import build_optimizer


def weights_dtype(weights: dict[str, Any]) -> torch.dtype:
    """The dtype a saved model trained in: that of its first floating tensor (float32, the
    dtype of runs saved before float64 training, if none)."""
    for v in weights.values():
        dt = v.dtype if isinstance(v, torch.Tensor) else \
            torch.from_numpy(np.empty(0, np.asarray(v).dtype)).dtype
        if dt.is_floating_point:
            return dt
    return torch.float32


def numpy_tree(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().numpy().copy()
    if isinstance(obj, dict):
        return {k: numpy_tree(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(numpy_tree(v) for v in obj)
    return obj


def torch_tree(obj: Any, device: torch.device) -> Any:
    if isinstance(obj, np.ndarray):
        return torch.as_tensor(obj.copy(), device=device if obj.ndim else "cpu")
    if isinstance(obj, dict):
        return {k: torch_tree(v, device) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(torch_tree(v, device) for v in obj)
    return obj


def unpack_model(packed: dict[str, Any], device: str) -> MLP:
    model = MLP(ModelSpec.from_dict(packed["spec"])).to(weights_dtype(packed["weights"]))
    model.load_state_dict({k: torch.as_tensor(np.array(v)) for k, v in packed["weights"].items()})
    dev = torch.device("cpu")
    with contextlib.suppress(ConfigError):  # saved on a GPU, loaded without one: stay on CPU
        dev = resolve_device(device)
    return model.to(dev).eval()


def pack(state: dict[str, Any]) -> dict[str, Any]:
    """An estimator's ``__getstate__``: ``model_`` as its spec and numpy weights (a
    ``module=``'s as weights only: it is rebuilt from ``module``), the optimizer's state as
    numpy arrays."""
    model = state.get("model_")
    if isinstance(model, MLP):
        state["model_"] = {"spec": model.spec.to_dict(),
                           "weights": numpy_tree(model.state_dict())}
    elif isinstance(model, nn.Module):
        state["model_"] = {"module_weights": numpy_tree(model.state_dict())}
    opt = state.get("_optimizer")
    if opt is not None:
        state["_optimizer"] = numpy_tree(opt.state_dict())
    return state


def take_packed(state: dict[str, Any]) -> tuple[Any, Any]:
    """What :func:`pack` packed: (model, optimizer state), read before the state is set."""
    return state.get("model_"), state.get("_optimizer")


def unpack(est: Any, packed: tuple[Any, Any]) -> None:
    """The other half of ``__setstate__``: rebuild ``model_`` and the optimizer on ``est``."""
    packed_model, packed_opt = packed
    if isinstance(packed_model, dict) and "module_weights" in packed_model:
        model = learner.build(est, int(est.n_features_in_), int(est.n_outputs_),
                              est.run_config_.seed)
        model.load_state_dict({k: torch.as_tensor(np.array(v)) for k, v in
                               packed_model["module_weights"].items()})
        est.model_ = model.eval()
    elif isinstance(packed_model, dict):
        est.model_ = unpack_model(packed_model, est.device)
    if isinstance(packed_opt, dict) and hasattr(est, "model_"):
        opt = build_optimizer(est.model_, est.run_config_)
        opt.load_state_dict(torch_tree(packed_opt, next(est.model_.parameters()).device))
        est._optimizer = opt


__all__ = ["numpy_tree", "pack", "take_packed", "torch_tree", "unpack", "unpack_model",
           "weights_dtype"]
