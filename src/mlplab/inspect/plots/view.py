"""What the figures look at: the data per split, the 2-D plane they are drawn on, and the
model evaluated over a grid of that plane.

No matplotlib here, so the training callbacks can use it cheaply.

A :class:`Plane` maps plane coordinates ``(u, v)`` to model inputs: ``x = origin + u*b0 + v*b1``.
With two input features it is the features themselves; with more, either a feature pair (the
other features held at their training median, which for one-hot columns is the mode) or the
first two principal components of the training data.

Example
-------
>>> X = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]], dtype=np.float32)
>>> plane = make_plane(X, ["a", "b"])
>>> plane.kind, plane.xlabel, plane.project(X)[1].tolist()
('features', 'a', [2.0, 3.0])
>>> plane.to_model(np.array([[1.0, 2.0]])).tolist()
[[1.0, 2.0]]
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from sklearn.utils.extmath import randomized_svd
from torch import nn

from mlplab.tasks import TaskSpec

EVAL_BATCH = 65_536  # rows per forward pass over a grid
# above this many rows and features, the top two components come from a randomised SVD:
# a 1,280 x 3,124 table took 82 s for the full SVD and 2.5 s for the randomised one
EXACT_SVD_MAX = 500
# fitted principal planes by the id of the array they came from (dropped with the array), so
# the callbacks and the final figures of one run share one SVD
_PCA_CACHE: dict[int, tuple[weakref.ref[np.ndarray], tuple[np.ndarray, np.ndarray, str]]] = {}
SPLIT_ORDER = ("train", "val", "test", "data")
MAX_PLOT_ROWS = 20_000  # rows per split a figure draws; larger splits are sampled (stratified)


@dataclass
class PlotData:
    """Model inputs and encoded targets per split, with the names the figures print.

    ``X[split]`` is float32 (n, d) as the model takes it (preprocessed); ``y[split]`` holds
    class indices (n,), 0/1 label sets (n, L) or values (n,) / (n, t).
    """

    X: dict[str, np.ndarray]
    y: dict[str, np.ndarray]
    feature_names: list[str]
    class_names: list[str]
    task: TaskSpec
    # feature -> (center, spread) of an affine scaling, model input = (raw - center) / spread:
    # planes over these features are drawn in the original units
    units: dict[str, tuple[float, float]] = field(default_factory=dict)
    # split -> its number of rows before :meth:`sample` kept MAX_PLOT_ROWS of them
    sampled: dict[str, int] = field(default_factory=dict)
    # split -> what the figures call its points when not the split's own name: an imported
    # run's "80% of the rows" (mlplab trained on none of them; see runs.provenance)
    split_names: dict[str, str] = field(default_factory=dict)

    @property
    def splits(self) -> list[str]:
        return [s for s in SPLIT_ORDER if s in self.X and len(self.X[s]) > 0]

    @property
    def n_features(self) -> int:
        return int(next(iter(self.X.values())).shape[1])

    @property
    def fit_split(self) -> str:
        """The split the plane and the medians come from (train when there is one)."""
        return "train" if "train" in self.splits else self.splits[0]

    @property
    def eval_split(self) -> str:
        """The held-out split figures report on: test, else val, else the only one."""
        for s in ("test", "val", "data", "train"):
            if s in self.splits:
                return s
        raise ValueError("no data to plot")

    def split_name(self, split: str) -> str:
        """What the figures call the points of ``split`` (``"train"``, ``"80% of the rows"``)."""
        return self.split_names.get(split, split)

    def sample(self, max_rows: int = MAX_PLOT_ROWS, seed: int = 0) -> PlotData:
        """At most ``max_rows`` rows per split, so figures cost the same at any data size:
        stratified by class for single-label classification (each class keeps its share),
        uniformly otherwise; rows keep their order. Splits that fit are kept whole.

        >>> from mlplab.tasks import resolve_task
        >>> y = np.r_[np.zeros(900, int), np.ones(100, int)]
        >>> task = resolve_task("binary", n_classes=2, n_targets=1, loss="auto", output="logits")
        >>> d = PlotData({"train": np.zeros((1000, 2), np.float32)}, {"train": y}, ["a", "b"],
        ...              ["0", "1"], task).sample(50)
        >>> len(d.X["train"]), int(d.y["train"].sum()), d.sampled
        (50, 5, {'train': 1000})
        """
        from sklearn.model_selection import train_test_split

        X, y, sampled = dict(self.X), dict(self.y), dict(self.sampled)
        for split, Xs in self.X.items():
            n = len(Xs)
            if n <= max_rows:
                continue
            ys = self.y.get(split)
            strata = ys if ys is not None and self.task.is_classification and ys.ndim == 1 \
                and len(np.unique(ys)) * 2 <= max_rows else None
            keep, _ = train_test_split(np.arange(n), train_size=max_rows, random_state=seed,
                                       stratify=strata)
            keep = np.sort(keep)
            X[split] = Xs[keep]
            if ys is not None and len(ys) == n:
                y[split] = ys[keep]
            sampled[split] = sampled.get(split, n)
        return replace(self, X=X, y=y, sampled=sampled)

    @property
    def sample_note(self) -> str:
        """What :meth:`sample` did, for a caption ('' when every row is drawn)."""
        if not self.sampled:
            return ""
        parts = [f"{len(self.X[s]):,} of {n:,} {s} rows" for s, n in self.sampled.items()]
        return (f"Figures show a stratified sample ({', '.join(parts)}); "
                "the metrics use every row.")

    @classmethod
    def from_prepared(cls, p: Any, max_rows: int | None = MAX_PLOT_ROWS) -> PlotData:
        """From :class:`mlplab.api.Prepared`, sampled to ``max_rows`` rows per split (None:
        every row; see :meth:`sample`)."""
        data = cls(X=dict(p.X), y=dict(p.y),
                   feature_names=[str(f) for f in p.preprocessor.feature_names_out],
                   class_names=_class_names(p.target_encoder, p.task), task=p.task,
                   units=raw_units(p.preprocessor))
        return data if max_rows is None else data.sample(max_rows)

    @classmethod
    def from_run(cls, run: Any, X_raw: Any, y_raw: Any, split: str = "data") -> PlotData:
        """New raw data (DataFrames) through a run's fitted preprocessing, as one split."""
        X = np.asarray(run.preprocessor.transform(X_raw), dtype=np.float32)
        y = np.asarray(run.target_encoder.transform(y_raw))
        return cls(X={split: X}, y={split: y},
                   feature_names=[str(f) for f in run.preprocessor.feature_names_out],
                   class_names=_class_names(run.target_encoder, run.task), task=run.task,
                   units=raw_units(run.preprocessor))


