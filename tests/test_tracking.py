"""Snapshots and TensorBoard logs land in the run directory with what they promise."""

from __future__ import annotations

import numpy as np
import pytest

import mlplab
from mlplab.inspect.plots.view import grid_values
from mlplab.inspect.tracking import SNAPSHOT_FILE, Snapshots, default_snapshot_every
from mlplab.training.callbacks import Callback


def _cfg(**log):
    return {"data": {"source": "moons", "n_samples": 200}, "model": {"hidden": [6]},
            "train": {"epochs": 40, "eval_every": 10},
            "log": {"quiet": True, "plots": False, **log}}


def test_snapshots_are_saved_and_reload_identically(tmp_path):
    run = mlplab.train(_cfg(snapshots_every=10), out=tmp_path / "r")
    snaps = Snapshots.load(tmp_path / "r" / SNAPSHOT_FILE)
    assert snaps.epochs == [0, 10, 20, 30, 40]
    assert len(snaps.stats) == 5 and len(snaps.stats[0]["grad_norms"]) == 2
    final = grid_values(run.model, run.task, snaps.plane, snaps.grids[-1].shape[0])
    np.testing.assert_allclose(snaps.grids[-1], final, atol=1e-3)  # stored as float16
    assert snaps.train_loss[-1] < snaps.train_loss[0]
    assert not (tmp_path / "r" / "report.html").exists()  # log.plots is off


def test_default_snapshots_give_about_thirty_frames_on_round_epochs():
    assert default_snapshot_every(1000) == 25
    assert default_snapshot_every(5000) == 200
    assert default_snapshot_every(7) == 1


def test_tensorboard_writes_scalars_histograms_images_and_graph_into_the_run(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "tb-run"
    mlplab.train(_cfg(tensorboard=True, snapshots_every=20), out=out)
    tb = out / "tensorboard"
    assert tb.is_dir() and list(tb.glob("events.out.tfevents.*"))
    assert [p.name for p in tmp_path.iterdir()] == ["tb-run"]  # nothing hidden beside it
    acc = EventAccumulator(str(tb), size_guidance={"histograms": 0, "images": 0}).Reload()
    tags = acc.Tags()
    assert {"Loss/train", "Loss/test", "Accuracy/test", "lr"} <= set(tags["scalars"])
    assert [e.step for e in acc.Scalars("Loss/train")] == [10, 20, 30, 40]
    assert any(t.startswith("weights/") for t in tags["histograms"])
    assert any(t.startswith("gradients/") for t in tags["histograms"])
    assert [e.step for e in acc.Images("boundary")] == [0, 20, 40]
    assert tags["graph"]


def test_training_results_do_not_depend_on_snapshots():
    """Regression: snapshot statistics must not move the optimizer or the weights."""
    a = mlplab.train(_cfg(), save=False)
    b = mlplab.train(_cfg(snapshots_every=5, tensorboard=False), save=False)
    for pa, pb in zip(a.model.parameters(), b.model.parameters(), strict=True):
        np.testing.assert_allclose(pa.detach().numpy(), pb.detach().numpy(), atol=1e-6)


def test_tensorboard_logs_the_gradient_norm_beside_the_clipping_threshold(tmp_path):
    """The logged norm is the norm clip_grad_norm_ sees: checked against plain autograd."""
    import torch
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from mlplab.inspect.tracking import CLIP_TAG, GRAD_NORM_TAG

    cfg = _cfg(tensorboard=True)
    cfg["train"] = {**cfg["train"], "clip_grad_norm": 0.5}
    run = mlplab.train(cfg, out=tmp_path / "clip")
    acc = EventAccumulator(str(tmp_path / "clip" / "tensorboard")).Reload()
    norms = acc.Scalars(GRAD_NORM_TAG)
    assert [e.step for e in norms] == [10, 20, 30, 40]
    assert {e.value for e in acc.Scalars(CLIP_TAG)} == {0.5}
    p = mlplab.prepare(run.config)
    x = torch.as_tensor(p.X["train"])
    y = torch.as_tensor(p.y["train"]).float().reshape(-1, 1)
    run.model.zero_grad()
    torch.nn.functional.binary_cross_entropy_with_logits(run.model.eval()(x), y).backward()
    expected = torch.nn.utils.get_total_norm([q.grad for q in run.model.parameters()])
    assert norms[-1].value == pytest.approx(float(expected), rel=1e-4)


def test_planes_are_drawn_in_the_original_units_of_scaled_inputs(tmp_path):
    """Regression: circles' axes ran to +-1.6 (standardised units) instead of about +-1."""
    cfg = _cfg(snapshots_every=20)
    cfg["data"] = {"source": "circles", "n_samples": 300, "scale": "standard"}
    run = mlplab.train(cfg, out=tmp_path / "r")
    plane = Snapshots.load(tmp_path / "r" / SNAPSHOT_FILE).plane
    assert -1.45 < plane.xlim[0] < -1.0 and 1.0 < plane.xlim[1] < 1.45
    xs, ys, _ = plane.grid(7)
    raw = np.array([[x, y] for y in ys for x in xs], dtype=np.float32)  # x runs fastest
    np.testing.assert_allclose(grid_values(run.model, run.task, plane, 7).ravel(),
                               run.predict_proba(raw)[:, 1], atol=1e-5)


TB_CFG = {"name": "tbk", "data": {"source": "moons", "n_samples": 200},
          "model": {"hidden": [8]}, "train": {"epochs": 24, "batch_size": 32, "eval_every": 4},
          "log": {"quiet": True, "plots": False, "tensorboard": True, "checkpoint_every": 4}}


def _scalars(tb, tag="Loss/train"):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tb), size_guidance={"scalars": 0}).Reload()
    return [(e.step, e.value) for e in acc.Scalars(tag)] if tag in acc.Tags()["scalars"] \
        else []


