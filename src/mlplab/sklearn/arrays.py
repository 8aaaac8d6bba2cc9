"""The estimators' arrays: rows and targets as tensors in the training dtype, the dtype a
module trains in, and the checks on X's values that dtype needs (:mod:`.base` uses them)."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from mlplab.sklearn import messages
from mlplab.sklearn.sparse import CsrRows


def rows(X: Any, idx: Any, device: torch.device, sparse: bool) -> torch.Tensor:
    """``X[idx]`` (already in the training dtype) as a tensor on ``device`` (indexed in
    numpy: torch indexing by a numpy array costs milliseconds per call), or as
    :class:`~.sparse.CsrRows` when ``sparse`` (the loop takes them where a tensor goes;
    :class:`~.sparse.SparseRunner` trains on them)."""
    if sparse:
        return CsrRows(X[idx], X.dtype)  # type: ignore[return-value]
    part = X[idx]
    part = part.toarray() if sp.issparse(part) else part  # a sparse X on a GPU: dense rows
    return torch.from_numpy(np.ascontiguousarray(part, dtype=X.dtype)).to(device)


def targets(est: Any, Y: np.ndarray, device: torch.device,
             dtype: np.dtype[Any]) -> torch.Tensor:
    """``task_.targets`` (its checks, in the estimator's words, and shapes; class indices stay
    int64) with float targets in the training ``dtype``: ``targets`` gives float32, which
    would round float64 values."""
    t = messages.targets(est.task_, Y, device, est._task_kind)
    if not t.is_floating_point() or np.dtype(dtype) == np.float32:
        return t
    return torch.from_numpy(np.asarray(Y, dtype=dtype).reshape(t.shape)).to(device)


# numpy's float dtypes -> torch's: the estimators train in X's dtype, as scikit-learn
TORCH_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def model_dtype(model: nn.Module) -> np.dtype[Any]:
    """The numpy dtype of a module's (first floating) parameters, float32 if it has none."""
    for p in model.parameters():
        if p.is_floating_point():
            return np.dtype(torch.empty(0, dtype=p.dtype).numpy().dtype)
    return np.dtype(np.float32)


def beyond_float32(X: Any, dtype: np.dtype[Any]) -> bool:
    """Whether a finite float64 ``X`` holds values that overflow the float32 it trains in."""
    data = X.data if sp.issparse(X) else X
    if data.dtype != np.float64 or np.dtype(dtype) != np.float32 or not data.size:
        return False
    return bool(np.abs(data).max() > np.finfo(np.float32).max)


def dense_copy(X: Any, dtype: np.dtype[Any]) -> np.ndarray:
    """A C-contiguous copy in ``dtype`` (never a read-only view)."""
    return np.array(X, dtype=dtype, order="C", copy=True)


__all__ = ["TORCH_DTYPES", "beyond_float32", "dense_copy", "model_dtype", "rows", "targets"]
