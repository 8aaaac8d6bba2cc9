"""Figures that show what a model learned (matplotlib, Agg; no pyplot state).

Public functions:

- :func:`boundary_figure`, :func:`data_figure`, :func:`curve_1d_figure` — the model over the
  input plane (:class:`Plane`: the two features, a feature pair or the first two principal
  components) and the data by class and split;
- :func:`learning_curves`, :func:`confusion_figure`, :func:`roc_pr_figure`,
  :func:`calibration_figure`, :func:`residuals_figure`;
- :func:`neuron_figure` — every hidden unit over the plane;
- :func:`gif_bytes` / :func:`snapshot_frames` — the boundary's evolution;
- :func:`draw_figures` / :func:`write_figures` — all that apply to a run, by name.

Example
-------
>>> import mlplab
>>> run = mlplab.train({"data": {"source": "moons", "n_samples": 200},
...                     "train": {"epochs": 100}, "log": {"quiet": True}}, save=False)
>>> data = PlotData.from_prepared(mlplab.prepare(run.config))
>>> sorted(draw_figures(run, data, kinds=["boundary", "confusion"]))
['boundary.png', 'confusion_matrix.png']
"""

from __future__ import annotations

from mlplab.inspect.plots.animate import gif_bytes, render_frame, snapshot_frames
from mlplab.inspect.plots.boundary import boundary_figure, curve_1d_figure, data_figure
from mlplab.inspect.plots.curves import (
                                 calibration_figure,
                                 confusion_figure,
                                 learning_curves,
                                 residuals_figure,
                                 roc_pr_figure,
)
from mlplab.inspect.plots.figures import FIGURES, draw_figures, write_figures
from mlplab.inspect.plots.neurons import neuron_figure
from mlplab.inspect.plots.style import png_bytes, save_png
from mlplab.inspect.plots.view import Plane, PlotData, grid_values, make_plane, plane_for

__all__ = [
    "FIGURES",
    "Plane",
    "PlotData",
    "boundary_figure",
    "calibration_figure",
    "confusion_figure",
    "curve_1d_figure",
    "data_figure",
    "draw_figures",
    "gif_bytes",
    "grid_values",
    "learning_curves",
    "make_plane",
    "neuron_figure",
    "plane_for",
    "png_bytes",
    "render_frame",
    "residuals_figure",
    "roc_pr_figure",
    "save_png",
    "snapshot_frames",
    "write_figures",
]
