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


def boundary_grid(res: SweepResult, members: Mapping[str, tuple[Run, Prepared]], path: Path,
                  limit: int = 64) -> None:
    """Panels for the best-ranked complete members found in ``members`` (up to ``limit``):
    P(class 1), the predicted class or the value over the preprocessed input plane, with the
    member's validation points (the split it was ranked on; train points if it has none)."""
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
    fig, axes = plt.subplots(rows, cols, figsize=(1.8 * cols, 1.9 * rows), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, (_, row) in zip(axes.flat, ranked.iterrows(), strict=False):
        run, p = members[row["member"]]
        X = np.concatenate([p.X[s] for s in ("train", "val") if len(p.X[s])])
        lo, hi = X.min(0) - 0.3, X.max(0) + 0.3
        gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], GRID), np.linspace(lo[1], hi[1], GRID))
        grid = torch.as_tensor(np.c_[gx.ravel(), gy.ravel()], dtype=torch.float32)
        with torch.inference_mode():
            out = run.task.proba(run.model.eval()(grid)).numpy()
        z = out[:, 1] if out.shape[1] == 2 else out.argmax(1) if run.task.is_classification \
            else out[:, 0]
        ax.imshow(z.reshape(GRID, GRID), origin="lower", extent=(lo[0], hi[0], lo[1], hi[1]),
                  aspect="auto", cmap="RdBu_r", alpha=0.8)
        split = "val" if len(p.X["val"]) else "train"
        Xs, ys = p.X[split], p.y[split]
        ax.scatter(Xs[:, 0], Xs[:, 1], c=np.asarray(ys).reshape(len(Xs), -1)[:, 0], s=3,
                   cmap="RdBu_r", edgecolors="none")
        label = ", ".join(f"{k.split('.')[-1]}={short(row[k])}" for k in res.keys)
        ax.set_title(f"{label}\n{res.metric} {row[res.metric]:.3f}", fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


__all__ = ["boundary_grid"]
