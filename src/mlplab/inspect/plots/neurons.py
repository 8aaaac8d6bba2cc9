"""The neuron view: what every hidden unit computes over the input plane, as TensorFlow
Playground shows it, for any mlplab MLP.

One row per hidden layer, one small heatmap per unit (its activation over the plane, on a
diverging map centred at 0). Units that output 0 everywhere on the plane are marked "dead".
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from mlplab.inspect.plots.style import UNIT_CMAP, house_style, new_figure
from mlplab.inspect.plots.view import Plane, model_device


def unit_maps(model: nn.Module, plane: Plane, n: int = 60) -> list[np.ndarray]:
    """Each hidden layer's activations over an n x n grid: a list of (h_i, n, n) arrays.

    The model is evaluated in eval mode under inference mode on its device, then left in the
    mode it was in.
    """
    from mlplab.models import MLP

    if not isinstance(model, MLP):
        raise TypeError("the neuron view needs an mlplab MLP (it reads hidden_activations)")
    _, _, pts = plane.grid(n)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            acts = model.hidden_activations(torch.as_tensor(pts, device=model_device(model)))
    finally:
        model.train(was_training)
    return [a.float().cpu().numpy().T.reshape(a.shape[1], n, n) for a in acts]


@house_style
def neuron_figure(model: nn.Module, plane: Plane, *, resolution: int = 48,
                  max_units: int = 12) -> Figure:
    """A grid of hidden-unit activation maps, one row per layer (up to ``max_units`` each)."""
    maps = unit_maps(model, plane, resolution)
    acts = getattr(getattr(model, "spec", None), "activations", None) or ["?"] * len(maps)
    cols = max(min(m.shape[0], max_units) for m in maps) if maps else 1
    fig = new_figure(1.15 * cols + 0.9, 1.25 * len(maps) + 0.6)
    axes = fig.subplots(max(len(maps), 1), cols, squeeze=False)
    extent = (*plane.xlim, *plane.ylim)
    for r, layer in enumerate(maps):
        shown = min(layer.shape[0], max_units)
        for c in range(cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= shown:
                ax.axis("off")
                continue
            a = layer[c]
            vmax = float(np.abs(a).max()) or 1.0
            ax.imshow(a, origin="lower", extent=extent, aspect="auto", cmap=UNIT_CMAP,
                      vmin=-vmax, vmax=vmax, interpolation="bilinear")
            dead = float(np.abs(a).max()) == 0.0
            ax.set_title("dead" if dead else f"unit {c + 1}", fontsize=7,
                         color="#D55E00" if dead else "#444444", fontweight="normal", pad=2)
            for side in ax.spines.values():
                side.set_visible(True)
                side.set_color("#D55E00" if dead else "#BBBBBB")
        more = f" (first {shown} of {layer.shape[0]})" if shown < layer.shape[0] else ""
        axes[r][0].set_ylabel(f"layer {r + 1}\n{acts[r]}{more}", fontsize=8)
    title = "Hidden units over the input plane"
    if plane.note:
        title += f"\n{plane.note}"
    fig.suptitle(title, fontsize=10)
    return fig


__all__ = ["neuron_figure", "unit_maps"]
