"""Every figure of a run, by name: drawn once as PNG (GIF) bytes, written into the run
directory and embedded in the report.

=================  ==========================================================================
kind               figure
=================  ==========================================================================
data               the data by class and split
boundary           the decision boundary, train and test side by side
curves             learning curves with the learning rate
confusion          confusion matrix, counts and normalised (binary / multiclass)
roc                ROC and precision-recall curves (classification)
calibration        calibration curve (binary)
residuals          predicted vs true and residuals (regression)
neurons            hidden-unit activation maps (MLPs, two or more inputs)
animation          boundary evolution GIF (needs snapshots)
=================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from mlplab.inspect.plots import animate, boundary, curves, neurons
from mlplab.inspect.plots.style import png_bytes
from mlplab.inspect.plots.view import PlotData, model_outputs, plane_for, predicted_labels
from mlplab.runs.provenance import imported_from, scored_on_labels


@dataclass
class Context:
    """What the figure builders read: the run, the data and (optional) snapshots."""

    run: Any
    data: PlotData
    snapshots: Any = None
    plane: Any = None

    @property
    def task(self) -> Any:
        return self.run.task

    def eval_split(self) -> str:
        return self.data.eval_split

    def outputs(self, split: str) -> np.ndarray:
        return model_outputs(self.run.model, self.task, self.data.X[split])


def _data(c: Context) -> bytes | None:
    return png_bytes(boundary.data_figure(c.data, plane=c.plane))


def _boundary(c: Context) -> bytes | None:
    return png_bytes(boundary.boundary_figure(c.run.model, c.data, plane=c.plane))


def _curves(c: Context) -> bytes | None:
    if not c.run.history:
        return None
    score = "r2" if c.task.name == "regression" else "accuracy"
    return png_bytes(curves.learning_curves(c.run.history, score=score))


def _confusion(c: Context) -> bytes | None:
    if c.task.name not in ("binary", "multiclass"):
        return None
    s = c.eval_split()
    pred = predicted_labels(c.task, c.outputs(s))
    return png_bytes(curves.confusion_figure(c.data.y[s], pred, c.data.class_names, split=s))


def _roc(c: Context) -> bytes | None:
    if not c.task.is_classification:
        return None
    s = c.eval_split()
    return png_bytes(curves.roc_pr_figure(c.data.y[s], c.outputs(s), c.data.class_names,
                                          c.task.name, split=s))


def _calibration(c: Context) -> bytes | None:
    if c.task.name != "binary":
        return None
    s = c.eval_split()
    return png_bytes(curves.calibration_figure(c.data.y[s], c.outputs(s), split=s))


def _residuals(c: Context) -> bytes | None:
    if c.task.is_classification:
        return None
    s = c.eval_split()
    inverse = c.run.target_encoder.inverse_values  # standardised targets -> the target's units
    return png_bytes(curves.residuals_figure(inverse(c.data.y[s]), inverse(c.outputs(s)),
                                             c.data.class_names[0], split=s))


def _neurons(c: Context) -> bytes | None:
    from mlplab.models import MLP

    if not isinstance(c.run.model, MLP) or not c.run.model.spec.hidden or c.plane is None:
        return None
    return png_bytes(neurons.neuron_figure(c.run.model, c.plane))


def _animation(c: Context) -> bytes | None:
    if c.snapshots is None or len(c.snapshots.epochs) < 2:
        return None
    return animate.gif_bytes(animate.snapshot_frames(c.snapshots, c.data))


FIGURES: dict[str, tuple[str, Callable[[Context], bytes | None]]] = {
    "data": ("data.png", _data),
    "boundary": ("boundary.png", _boundary),
    "curves": ("learning_curves.png", _curves),
    "confusion": ("confusion_matrix.png", _confusion),
    "roc": ("roc_pr.png", _roc),
    "calibration": ("calibration.png", _calibration),
    "residuals": ("residuals.png", _residuals),
    "neurons": ("neurons.png", _neurons),
    "animation": ("boundary_evolution.gif", _animation),
}


def draw_figures(run: Any, data: PlotData, snapshots: Any = None,
                 kinds: list[str] | None = None, plane: Any = None) -> dict[str, bytes]:
    """``{file name: image bytes}`` for the figures that apply to this run.

    The boundary plane is the snapshots' (so the static and animated boundaries match), else
    chosen from the data. An imported run's points are labelled as its text views label its
    rows, by their share of the rows ("80% of the rows"), not "train" / "test".
    """
    from mlplab.errors import ConfigError

    unknown = [k for k in kinds or [] if k not in FIGURES]
    if unknown:
        raise ConfigError(f"unknown figure kind '{unknown[0]}'",
                          expected="one of " + ", ".join(FIGURES))
    if plane is None and data.n_features >= 2:
        plane = snapshots.plane if snapshots is not None else plane_for(data)
    if imported_from(run) is not None:
        data = replace(data, split_names=scored_on_labels(run))
    ctx = Context(run, data, snapshots, plane)
    out: dict[str, bytes] = {}
    for kind in kinds or list(FIGURES):
        name, build = FIGURES[kind]
        img = build(ctx)
        if img is not None:
            out[name] = img
    return out


def write_figures(run: Any, data: PlotData, directory: str | Path, snapshots: Any = None,
                  kinds: list[str] | None = None, plane: Any = None) -> dict[str, bytes]:
    """Draw the figures and write them into ``directory``; returns what was written."""
    from mlplab.runs.store import atomic_write_bytes

    figs = draw_figures(run, data, snapshots, kinds, plane)
    for name, img in figs.items():
        atomic_write_bytes(Path(directory) / name, img)
    return figs


__all__ = ["FIGURES", "draw_figures", "write_figures"]
