"""Decision boundaries and data scatters.

- binary: P(class 1) as a blue-white-orange heatmap with the threshold contour;
- multiclass: class regions in the class colours, faded where the model is unsure;
- multilabel: one row of panels per label;
- regression (2 inputs): the predicted value as a viridis heatmap.

Train and test are drawn side by side with their own markers; misclassified points get a black
ring. More than two features: the plane chosen by :func:`~mlplab.inspect.plots.view.make_plane` (a
feature pair or the first two principal components), stated on the figure.

The points are labelled by :meth:`~mlplab.inspect.plots.view.PlotData.split_name`: the split, or
for an imported run its share of the rows, since mlplab trained on none of them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from torch import nn

from mlplab.inspect.plots.style import (
    BINARY_CMAP,
    INK,
    MISCLASSIFIED,
    SPLIT_MARKERS,
    VALUE_CMAP,
    binary_rgb,
    class_colors,
    house_style,
    new_figure,
    region_rgb,
    styled,
)
from mlplab.inspect.plots.view import (
    Plane,
    PlotData,
    grid_values,
    model_outputs,
    plane_for,
    predicted_labels,
)
from mlplab.tasks import TaskSpec


def auto_resolution(model: nn.Module) -> int:
    """Grid points per side: fine for small nets, coarser for big ones (cost is n² forwards)."""
    n_params = sum(p.numel() for p in model.parameters())
    return 200 if n_params < 200_000 else 120 if n_params < 5_000_000 else 70


def draw_surface(ax: Axes, values: np.ndarray, plane: Plane, task: TaskSpec,
                 label: int | None = None, colors: list[str] | None = None) -> Any:
    """Paint a grid from :func:`grid_values` onto ``ax``; returns the image artist.

    ``label`` picks one label's probability for multilabel tasks.
    """
    extent = (*plane.xlim, *plane.ylim)
    n = values.shape[0]
    xs, ys = np.linspace(*plane.xlim, n), np.linspace(*plane.ylim, n)
    kw: dict[str, Any] = {"origin": "lower", "extent": extent, "aspect": "auto",
                          "interpolation": "bilinear", "zorder": 0}
    if task.name == "multilabel":
        values = values[..., label if label is not None else 0]
    if task.name in ("binary", "multilabel"):
        img = ax.imshow(binary_rgb(values), **kw)
        if values.min() < task.threshold < values.max():
            ax.contour(xs, ys, values, levels=[task.threshold], colors=INK, linewidths=1.4,
                       zorder=1)
        return img
    if task.name == "multiclass":
        img = ax.imshow(region_rgb(values, colors), **kw)
        top = values.argmax(axis=-1)
        k = values.shape[-1]
        if len(np.unique(top)) > 1:
            ax.contour(xs, ys, top, levels=np.arange(k - 1) + 0.5, colors=INK,
                       linewidths=0.9, zorder=1)
        return img
    vals = values if values.ndim == 2 else values[..., 0]
    return ax.imshow(vals, cmap=VALUE_CMAP, **kw)


def draw_points(ax: Axes, data: PlotData, split: str, plane: Plane, model: nn.Module | None,
                *, label: int | None = None, size: float = 18.0) -> dict[str, Any]:
    """Scatter one split in the class colours with its marker; ring the misclassified.

    Returns ``{"n": rows, "wrong": misclassified count, "score": accuracy or None}``.
    """
    task = data.task
    X, y = data.X[split], data.y[split]
    uv = plane.project(X)
    marker = SPLIT_MARKERS.get(split, "o")
    info: dict[str, Any] = {"n": len(X), "wrong": 0, "score": None}
    if not task.is_classification:
        yy = np.asarray(y, dtype=np.float64).reshape(len(y), -1)[:, 0]
        ax.scatter(uv[:, 0], uv[:, 1], c=yy, cmap=VALUE_CMAP, marker=marker, s=size,
                   edgecolors="white", linewidths=0.5, zorder=3)
        return info
    truth = y[:, label or 0] if task.name == "multilabel" else np.asarray(y).reshape(-1)
    k = 2 if task.name == "multilabel" else max(task.n_classes, 2)
    colors = np.array(class_colors(k), dtype=object)
    ax.scatter(uv[:, 0], uv[:, 1], c=list(colors[truth.astype(int)]), marker=marker, s=size,
               edgecolors="#333333", linewidths=0.4, zorder=3)
    if model is not None:
        pred = predicted_labels(task, model_outputs(model, task, X))
        pred = pred[:, label or 0] if task.name == "multilabel" else pred
        wrong = pred != truth
        info.update(wrong=int(wrong.sum()), score=float(1.0 - wrong.mean()) if len(X) else None)
        if wrong.any():
            ax.scatter(uv[wrong, 0], uv[wrong, 1], s=size * 3.2, marker="o",
                       facecolors="none", edgecolors=MISCLASSIFIED, linewidths=1.3, zorder=4)
    return info


def _legend(fig: Figure, data: PlotData, splits: list[str], label: int | None = None,
            surface: bool = True) -> None:
    task = data.task
    handles: list[Any] = []
    if task.is_classification:
        names = ([f"not {data.class_names[label or 0]}", data.class_names[label or 0]]
                 if task.name == "multilabel" else data.class_names)
        handles += [Patch(color=c, label=str(n)) for c, n in zip(class_colors(len(names)),
                                                                   names, strict=False)]
    handles += [Line2D([], [], marker=SPLIT_MARKERS.get(s, "o"), color="#777777", ls="",
                       label=data.split_name(s)) for s in splits]
    if task.is_classification:
        handles.append(Line2D([], [], marker="o", mfc="none", mec=MISCLASSIFIED, ls="",
                              ms=8, label="misclassified"))
        if surface and task.name in ("binary", "multilabel"):
            handles.append(Line2D([], [], color=INK, lw=1.4,
                                  label=f"P = {task.threshold:g} (threshold)"))
    fig.legend(handles=handles, loc="outside right center")


def _title(name: str, info: dict[str, Any]) -> str:
    if info["score"] is None:
        return f"{name} ({info['n']} points)"
    return f"{name} · accuracy {info['score']:.3f} · {info['wrong']} misclassified"


@house_style
def boundary_figure(model: nn.Module, data: PlotData, *, plane: Plane | None = None,
                    splits: list[str] | None = None, resolution: int | None = None,
                    title: str = "Decision boundary") -> Figure:
    """What the model predicts over the input plane, one panel per split (train, test).

    Example
    -------
    >>> import torch
    >>> from mlplab.tasks import resolve_task
    >>> task = resolve_task("binary", n_classes=2, n_targets=1, loss="auto", output="logits")
    >>> X = np.random.default_rng(0).normal(size=(40, 2)).astype(np.float32)
    >>> data = PlotData({"train": X}, {"train": (X[:, 0] > 0).astype(int)}, ["a", "b"],
    ...                 ["no", "yes"], task)
    >>> fig = boundary_figure(torch.nn.Linear(2, 1), data, resolution=30)
    >>> len(fig.axes)
    1
    """
    if data.n_features == 1:
        return curve_1d_figure(model, data, splits=splits)
    task = data.task
    plane = plane or plane_for(data)
    splits = [s for s in (splits or ["train", "test", "data"]) if s in data.splits] or \
        data.splits[:1]
    n = resolution or auto_resolution(model)
    values = grid_values(model, task, plane, n)
    rows = task.n_classes if task.name == "multilabel" else 1
    fig = new_figure(3.6 * len(splits) + 1.4, 3.3 * rows + 0.5)
    axes = fig.subplots(rows, len(splits), squeeze=False, sharex=True, sharey=True)
    img = None
    for r in range(rows):
        label = r if task.name == "multilabel" else None
        for c, split in enumerate(splits):
            ax = axes[r][c]
            img = draw_surface(ax, values, plane, task, label=label)
            info = draw_points(ax, data, split, plane, model, label=label)
            head = _title(data.split_name(split), info)
            if task.name == "multilabel":
                head = f"{data.class_names[r]} — {head}"
            ax.set_title(head, fontsize=9)
            ax.set_xlim(*plane.xlim)
            ax.set_ylim(*plane.ylim)
            if r == rows - 1:
                ax.set_xlabel(plane.xlabel)
            if c == 0:
                ax.set_ylabel(plane.ylabel)
    if task.is_classification:
        _legend(fig, data, splits)
    elif img is not None:
        fig.colorbar(img, ax=axes.ravel().tolist(), label=f"predicted {data.class_names[0]}",
                     shrink=0.85)
    fig.suptitle(title + (f"\n{plane.note}" if plane.note else ""), fontsize=10)
    return fig


def _count(data: PlotData, split: str) -> str:
    """'train 160', or '80% of the rows: 160' where the split goes by another name."""
    name = data.split_name(split)
    return f"{name}{' ' if name == split else ': '}{len(data.X[split])}"


@house_style
def data_figure(data: PlotData, *, plane: Plane | None = None) -> Figure:
    """The data by class (colour) and split (marker), on the boundary's plane."""
    task = data.task
    fig = new_figure(5.0, 4.0)
    ax = fig.subplots()
    if data.n_features == 1:
        for split in data.splits:
            y = np.asarray(data.y[split], dtype=np.float64).reshape(len(data.y[split]), -1)
            ax.scatter(data.X[split][:, 0], y[:, 0], marker=SPLIT_MARKERS.get(split, "o"),
                       s=16, alpha=0.8, label=data.split_name(split))
        ax.set_xlabel(data.feature_names[0])
        ax.set_ylabel(data.class_names[0] if not task.is_classification else "class")
        ax.legend()
    else:
        plane = plane or plane_for(data)
        for split in data.splits:
            draw_points(ax, data, split, plane, None)
        ax.set_xlabel(plane.xlabel)
        ax.set_ylabel(plane.ylabel)
        ax.set_xlim(*plane.xlim)
        ax.set_ylim(*plane.ylim)
        if task.is_classification:
            _legend(fig, data, data.splits, surface=False)
        if plane.note:
            ax.text(0.01, 0.01, plane.note, transform=ax.transAxes, fontsize=7, color="#555555")
    ax.set_title(f"Data ({', '.join(_count(data, s) for s in data.splits)})")
    return styled(fig)


