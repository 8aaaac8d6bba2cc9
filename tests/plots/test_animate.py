"""The boundary GIF: one frame per snapshot, and each frame shows that snapshot's model."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

import mlplab
from mlplab.inspect.plots import PlotData, gif_bytes, snapshot_frames
from mlplab.inspect.plots.animate import render_frame
from mlplab.inspect.plots.style import binary_rgb
from mlplab.inspect.plots.view import grid_values
from mlplab.inspect.tracking import SnapshotCallback


def test_gif_has_one_frame_per_snapshot_and_the_last_shows_the_final_model():
    cfg = {"data": {"source": "moons", "n_samples": 200}, "model": {"hidden": [8]},
           "train": {"epochs": 60}, "log": {"quiet": True, "plots": False}}
    cb = SnapshotCallback(every=15)
    run = mlplab.train(cfg, save=False, callbacks=[cb])
    snaps = cb.snapshots
    assert snaps.epochs == [0, 15, 30, 45, 60]
    data = PlotData.from_prepared(mlplab.prepare(run.config))
    frames = snapshot_frames(snaps, None, px=64)
    gif = Image.open(io.BytesIO(gif_bytes(frames)))
    assert gif.n_frames == len(snaps.epochs)
    final = grid_values(run.model, run.task, snaps.plane, snaps.grids[-1].shape[0])
    np.testing.assert_allclose(snaps.grids[-1], final, atol=1e-5)
    # frame pixels carry the snapshot's colours (the grid upsampled; compare the centre)
    frame = np.asarray(render_frame(final, snaps.plane, run.task, px=final.shape[0]))
    n = final.shape[0]
    expected = (binary_rgb(final) * 255)[::-1]  # image row 0 is the top of the plane
    centre = (slice(n // 4, 3 * n // 4), slice(n // 4, 3 * n // 4))
    diff = np.abs(frame[:n][centre].astype(float) - expected[centre])
    assert np.median(diff) < 3 and (diff.max(axis=-1) < 40).mean() > 0.95
    assert data.n_features == 2


def test_frames_differ_as_the_model_learns():
    cfg = {"data": {"source": "circles", "n_samples": 200}, "model": {"hidden": [8]},
           "train": {"epochs": 40}, "log": {"quiet": True, "plots": False}}
    cb = SnapshotCallback(every=20)
    mlplab.train(cfg, save=False, callbacks=[cb])
    first, last = cb.snapshots.grids[0], cb.snapshots.grids[-1]
    assert np.abs(first - last).max() > 0.05