class _ReadTensorBoard(Callback):
    """What `tensorboard --logdir RUN/tensorboard` sees while the run trains."""

    every = 1

    def __init__(self, tb, at):
        self.tb, self.at, self.seen = tb, at, None

    def on_epoch(self, state):
        if state.epoch == self.at:
            self.seen = _scalars(self.tb)


class _Kill(Callback):
    every = 1

    def on_epoch(self, state):
        if state.epoch == 14:  # after the checkpoint of epoch 12, before the next one
            raise RuntimeError("killed")


def test_tensorboard_is_readable_mid_run_and_complete_after_a_resume(tmp_path):
    """Issue 19 item 6: events go straight into RUN/tensorboard (readable while training),
    and a run killed after epoch 14 and resumed from its epoch-12 checkpoint has each
    evaluated epoch exactly once, with the uninterrupted run's values."""
    ref = mlplab.train({**TB_CFG, "log": {**TB_CFG["log"], "tensorboard": False}}, save=False)
    run_dir = tmp_path / "run"
    reader = _ReadTensorBoard(run_dir / "tensorboard", at=10)
    with pytest.raises(RuntimeError, match="killed"):
        mlplab.train(TB_CFG, out=run_dir, callbacks=[reader, _Kill()])
    assert [s for s, _ in reader.seen] == [4, 8]  # during training, up to the last evaluation
    assert [s for s, _ in _scalars(run_dir / "tensorboard")] == [4, 8, 12]  # 14: no eval
    mlplab.train(resume=run_dir)
    got = _scalars(run_dir / "tensorboard")
    want = [(r["epoch"], r["train_loss"]) for r in ref.history]
    assert [s for s, _ in got] == [s for s, _ in want] == [4, 8, 12, 16, 20, 24]
    np.testing.assert_allclose([v for _, v in got], [v for _, v in want], rtol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # nothing hidden beside the run