@house_style
def curve_1d_figure(model: nn.Module, data: PlotData, *,
                    splits: list[str] | None = None) -> Figure:
    """One input feature: the predicted probability of each class along it, data as ticks."""
    task = data.task
    X_all = np.concatenate([data.X[s] for s in data.splits])
    lo, hi = float(X_all.min()), float(X_all.max())
    pad = max(0.08 * (hi - lo), 0.25)
    xs = np.linspace(lo - pad, hi + pad, 400, dtype=np.float32)[:, None]
    out = model_outputs(model, task, xs)
    fig = new_figure(6.0, 3.6)
    ax = fig.subplots()
    if not task.is_classification:
        return fit_line_on(ax, fig, xs, out, data, splits)
    names = data.class_names
    colors = class_colors(max(len(names), 2))
    cols = range(out.shape[1]) if task.name != "binary" else [1]
    for j in cols:
        ax.plot(xs[:, 0], out[:, j], color=colors[j], lw=2, label=f"P({names[j]})")
    if task.name == "binary":
        ax.axhline(task.threshold, color=INK, lw=0.8, ls="--", label="threshold")
    for split in [s for s in (splits or data.splits) if s in data.splits]:
        y = np.asarray(data.y[split])
        yy = y[:, 0] if y.ndim == 2 else y
        ax.scatter(data.X[split][:, 0], np.where(yy > 0, 1.04, -0.04), s=14,
                   marker=SPLIT_MARKERS.get(split, "o"), c=[colors[int(v)] for v in yy],
                   edgecolors="white", linewidths=0.4, label=data.split_name(split),
                   clip_on=False)
    ax.set_ylim(-0.08, 1.08)
    ax.set_xlabel(data.feature_names[0])
    ax.set_ylabel("probability")
    ax.set_title("Predicted probability along the only feature")
    ax.legend(loc="center right")
    return styled(fig)


def fit_line_on(ax: Axes, fig: Figure, xs: np.ndarray, out: np.ndarray, data: PlotData,
                splits: list[str] | None) -> Figure:
    """Regression with one feature: points and the fitted line."""
    for split in [s for s in (splits or data.splits) if s in data.splits]:
        y = np.asarray(data.y[split], dtype=np.float64).reshape(len(data.y[split]), -1)
        ax.scatter(data.X[split][:, 0], y[:, 0], s=14, marker=SPLIT_MARKERS.get(split, "o"),
                   alpha=0.75, label=data.split_name(split))
    ax.plot(xs[:, 0], out[:, 0], color=INK, lw=2, label="model")
    ax.set_xlabel(data.feature_names[0])
    ax.set_ylabel(data.class_names[0])
    ax.set_title("Fitted line")
    ax.legend()
    return styled(fig)


__all__ = ["BINARY_CMAP", "boundary_figure", "curve_1d_figure", "data_figure", "draw_points",
           "draw_surface"]