def raw_units(pre: Any) -> dict[str, tuple[float, float]]:
    """(center, spread) per numeric feature when the preprocessing is an affine scaling
    (standard / minmax; robust scaling clips, so its figures stay in scaled units)."""
    if getattr(pre, "clip", False) or getattr(pre, "scale", "none") == "none":
        return {}
    return {str(k): (float(pre.center[k]), float(pre.spread[k])) for k in pre.center}


def _class_names(encoder: Any, task: TaskSpec) -> list[str]:
    if task.is_classification:
        return [str(c) for c in encoder.classes]
    return [str(t) for t in encoder.target_names]


@dataclass
class Plane:
    """A 2-D slice of the input space: ``x = origin + uv @ basis``.

    ``note`` says how the slice was chosen; figures print it.
    """

    kind: str  # "features" | "pair" | "pca"
    xlabel: str
    ylabel: str
    origin: np.ndarray  # (d,)
    basis: np.ndarray  # (2, d), orthonormal rows
    note: str = ""
    xlim: tuple[float, float] = (-1.0, 1.0)
    ylim: tuple[float, float] = (-1.0, 1.0)
    extra: dict[str, Any] = field(default_factory=dict)

    def project(self, X: np.ndarray) -> np.ndarray:
        """Model inputs (n, d) -> plane coordinates (n, 2) (the basis rows are orthonormal, or
        scaled feature axes when the plane is in original units: hence the pseudo-inverse)."""
        return ((np.asarray(X, dtype=np.float64) - self.origin)
                @ np.linalg.pinv(self.basis)).astype(np.float32)

    def to_model(self, uv: np.ndarray) -> np.ndarray:
        """Plane coordinates (m, 2) -> model inputs (m, d), float32."""
        return (self.origin + np.asarray(uv, dtype=np.float64) @ self.basis).astype(np.float32)

    def grid(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """An n x n grid over the limits: (xs (n,), ys (n,), model inputs (n*n, d)).

        Rows of the flattened grid run over x fastest: point ``i*n + j`` is ``(xs[j], ys[i])``.
        """
        xs = np.linspace(*self.xlim, n)
        ys = np.linspace(*self.ylim, n)
        uu, vv = np.meshgrid(xs, ys)
        return xs, ys, self.to_model(np.column_stack([uu.ravel(), vv.ravel()]))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "xlabel": self.xlabel, "ylabel": self.ylabel,
                "origin": self.origin.tolist(), "basis": self.basis.tolist(), "note": self.note,
                "xlim": list(self.xlim), "ylim": list(self.ylim)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Plane:
        return cls(kind=d["kind"], xlabel=d["xlabel"], ylabel=d["ylabel"],
                   origin=np.asarray(d["origin"], dtype=np.float64),
                   basis=np.asarray(d["basis"], dtype=np.float64), note=d.get("note", ""),
                   xlim=tuple(d["xlim"]), ylim=tuple(d["ylim"]))  # type: ignore[arg-type]


def make_plane(X_fit: np.ndarray, feature_names: list[str], *,
               features: tuple[int | str, int | str] | None = None, method: str = "auto",
               X_all: list[np.ndarray] | None = None, margin: float = 0.08,
               units: dict[str, tuple[float, float]] | None = None) -> Plane:
    """Choose the plane for ``X_fit`` (n, d >= 2).

    ``method``: "auto" (the features for d == 2, else PCA), "pair" (``features`` names two
    columns; default the first two), or "pca". The limits cover ``X_all`` (default
    ``[X_fit]``) plus a ``margin`` fraction on each side.
    """
    source, X_fit = X_fit, np.asarray(X_fit, dtype=np.float64)
    d = X_fit.shape[1]
    if d < 2:
        raise ValueError("a plane needs at least two input features")
    if d == 2 and method == "auto":
        plane = Plane("features", feature_names[0], feature_names[1], np.zeros(2), np.eye(2))
    elif method == "pair" or (method == "auto" and features is not None):
        i, j = (_feature_index(f, feature_names) for f in (features or (0, 1)))
        origin = np.median(X_fit, axis=0)
        origin[[i, j]] = 0.0
        basis = np.zeros((2, d))
        basis[0, i] = basis[1, j] = 1.0
        others = d - 2
        note = f"other {others} feature{'s' if others > 1 else ''} held at their training median"
        plane = Plane("pair", feature_names[i], feature_names[j], origin, basis, note)
    else:
        mean, top, note = _principal_plane(source)
        plane = Plane("pca", "principal component 1", "principal component 2", mean, top, note)
    if plane.kind != "pca":
        _in_original_units(plane, feature_names, units or {})
    pts = np.concatenate([plane.project(x) for x in (X_all or [X_fit])])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = np.maximum((hi - lo) * margin, 0.25)
    plane.xlim = (float(lo[0] - pad[0]), float(hi[0] + pad[0]))
    plane.ylim = (float(lo[1] - pad[1]), float(hi[1] + pad[1]))
    return plane


def _in_original_units(plane: Plane, names: list[str],
                       units: dict[str, tuple[float, float]]) -> None:
    """Make a feature plane's axes run in the features' original units: the model input
    (raw - center) / spread is origin + u * basis with origin -center/spread, basis 1/spread."""
    plane.origin, plane.basis = plane.origin.copy(), plane.basis.copy()
    for row in plane.basis:
        i = int(np.argmax(np.abs(row)))
        if names[i] in units:
            center, spread = units[names[i]]
            row[i] = 1.0 / spread
            plane.origin[i] = -center / spread


def _principal_plane(source: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """(mean (d,), top two right singular vectors (2, d), note) of the centred rows.

    Computed once per array; wide tables use a randomised SVD (the note says so). The variance
    share divides by the total sum of squares, which needs no other singular value.
    """
    hit = _PCA_CACHE.get(id(source))
    if hit is not None and hit[0]() is source:
        return hit[1]
    X = np.asarray(source, dtype=np.float64)
    n, d = X.shape
    mean = X.mean(axis=0)
    centred = X - mean
    if min(n, d) > EXACT_SVD_MAX:
        _, s, vt = randomized_svd(centred, 2, random_state=0)
        how = ", randomised SVD"
    else:
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
        how = ""
    share = (s[:2] ** 2).sum() / max(float((centred ** 2).sum()), 1e-12)
    out = (mean, vt[:2], f"first two principal components of {d} features "
           f"({share:.0%} of the variance{how})")
    if isinstance(source, np.ndarray):
        key = id(source)
        _PCA_CACHE[key] = (weakref.ref(source, lambda _: _PCA_CACHE.pop(key, None)), out)
    return out


def plane_for(data: PlotData, **kwargs: Any) -> Plane:
    """The plane for a :class:`PlotData` (fit on its train split, limits over all splits)."""
    return make_plane(data.X[data.fit_split], data.feature_names,
                      X_all=[data.X[s] for s in data.splits], units=data.units, **kwargs)


def _feature_index(f: int | str, names: list[str]) -> int:
    if isinstance(f, int):
        if not 0 <= f < len(names):
            raise ValueError(f"feature index {f} out of range (0..{len(names) - 1})")
        return f
    if f not in names:
        from mlplab.errors import ConfigError
        raise ConfigError(f"unknown feature '{f}' for the boundary plane",
                          expected="one of " + ", ".join(names))
    return names.index(f)


def model_device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def model_outputs(model: nn.Module, task: TaskSpec, X: np.ndarray | torch.Tensor,
                  batch: int = EVAL_BATCH) -> np.ndarray:
    """Probabilities (n, k) for classifiers, values (n, t) for regression.

    Evaluated in batches under inference mode on the model's device, in eval mode; the model is
    left in the mode it was in.
    """
    device = model_device(model)
    x = torch.as_tensor(np.asarray(X, dtype=np.float32)) if not isinstance(X, torch.Tensor) \
        else X
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            outs = [task.proba(model(x[i:i + batch].to(device))).float().cpu()
                    for i in range(0, len(x), batch)]
    finally:
        model.train(was_training)
    if not outs:
        return np.zeros((0, task.n_classes), dtype=np.float32)
    return torch.cat(outs).numpy()


def predicted_labels(task: TaskSpec, proba: np.ndarray) -> np.ndarray:
    """Class indices (n,) or 0/1 label sets (n, L) from probabilities, as the task decodes."""
    return task.labels(torch.as_tensor(proba)).numpy()


def grid_values(model: nn.Module, task: TaskSpec, plane: Plane, n: int) -> np.ndarray:
    """The model over an n x n grid of ``plane``: (n, n) for binary (P(class 1)) and one-target
    regression, (n, n, k) for multiclass / multilabel / several targets."""
    _, _, pts = plane.grid(n)
    out = model_outputs(model, task, pts)
    if task.name == "binary":
        return out[:, 1].reshape(n, n)
    if out.shape[1] == 1:
        return out[:, 0].reshape(n, n)
    return out.reshape(n, n, -1)
