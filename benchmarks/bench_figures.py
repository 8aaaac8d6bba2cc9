"""Figures at any data size: the report's figures for 20k vs 2M rows (issue 19 item 8).

One model (16 inputs, 32-32 MLP, trained on 20k rows) draws every figure of the report
(:func:`mlplab.inspect.plots.figures.draw_figures`) over its data at two sizes. Figures draw
a stratified sample of at most ``MAX_PLOT_ROWS`` rows per split (the report says so) and
evaluate boundaries on a grid, so their cost should not grow with the rows: the target is the
2M-row figures within 2x of the 20k-row ones. Data preparation is excluded; sampling is
included (it is part of ``PlotData.from_prepared``).
"""

from __future__ import annotations

import time

from benchmarks._timing import md_table


def _cfg(n: int) -> dict[str, object]:
    return {"name": "bench-figures", "seed": 0,
            "data": {"source": "blobs", "n_samples": n, "n_features": 16, "n_classes": 2,
                     "noise": 3.0},
            "model": {"hidden": [32, 32]}, "train": {"epochs": 3, "batch_size": 1024},
            "log": {"quiet": True, "plots": False}}


def _figures_seconds(run: object, p: object) -> tuple[float, int]:
    from mlplab.inspect.plots.figures import draw_figures
    from mlplab.inspect.plots.view import PlotData

    t = time.perf_counter()
    figs = draw_figures(run, PlotData.from_prepared(p))
    return time.perf_counter() - t, len(figs)


def run(quick: bool) -> str:
    import mlplab
    from mlplab.inspect.plots.view import MAX_PLOT_ROWS

    small, big = 20_000, 400_000 if quick else 2_000_000
    run_ = mlplab.train(_cfg(small), save=False, progress=False)
    rows, times = [], {}
    for n in (small, big):
        p = mlplab.prepare(mlplab.RunConfig.from_dict(_cfg(n)))
        _figures_seconds(run_, p) if n == small else None  # warm-up: matplotlib, fonts
        seconds, count = _figures_seconds(run_, p)
        times[n] = seconds
        rows.append([f"{n:,}", count, f"{seconds:.2f}", f"{seconds / times[small]:.2f}x"])
    verdict = "within" if times[big] <= 2 * times[small] else "NOT within"
    return ("## Figures at any data size\n\n"
            f"Every report figure of one 16-input model; at most {MAX_PLOT_ROWS:,} rows per "
            "split are drawn (stratified sample).\n\n"
            + md_table(["rows", "figures", "seconds", "vs 20k"], rows)
            + f"\n\n{big:,} rows: {verdict} 2x of {small:,} rows.\n")


if __name__ == "__main__":
    import sys

    print(run("--quick" in sys.argv))
