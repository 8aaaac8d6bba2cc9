"""What the playground page draws, computed from a model and its prepared data.

A *view* fixes the two drawn input columns (the others held at their training median) and the
plotting extent; from it come the probability grid behind the boundary heatmap, each hidden
unit's activation grid, the scatter points and the confusion matrix. Grids travel as base64
``uint8`` so a 64x64 frame is ~5 KB of JSON.

Example
-------
>>> import numpy as np
>>> X = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]], dtype=np.float32)
>>> v = View.fit(X, [0, 1], ["a", "b"], size=4)
>>> v.inputs(4).shape, v.extent
((16, 2), [-0.4, 4.4, 0.6, 5.4])
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from mlplab.tasks import TaskSpec

PAD = 0.1  # extent padding, as a fraction of the data range


def b64(a: np.ndarray) -> str:
    """uint8 array -> base64 text (row-major)."""
    return base64.b64encode(np.ascontiguousarray(a, dtype=np.uint8).tobytes()).decode("ascii")


def to_u8(v: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map [lo, hi] linearly onto 0..255 (clipped)."""
    span = hi - lo if hi > lo else 1.0
    return np.clip(np.rint((v - lo) / span * 255.0), 0, 255).astype(np.uint8)


@dataclass
class View:
    """Two drawn columns of the model's input matrix and the region of the plane shown.

    ``cols`` are indices into the preprocessed features (one column for 1-D data); ``base`` is
    the training median row that every grid point starts from.
    """

    cols: list[int]
    names: list[str]
    base: np.ndarray  # (F,) float32
    extent: list[float]  # [x0, x1, y0, y1]

    @classmethod
    def fit(cls, X_train: np.ndarray, cols: list[int], names: list[str], size: int = 64,
            X_all: np.ndarray | None = None) -> View:
        X = X_train if X_all is None else X_all
        ext: list[float] = []
        for c in cols:
            lo, hi = float(X[:, c].min()), float(X[:, c].max())
            pad = PAD * (hi - lo if hi > lo else 1.0)
            ext += [round(lo - pad, 4), round(hi + pad, 4)]
        base = np.median(X_train, axis=0).astype(np.float32)
        return cls(list(cols), list(names), base, ext)

    def axis(self, k: int, n: int) -> np.ndarray:
        """``n`` cell centres along drawn axis ``k`` (y runs top to bottom: high to low)."""
        lo, hi = self.extent[2 * k], self.extent[2 * k + 1]
        step = (hi - lo) / n
        centres = lo + step * (np.arange(n) + 0.5)
        return centres[::-1] if k == 1 else centres

    def inputs(self, n: int) -> np.ndarray:
        """(n*n, F) model inputs for an n x n grid (row-major, top row first); 1-D: (n, F)."""
        xs = self.axis(0, n)
        if len(self.cols) == 1:
            grid = np.tile(self.base, (n, 1))
            grid[:, self.cols[0]] = xs
            return grid.astype(np.float32)
        ys = self.axis(1, n)
        gx, gy = np.meshgrid(xs, ys)  # (n, n): rows are y, columns x
        grid = np.tile(self.base, (n * n, 1))
        grid[:, self.cols[0]] = gx.ravel()
        grid[:, self.cols[1]] = gy.ravel()
        return grid.astype(np.float32)


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Eval mode and no autograd for one frame; the training mode comes back after.

    The functions below assume it (switching modes costs more than a tiny forward pass).
    """
    was = model.training
    model.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        model.train(was)


def _forward(model: nn.Module, x: np.ndarray) -> torch.Tensor:
    dev = next(model.parameters()).device
    return model(torch.as_tensor(x, device=dev)).float().cpu()  # type: ignore[no-any-return]


def boundary_grid(model: nn.Module, task: TaskSpec, view: View, n: int,
                  value_range: tuple[float, float]) -> dict[str, Any]:
    """The heatmap: binary p(class 1); multiclass class index + confidence; regression value.

    1-D data gives a ``curve`` of ``n`` predicted values (or p(class 1)) instead.
    """
    out = _forward(model, view.inputs(n))
    if not task.is_classification:
        vals = out[:, 0].numpy()
        lo, hi = value_range
        if len(view.cols) == 1:
            return {"kind": "curve", "n": n, "values": np.round(vals, 4).tolist()}
        return {"kind": "regression", "n": n, "data": b64(to_u8(vals, lo, hi)),
                "vmin": lo, "vmax": hi}
    proba = task.proba(out).numpy()  # (cells, k)
    if len(view.cols) == 1:
        return {"kind": "curve", "n": n, "values": np.round(proba[:, -1], 4).tolist()}
    if proba.shape[1] == 2 and task.name == "binary":
        return {"kind": "binary", "n": n, "data": b64(to_u8(proba[:, 1], 0.0, 1.0))}
    cls = proba.argmax(axis=1).astype(np.uint8)
    conf = to_u8(proba.max(axis=1), 0.0, 1.0)
    return {"kind": "multiclass", "n": n, "data": b64(np.stack([cls, conf], axis=1))}


def _scaled_grids(a: np.ndarray, n: int) -> list[str]:
    """Columns of ``a`` ((n*n, k), or (n, k) for 1-D, tiled into rows) as base64 n x n grids,
    each scaled by its largest |value| (128 = zero)."""
    if len(a) == n:  # 1-D: every row of the thumbnail is the same strip
        a = np.tile(a, (n, 1))
    scale = np.abs(a).max(axis=0)
    scale[scale == 0] = 1.0
    return [b64(to_u8(a[:, j] / scale[j], -1.0, 1.0)) for j in range(a.shape[1])]


def unit_grids(model: nn.Module, view: View, n: int) -> list[list[str]]:
    """Each hidden unit's activation over the drawn plane (1-D data: along the drawn axis).

    Returns one list per hidden layer of base64 ``uint8`` n x n grids (128 = zero), each unit
    scaled by its largest |value|.
    """
    hidden: Any = getattr(model, "hidden_activations", None)
    if hidden is None:
        return []
    dev = next(model.parameters()).device
    acts = hidden(torch.as_tensor(view.inputs(n), device=dev))
    return [_scaled_grids(a.float().cpu().numpy(), n) for a in acts]  # a: (cells, h)


def input_grids(model: nn.Module, view: View, n: int, limit: int = 16) -> list[str]:
    """What each of the first ``limit`` model inputs (feature crosses included) is over the
    drawn plane, as :func:`unit_grids` draws a unit.

    >>> from mlplab.models import ModelSpec, build_model
    >>> m = build_model(ModelSpec(2, [3], ["tanh"], 1, crosses=["x1*x2"]), seed=0)
    >>> v = View.fit(np.array([[0.0, 1.0], [2.0, 3.0]], dtype=np.float32), [0, 1], ["a", "b"])
    >>> len(input_grids(m, v, 8))  # x1, x2 and x1*x2
    3
    """
    from mlplab.models import add_crosses

    spec: Any = getattr(model, "spec", None)
    x = torch.as_tensor(view.inputs(n))
    x = add_crosses(x, list(spec.crosses)) if spec is not None else x
    return _scaled_grids(x[:, :limit].numpy(), n)


def weights(model: nn.Module) -> list[list[list[float]]]:
    """Each Linear layer's weight matrix (out, in), rounded for the wire."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]  # in order
    return [np.round(m.weight.detach().float().cpu().numpy(), 3).tolist() for m in linears]


