"""Watching training: boundary snapshots (for the GIF, the report's slider and the diagnosis)
and TensorBoard logs.

- :class:`SnapshotCallback` every ``log.snapshots_every`` epochs (and at epoch 0 and the end):
  the model over a grid of the input plane, plus loss, gradient norms and dead / saturated unit
  fractions (:func:`mlplab.inspect.diagnosis.model_stats`). Saved as ``snapshots.safetensors``.
- :class:`TensorBoardCallback` (``log.tensorboard``): scalars named as the tutorials name them
  (``Loss/train``, ``Accuracy/test``, lr) and the gradient norm beside the clipping threshold,
  weight and gradient histograms and boundary images every k epochs, the model graph. It writes
  straight into ``RUN/tensorboard`` (the run directory exists from the start) and flushes at
  every evaluation, so ``tensorboard --logdir RUN/tensorboard`` follows the run live. A resumed
  run appends to the same directory with TensorBoard's ``purge_step`` just after the resumed
  epoch, so the events a killed run wrote after its checkpoint are dropped and every epoch
  appears once.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mlplab.inspect.evidence import model_stats
from mlplab.inspect.plots.view import Plane, PlotData, grid_values, plane_for
from mlplab.tasks import TaskSpec
from mlplab.training.callbacks import Callback

if TYPE_CHECKING:
    from mlplab.training.loop import TrainState

SNAPSHOT_FRAMES = 30  # default number of snapshots over a run
SNAPSHOT_GRID = 64  # grid points per side in a snapshot (upsampled smoothly when drawn)
SNAPSHOT_FILE = "snapshots.safetensors"
GRAD_NORM_TAG = "GradNorm/train"  # total gradient norm of the train loss, every evaluation
CLIP_TAG = "GradNorm/clip"  # train.clip_grad_norm, drawn beside it when clipping


@dataclass
class Snapshots:
    """The model over the plane at several epochs, with training statistics."""

    task: TaskSpec
    plane: Plane
    epochs: list[int] = field(default_factory=list)
    grids: list[np.ndarray] = field(default_factory=list)  # (n, n) or (n, n, k) each
    stats: list[dict[str, Any]] = field(default_factory=list)  # model_stats per snapshot

    @property
    def train_loss(self) -> list[float]:
        return [float(s.get("loss", float("nan"))) for s in self.stats]

    def save(self, path: str | Path) -> Path:
        """Write as safetensors (arrays) with the task, plane and stats as JSON metadata."""
        from safetensors.numpy import save

        from mlplab.runs.store import atomic_write_bytes

        arrays: dict[str, np.ndarray] = {"epochs": np.asarray(self.epochs, dtype=np.int64),
                  "grids": np.stack(self.grids).astype(np.float16)}  # plenty for colours
        meta = {"task": json.dumps(self.task.to_dict()), "plane": json.dumps(self.plane.to_dict()),
                "stats": json.dumps(self.stats)}
        path = Path(path)
        atomic_write_bytes(path, save(arrays, metadata=meta))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Snapshots:
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata()
            epochs = f.get_tensor("epochs").tolist()
            grids = list(f.get_tensor("grids").astype(np.float32))
        return cls(TaskSpec.from_dict(json.loads(meta["task"])),
                   Plane.from_dict(json.loads(meta["plane"])), epochs, grids,
                   json.loads(meta["stats"]))


def default_snapshot_every(epochs: int, frames: int = SNAPSHOT_FRAMES) -> int:
    """Epochs between snapshots for about ``frames`` frames, rounded to a 1-2-2.5-5 step so
    the frames fall on round epochs.

    >>> default_snapshot_every(1000), default_snapshot_every(300), default_snapshot_every(20)
    (25, 10, 1)
    """
    raw = max(epochs / frames, 1.0)
    scale = 10 ** np.floor(np.log10(raw))
    steps = [s * scale for s in (1, 2, 2.5, 5, 10)]
    return max(1, int(min(steps, key=lambda s: abs(np.log(s / raw)))))


class SnapshotCallback(Callback):
    """Take a snapshot every ``every`` epochs, at the start and at the end.

    The plane is chosen from the training split when training begins (or given).
    """

    def __init__(self, every: int, plane: Plane | None = None, resolution: int = SNAPSHOT_GRID,
                 feature_names: list[str] | None = None) -> None:
        self.every = every
        self.plane = plane
        self.resolution = resolution
        self.feature_names = feature_names
        self.snapshots: Snapshots | None = None

    def on_train_begin(self, state: TrainState) -> None:
        if self.plane is None:
            X = {s: state.data.X[s].detach().cpu().numpy() for s in ("train", "val", "test")
                 if state.data.has(s)}
            d = X["train"].shape[1]
            names = self.feature_names or [f"x{i + 1}" for i in range(d)]
            self.plane = plane_for(PlotData(X, {}, names, [], state.task)) if d >= 2 else None
        if self.plane is not None:
            self.snapshots = Snapshots(state.task, self.plane)
            self._take(state)

    def on_epoch(self, state: TrainState) -> None:
        self._take(state)

    def on_train_end(self, state: TrainState) -> None:
        if self.snapshots is not None and self.snapshots.epochs[-1] != state.epoch:
            self._take(state)

    def retake_last(self, model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor) -> None:
        """The last frame again, of ``model``: an ensemble's snapshots follow member 0 while
        it trains, and end on the merged model the run keeps (:mod:`mlplab.ensemble`)."""
        s = self.snapshots
        if s is None or self.plane is None or not s.grids:
            return
        s.grids[-1] = grid_values(model, s.task, self.plane, self.resolution)
        s.stats[-1] = model_stats(model, s.task, X, y)

    def _take(self, state: TrainState) -> None:
        if self.snapshots is None or self.plane is None or \
                (self.snapshots.epochs and self.snapshots.epochs[-1] == state.epoch):
            return
        s = self.snapshots
        s.epochs.append(state.epoch)
        s.grids.append(grid_values(state.model, state.task, self.plane, self.resolution))
        s.stats.append(model_stats(state.model, state.task, state.data.X["train"],
                                   state.data.y["train"]))


class TensorBoardCallback(Callback):
    """Scalars at every evaluation; histograms and a boundary image every ``every`` epochs.

    ``log_dir`` is where the event files go (see :func:`tensorboard_dir`).
    """

    def __init__(self, log_dir: str | Path, every: int = 50, plane: Plane | None = None,
                 data: PlotData | None = None) -> None:
        self.log_dir = Path(log_dir)
        self.every = every
        self.plane = plane
        self.data = data
        self.writer: Any = None

    def on_train_begin(self, state: TrainState) -> None:
        from torch.utils.tensorboard import SummaryWriter

        if state.epoch > 0:  # resumed: the events after the checkpoint's epoch are dropped
            self.writer = SummaryWriter(log_dir=str(self.log_dir), purge_step=state.epoch + 1)
            self.writer.add_text("config", "```\n" + state.cfg.to_yaml() + "\n```",
                                 state.epoch + 1)  # the config the rest of the run uses
            return
        self.writer = SummaryWriter(log_dir=str(self.log_dir))
        self.writer.add_text("config", "```\n" + state.cfg.to_yaml() + "\n```", 0)
        was_training = state.model.training
        try:
            state.model.eval()
            with warnings.catch_warnings():  # add_graph traces with the deprecated jit.trace
                warnings.simplefilter("ignore", DeprecationWarning)
                self.writer.add_graph(state.model, state.data.X["train"][:2])
        except Exception:  # a module that cannot be traced just has no graph
            pass
        finally:
            state.model.train(was_training)
        self.on_epoch(state)

    def on_eval(self, state: TrainState, row: dict[str, Any]) -> None:
        for key, value in row.items():
            if key in ("epoch", "seconds") or not isinstance(value, int | float):
                continue
            self.writer.add_scalar(scalar_tag(key), value, row["epoch"])
        # the norm clip_grad_norm_ compares with its max_norm (all parameters, train rows)
        grads = _weight_grads(state)
        norm = float(torch.linalg.vector_norm(torch.stack(
            [torch.linalg.vector_norm(g) for g in grads.values()]))) if grads else 0.0
        self.writer.add_scalar(GRAD_NORM_TAG, norm, row["epoch"])
        if state.cfg.train.clip_grad_norm is not None:
            self.writer.add_scalar(CLIP_TAG, state.cfg.train.clip_grad_norm, row["epoch"])
        self.writer.flush()  # readable by TensorBoard while the run goes on

    def on_epoch(self, state: TrainState) -> None:
        model, step = state.model, state.epoch
        grads = _weight_grads(state)
        for name, p in model.named_parameters():
            self.writer.add_histogram(f"weights/{name}", p.detach().float().cpu(), step)
            if name in grads:
                self.writer.add_histogram(f"gradients/{name}", grads[name], step)
        if self.plane is not None:
            from mlplab.inspect.plots.animate import point_layers, render_frame

            values = grid_values(model, state.task, self.plane, SNAPSHOT_GRID)
            pts = point_layers(self.data, self.plane, ("train",)) if self.data else []
            img = render_frame(values, self.plane, state.task, points=pts,
                               caption=f"epoch {step}", px=240)
            self.writer.add_image("boundary", np.asarray(img), step, dataformats="HWC")

    def on_train_end(self, state: TrainState) -> None:
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()


def scalar_tag(key: str) -> str:
    """TensorBoard tag of a history column, named as the tutorials name them: ``train_loss``
    -> ``Loss/train``, ``test_accuracy`` -> ``Accuracy/test``; other columns keep their name.

    >>> scalar_tag("train_loss"), scalar_tag("val_roc_auc"), scalar_tag("lr")
    ('Loss/train', 'Roc_auc/val', 'lr')
    """
    split, _, metric = key.partition("_")
    if split not in ("train", "val", "test") or not metric:
        return key
    return f"{metric[:1].upper()}{metric[1:]}/{split}"


def _weight_grads(state: TrainState, rows: int = 4096) -> dict[str, torch.Tensor]:
    """Gradients of the train loss w.r.t. every parameter, without touching ``.grad``."""
    from mlplab.training.loop import make_loss

    model = state.model
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            loss = make_loss(state.task, weighted=False)(model(state.data.X["train"][:rows]),
                                                         state.data.y["train"][:rows])
            gs = torch.autograd.grad(loss, [p for _, p in named], allow_unused=True)
    finally:
        model.train(was_training)
    return {n: g.detach().float().cpu() for (n, _), g in zip(named, gs, strict=True)
            if g is not None}


def tensorboard_dir(out: Path | None, name: str) -> Path:
    """Where TensorBoard writes: ``RUN/tensorboard`` for a saved run, or
    ``runs/tensorboard/<name>-<time>`` for runs that are not saved.

    >>> tensorboard_dir(Path("runs/a"), "a").as_posix()
    'runs/a/tensorboard'
    """
    if out is None:
        path = Path("runs") / "tensorboard" / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
        path.mkdir(parents=True, exist_ok=True)
        return path
    return out / "tensorboard"


def tracking_callbacks(cfg: Any, p: Any, out: Path | None) -> list[Callback]:
    """The snapshot / TensorBoard callbacks a config asks for.

    Snapshots: every ``log.snapshots_every`` epochs when set; by default, for saved runs with
    plots and two input features, about :data:`SNAPSHOT_FRAMES` over the run.
    """
    cbs: list[Callback] = []
    if p is None:
        return cbs
    every = cfg.log.snapshots_every
    if every is None and out is not None and cfg.log.plots and p.n_features == 2:
        every = default_snapshot_every(cfg.train.epochs)
    data = PlotData.from_prepared(p)
    plane = plane_for(data) if p.n_features >= 2 else None
    if every is not None and plane is not None:
        cbs.append(SnapshotCallback(every, plane))
    if cfg.log.tensorboard:
        k = every or max(1, cfg.train.epochs // 20)
        cbs.append(TensorBoardCallback(tensorboard_dir(out, cfg.name), k, plane, data))
    return cbs


def finish_logging(run: Any, p: Any, callbacks: list[Callback]) -> None:
    """After ``run.save``: save the snapshots and (with ``log.plots``) write the figures, the
    diagnosis and ``report.html``."""
    if run.path is None:
        return
    snaps = None
    for cb in callbacks:
        if isinstance(cb, SnapshotCallback) and cb.snapshots is not None:
            snaps = cb.snapshots
            snaps.save(run.path / SNAPSHOT_FILE)
    if run.config.log.plots:
        from mlplab.inspect.report import write_report

        write_report(run, p, snaps)


__all__ = ["CLIP_TAG", "GRAD_NORM_TAG", "SNAPSHOT_FILE", "SnapshotCallback", "Snapshots",
           "TensorBoardCallback", "default_snapshot_every", "finish_logging", "scalar_tag",
           "tracking_callbacks"]
