"""The sweep's figure: one small decision-boundary panel per member (2-feature data)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mlplab.search.results import COMPLETE, SweepResult, short

if TYPE_CHECKING:
    from mlplab.api import Prepared
    from mlplab.runs.run import Run

GRID = 80  # evaluation points per axis of each panel
PAD, TITLE = 0.06, 0.18  # a panel's margin and its title's height, in panel widths


def boundary_grid(res: SweepResult, members: Mapping[str, tuple[Run, Prepared]], path: Path,
                  limit: int = 64) -> None:
    """Panels for the best-ranked complete members found in ``members`` (up to ``limit``):
    P(class 1), the predicted class or the value over the preprocessed input plane, with the
    member's validation points (the split it was ranked on; train points if it has none).

    The panels are drawn into one borderless axes (panel ``i`` fills the unit square at
    its column and row), not one matplotlib axes each: 64 axes cost seconds of layout and
    tick work for a figure that shows no ticks.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    ranked = res.ranked()
    ranked = ranked[(ranked["state"] == COMPLETE) & ranked["member"].isin(list(members))]
    ranked = ranked.head(limit)
    if not len(ranked):
        return
    cols = min(8, len(ranked))
    rows = math.ceil(len(ranked) / cols)
    fig = plt.figure(figsize=(1.8 * cols, 1.9 * rows))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_axis_off()
    ax.set_xlim(0, cols)
    ax.set_ylim(-rows * (1 + TITLE), 0)
    for i, (_, row) in enumerate(ranked.iterrows()):
        run, p = members[row["member"]]
        X = np.concatenate([p.X[s] for s in ("train", "val") if len(p.X[s])])
        lo, hi = X.min(0) - 0.3, X.max(0) + 0.3
        gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], GRID), np.linspace(lo[1], hi[1], GRID))
        grid = torch.as_tensor(np.c_[gx.ravel(), gy.ravel()], dtype=torch.float32)
        with torch.inference_mode():
            out = run.task.proba(run.model.eval()(grid)).numpy()
        z = out[:, 1] if out.shape[1] == 2 else out.argmax(1) if run.task.is_classification \
            else out[:, 0]
        # panel i: x in [c + PAD, c + 1 - PAD], y in [bottom, bottom + 1 - 2 PAD]
        c, bottom = i % cols + PAD, -(i // cols + 1) * (1 + TITLE) + PAD
        size = 1 - 2 * PAD
        ax.imshow(z.reshape(GRID, GRID), origin="lower", aspect="auto", cmap="RdBu_r",
                  alpha=0.8, extent=(c, c + size, bottom, bottom + size),
                  interpolation="nearest")
        split = "val" if len(p.X["val"]) else "train"
        Xs, ys = p.X[split], p.y[split]
        unit = (Xs - lo) / (hi - lo) * size
        ax.scatter(c + unit[:, 0], bottom + unit[:, 1], s=3, cmap="RdBu_r", edgecolors="none",
                   c=np.asarray(ys).reshape(len(Xs), -1)[:, 0])
        label = ", ".join(f"{k.split('.')[-1]}={short(row[k])}" for k in res.keys)
        ax.text(c + size / 2, bottom + size + 0.02, f"{label}\n{res.metric} "
                f"{row[res.metric]:.3f}", fontsize=6, ha="center", va="bottom")
    fig.savefig(path, dpi=110, pil_kwargs={"compress_level": 1})  # zlib's default: seconds
    plt.close(fig)


__all__ = ["boundary_grid"]