def points(X: np.ndarray, y: np.ndarray, view: View, task: TaskSpec,
           limit: int) -> list[list[float]]:
    """Scatter points ``[x, y, label]``; 1-D data plots the target on the vertical axis."""
    X, y = X[:limit], np.asarray(y)[:limit]
    lab = y.reshape(len(y), -1)[:, 0].astype(np.float64)
    if len(view.cols) == 1:
        return np.round(np.stack([X[:, view.cols[0]], lab, lab], axis=1), 4).tolist()
    return np.round(np.stack([X[:, view.cols[0]], X[:, view.cols[1]], lab], axis=1),
                    4).tolist()


def confusion(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> list[list[int]]:
    """k x k counts, rows = true class, columns = predicted.

    >>> confusion(np.array([0, 1, 1]), np.array([0, 0, 1]), 2)
    [[1, 0], [1, 1]]
    """
    idx = y_true.astype(np.int64) * k + y_pred.astype(np.int64)
    return np.bincount(idx, minlength=k * k).reshape(k, k).tolist()  # type: ignore[no-any-return]


def measure(model: nn.Module, task: TaskSpec, loss_fn: Any, X: torch.Tensor,
            y: torch.Tensor) -> tuple[float, float, np.ndarray | None]:
    """(loss, score, predicted class indices or None) of ``model`` on one split.

    One forward pass; the loss is ``loss_fn`` (the task's :meth:`~TaskSpec.batch_loss`) and
    the score is the task's own :meth:`~TaskSpec.score`, so a frame shows what the training
    loop's history row shows for the same weights (a poisson head's log-rates included).
    """
    out = model(X)
    loss = float(loss_fn(out, y))
    score = task.score(out, y)
    if not task.is_classification:
        return loss, score, None
    return loss, score, task.labels(task.proba(out)).cpu().numpy()


def draw_columns(names_out: list[str], input_columns: list[str],
                 wanted: list[str] | None,
                 varying: list[bool] | None = None) -> tuple[list[int], list[str]]:
    """Indices and names of the drawn columns: the wanted features, else the first numeric two
    that vary (``varying[i]``: column ``i`` of the model's input is not constant).

    A categorical feature maps to its first one-hot column.

    >>> draw_columns(["a", "c=x", "c=y", "b"], ["a", "c", "b"], ["b", "a"])
    ([3, 0], ['b', 'a'])
    >>> draw_columns(["c=x", "c=y", "a", "b"], ["c", "a", "b"], None)
    ([2, 3], ['a', 'b'])
    >>> draw_columns(["p0", "p1", "p2"], ["p0", "p1", "p2"], None, [False, True, True])
    ([1, 2], ['p1', 'p2'])
    """
    def index(name: str) -> int | None:
        if name in names_out:
            return names_out.index(name)
        for i, n in enumerate(names_out):
            if n.startswith(f"{name}="):
                return i
        return None

    chosen: list[int] = []
    labels: list[str] = []
    numeric = [c for c in input_columns if c in names_out]
    if varying is not None:  # constant columns last: they draw nothing
        numeric = sorted(numeric, key=lambda c: not varying[names_out.index(c)])
    for name in [*(wanted or []), *numeric, *input_columns, *names_out]:
        i = index(name)
        if i is not None and i not in chosen:
            chosen.append(i)
            labels.append(name)
        if len(chosen) == min(2, len(names_out)):
            break
    return chosen, labels
