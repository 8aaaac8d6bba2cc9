"""Sparse input without densifying: the estimators train on a scipy CSR matrix as it is.

Only the first layer sees the input, so only it multiplies sparsely (:class:`CsrLinear`: the
forward ``X @ W.T`` and the weight gradient ``(X.T @ g).T`` by scipy's CSR kernels, which
take the row slices torch cannot cut from its sparse tensors). :class:`CsrRows` holds a
split's rows; :class:`SparseRunner` trains on them exactly as the eager runner trains on a
dense tensor: the same seeded batch order, the same :class:`~mlplab.training.step.Step`, so
a sparse fit and a dense fit of the same data reach the same weights up to float rounding.

Example
-------
>>> import scipy.sparse as sp
>>> X = sp.random(6, 5, density=0.4, format="csr", random_state=0, dtype=np.float32)
>>> lin = torch.nn.Linear(5, 2)
>>> out = CsrLinear.apply(X, lin.weight, lin.bias)
>>> torch.allclose(out, lin(torch.from_numpy(X.toarray())), atol=1e-6)
True
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from mlplab import registry
from mlplab.data.batches import batch_indices
from mlplab.models import MLP
from mlplab.training.runners import support
from mlplab.training.state import TrainState
from mlplab.training.step import Step, epoch_loss


class CsrLinear(torch.autograd.Function):
    """``X @ weight.T + bias`` for a scipy CSR ``X`` (B, d); gradients for weight and bias."""

    @staticmethod
    def forward(ctx: Any, X: sp.csr_matrix, weight: torch.Tensor,  # type: ignore[override]
                bias: torch.Tensor) -> torch.Tensor:
        ctx.X = X
        return torch.from_numpy(np.asarray(X @ weight.detach().numpy().T)) + bias

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[None, torch.Tensor, torch.Tensor]:  # type: ignore[override]
        grad_w = torch.from_numpy(np.asarray(ctx.X.T @ g.numpy())).t()  # (d, h) -> (h, d)
        return None, grad_w, g.sum(dim=0)


class CsrRows:
    """A split's rows as a scipy CSR matrix (float32, or the dtype given: the model's), in
    the places a tensor split goes.

    ``len`` counts rows; a slice gives a torch sparse CSR tensor, which any ``nn.Linear`` can
    multiply (evaluation and the loop's output-shape check use that); :meth:`take` gives
    the scipy rows of a batch.
    """

    def __init__(self, X: Any, dtype: Any = np.float32) -> None:
        self.X = sp.csr_matrix(X, dtype=dtype)
        self.X.sort_indices()

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        return self.X.shape  # type: ignore[no-any-return]

    def take(self, rows: np.ndarray | None) -> sp.csr_matrix:
        """The rows ``rows`` (all rows for None) as scipy CSR."""
        return self.X if rows is None else self.X[rows]

    def __getitem__(self, rows: slice) -> torch.Tensor:
        return to_torch(self.X[rows])


def to_torch(X: sp.csr_matrix) -> torch.Tensor:
    """A scipy CSR matrix as a torch sparse CSR tensor (no copy of the values); scipy's
    indices are valid, so torch's invariant checks stay off, and its "beta" notice, which
    says nothing to the estimator's user, is not shown."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta", UserWarning)
        return torch.sparse_csr_tensor(torch.from_numpy(X.indptr.astype(np.int64)),
                                       torch.from_numpy(X.indices.astype(np.int64)),
                                       torch.from_numpy(X.data), size=X.shape,
                                       check_invariants=False)


def csr_forward(model: MLP) -> Callable[[sp.csr_matrix], torch.Tensor]:
    """The model's forward for scipy CSR rows: the first Linear sparse, the rest as usual."""
    first, rest = model.linears()[0], model.net[1:]
    return lambda X: rest(CsrLinear.apply(X, first.weight, first.bias))  # type: ignore[no-any-return]


def dense_rows(X: Any, start: int, stop: int, dtype: Any = np.float32) -> np.ndarray:
    """Rows ``start:stop`` of a dense or sparse matrix as a C-contiguous array of ``dtype``
    (prediction densifies one chunk at a time, never the whole matrix)."""
    part = X[start:stop]
    part = part.toarray() if sp.issparse(part) else part
    return np.array(part, dtype=dtype, order="C", copy=True)


class SparseRunner:
    """The eager runner's epochs over :class:`CsrRows`: batches in the same seeded order,
    cut from scipy, through the shared step with the sparse first layer."""

    name = "sparse"
    supports = support.EAGER

    def __call__(self, state: TrainState, n_epochs: int) -> None:
        step, cfg = Step.for_state(state), state.cfg
        rows: CsrRows = state.data.X["train"]  # type: ignore[assignment]  # see sklearn.base
        y, w, n = state.data.y["train"], state.data.w, len(rows)
        forward = csr_forward(state.model)  # type: ignore[arg-type]  # the estimator's MLP
        per_epoch = state.scheduler is not None and cfg.schedule.name in registry.STEP_PER_EPOCH
        state.model.train()
        for _ in range(n_epochs):
            losses, sizes = [], []
            for idx in self._batches(state, n):
                t = None if idx is None else torch.from_numpy(idx)
                yb = y if t is None else y.index_select(0, t)
                wb = None if w is None else w if t is None else w.index_select(0, t)
                losses.append(step(rows.take(idx), yb, wb, forward=forward))  # type: ignore[arg-type]
                sizes.append(len(yb))
            state.last_loss = epoch_loss(losses, sizes, n)
            if per_epoch:
                state.scheduler.step()
            state.epoch += 1

    @staticmethod
    def _batches(state: TrainState, n: int) -> list[np.ndarray | None]:
        """The eager runner's batches as row indices (``epoch_batches``' order)."""
        bs = state.batch_size
        if bs is None:
            return [None]
        if state.cfg.train.shuffle:
            idx = batch_indices(n, bs, state.generator)
            assert idx is not None  # batch_size < n here (resolve_batch_size)
            order = torch.cat(idx).numpy()
        else:
            order = np.arange(n)
        return [order[i:i + bs] for i in range(0, n, bs)]


__all__ = ["CsrLinear", "CsrRows", "SparseRunner", "csr_forward", "dense_rows", "to_torch"]
