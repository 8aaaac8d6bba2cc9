"""Per-browser training sessions: real PyTorch training in a thread, frames to the page.

A :class:`Session` owns one RunConfig, its prepared data (:func:`mlplab.api.prepare`) and one
MLP, and trains it with :func:`mlplab.training.loop.fit` in its own thread, off the event loop.
It applies the page's commands (pause, single step, learning rate, reset, ...; one table,
:data:`COMMANDS`) at fit's epoch seams through a :class:`mlplab.web.pacing.Stream` callback,
which also paces the frames and, on mini-batches, sends them between batches too (fit's batch
seam, ``Callback.on_batch_end``). What the page asked of the run (play, pause, a step) is one
typed :class:`Playback`.

Messages from the page are checked by :func:`mlplab.web.channels.parse_message` before they
reach a session; a bad one gets an ``error`` message back and never touches the thread or
another session.
"""

from __future__ import annotations

import contextlib
import queue
import random
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from mlplab.config import RunConfig
from mlplab.errors import ConfigError, MlplabError
from mlplab.web.channels import Turns
from mlplab.web.limits import LimitError, Limits, playground_config
from mlplab.web.pacing import Stream

Send = Callable[[dict[str, Any]], None]

SLICE_SECONDS = 0.004  # a session's turn at the CPU before the next waiting session's
MAX_QUEUED = 64  # commands waiting for one session
# catch_warnings swaps process-wide state: one session at a time records what its setup warns
WARNINGS_LOCK = threading.Lock()


@dataclass
class Playback:
    """What the page asked of the run: play, pause, one step at a time, start again."""

    playing: bool = False
    stepping: bool = False  # the segment being trained is one asked-for step
    step_wanted: int = 0  # epochs the page asked for one step at a time
    restart: bool = False  # rebuild at the next seam (a reset or a new setup mid-fit)


class Session:
    """One browser's playground: config, data, model and the thread that trains it."""

    def __init__(self, sid: str, limits: Limits, send: Send, uploads: Any = None,
                 ready: Callable[[], bool] | None = None, turns: Turns | None = None) -> None:
        self.sid, self.limits, self.send, self.uploads = sid, limits, send, uploads
        self.turns = turns or Turns(1)
        self.turn_start = 0.0
        self.ready = ready or (lambda: True)  # False while the last frame is still unsent
        self.cmds: queue.Queue[tuple[str, Any]] = queue.Queue(MAX_QUEUED)
        self.cfg: RunConfig | None = None
        self.upload: str | None = None
        self.draw: list[str] | None = None
        self.prepared: Any = None
        self.model: Any = None
        self.state: Any = None  # fit's TrainState while a run exists
        self.view: Any = None
        self.tensors: Any = None
        self.play = Playback()
        self.closed = False
        self.units = self.in_fit = False
        self.value_range = (0.0, 1.0)
        self.last_frame = 0.0
        self.lr_log: list[tuple[int, float]] = []  # (epoch, lr) from the start of the run
        self.warnings: list[str] = []  # what preparing this setup warned about (for the page)
        self.snapshot: dict[str, Any] = {}  # what exports need, readable from any thread
        self.frames = 0
        self.thread = threading.Thread(target=self._main, name=f"session-{sid[:6]}",
                                       daemon=True)

    # --- called from the event loop ------------------------------------------------------

    def start(self) -> None:
        self.thread.start()

    def submit(self, msg: dict[str, Any]) -> None:
        """Queue a checked message for the training thread (never blocks)."""
        try:
            self.cmds.put_nowait((msg["type"], msg))
        except queue.Full:
            raise LimitError("too many messages queued", hint="wait for the server") from None

    def call(self, fn: Callable[[Session], Any]) -> Future[Any]:
        """Run ``fn(session)`` on the training thread at its next seam (e.g. an export)."""
        fut: Future[Any] = Future()
        try:
            self.cmds.put_nowait(("call", (fn, fut)))
        except queue.Full:
            fut.set_exception(LimitError("too many messages queued"))
        return fut

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(queue.Full):  # if full, the thread sees `closed` anyway
            self.cmds.put_nowait(("close", None))

    # --- the training thread -------------------------------------------------------------

    def _main(self) -> None:
        while not self.closed:
            try:
                if self.model is not None and (self.play.playing or self.play.step_wanted) \
                        and not self.done:
                    self._train()
                else:
                    self.drain(block=True)
            except MlplabError as e:
                self.play.playing = False
                self.error(str(e))
            except Exception as e:  # a bug: report it, keep the server and the session up
                self.play.playing = False
                self.error(f"internal error: {type(e).__name__}: {e}")
        self.model = self.state = self.prepared = self.tensors = None

    @property
    def done(self) -> bool:
        return self.state is not None and self.state.epoch >= self.state.epochs

    def _train(self) -> None:
        from mlplab.errors import TrainingError
        from mlplab.training.loop import fit

        assert self.cfg is not None and self.prepared is not None
        cfg = self.resolved()
        cb = Stream(self, batches=cfg.train.batch_size is not None)  # resolved: None is full
        if self.play.step_wanted:
            self.play.step_wanted, self.play.stepping = self.play.step_wanted - 1, True
        self.play.restart, self.in_fit = False, True
        self.turns.acquire(self.busy)
        self.turn_start = time.perf_counter()
        try:
            fit(self.model, self.prepared.task, self.tensors, cfg, [cb])
        except TrainingError as e:  # diverged: say why, start again from fresh weights
            self.in_fit = self.play.playing = False
            self.error(str(e))
            self.rebuild()
            return
        finally:
            self.turns.release()
            self.in_fit = False
            self.last_frame = 0.0
        if self.play.restart:
            self.play.restart = False
            self.rebuild()
        elif not self.closed:
            self.play.playing = False
            self.send_frame()
            if self.done:
                self.send_end()

    def between_batches(self) -> None:
        """fit's batch seam (after an optimizer step): keep frames coming mid-epoch when
        epochs are slow. Pausing and commands still wait for the epoch's end."""
        self.maybe_pass_turn()
        if self.play.playing and \
                time.perf_counter() - self.last_frame >= 1.0 / self.limits.fps and self.ready():
            self.send_frame()

    def maybe_pass_turn(self) -> None:
        if time.perf_counter() - self.turn_start >= SLICE_SECONDS:
            self.turns.pass_turn(self.busy)
            self.turn_start = time.perf_counter()

    def busy(self, ahead: int) -> None:
        """Tell the page it waits for a compute slot (``ahead`` > 0) or computes again (0)."""
        self.send({"type": "busy", "ahead": ahead})

    def drain(self, block: bool) -> None:
        """Apply queued commands; with ``block`` wait for at least one."""
        try:
            kind, arg = self.cmds.get(timeout=1.0) if block else self.cmds.get_nowait()
        except queue.Empty:
            return
        while True:
            try:
                self.apply(kind, arg)
            except MlplabError as e:
                self.error(str(e))
            try:
                kind, arg = self.cmds.get_nowait()
            except queue.Empty:
                return

    def apply(self, kind: str, msg: Any) -> None:
        """One command, on the training thread: its method in :data:`COMMANDS`."""
        method, needs_setup = COMMANDS[kind]
        if needs_setup and (self.cfg is None or self.model is None):
            raise ConfigError(f"'{kind}' needs a valid setup first",
                              hint="fix the settings the last error named")
        method(self, msg)

    # --- the commands (COMMANDS) ---------------------------------------------------------

    def _close(self, msg: Any) -> None:
        self.closed = True

    def _call(self, msg: Any) -> None:
        fn, fut = msg
        try:
            fut.set_result(fn(self))
        except Exception as e:
            fut.set_exception(e)

    def _config(self, msg: Any) -> None:
        self.configure(msg["config"], msg.get("upload"), msg.get("draw"))

    def _units(self, msg: Any) -> None:  # a view setting: fine before any config
        self.units = bool(msg["on"])
        self.send_frame()

    def _ended(self) -> bool:
        """Whether the run is over; if so, play stops and the page is told so again."""
        if self.done:
            self.play.playing = False
            self.send_end()
        return self.done

    def _play(self, msg: Any) -> None:
        if not self._ended():
            self.play.playing = True

    def _pause(self, msg: Any) -> None:
        self.play.playing = False

    def _step(self, msg: Any) -> None:
        if not self._ended():
            self.play.playing = False
            self.play.step_wanted = min(self.play.step_wanted + 1, MAX_QUEUED)

    def _set_lr(self, msg: Any) -> None:
        self.set_lr(float(msg["lr"]))

    def _reset(self, msg: Any) -> None:
        self.request_rebuild()

    def _regenerate(self, msg: Any) -> None:
        assert self.cfg is not None
        self.cfg = self.cfg.model_copy(update={"seed": random.randrange(2**31)})
        self.request_rebuild()

    def resolved(self) -> RunConfig:
        """The config to train: what ``prepare`` resolved the defaults to for this data
        (stopping, default weight decay per step), with the page's current learning rate."""
        assert self.cfg is not None and self.prepared is not None
        cfg: RunConfig = self.prepared.cfg
        if cfg.optim.lr == self.cfg.optim.lr:
            return cfg
        return cfg.model_copy(update={"optim": cfg.optim.model_copy(
            update={"lr": self.cfg.optim.lr})})

    def send_end(self) -> None:
        """The run reached its epoch cap: say so (play and step do nothing until a reset)."""
        assert self.state is not None
        self.send({"type": "end", "epoch": self.state.epoch, "cap": self.state.epochs})
        self.send_frame()

    def set_lr(self, lr: float) -> None:
        assert self.cfg is not None
        self.cfg = RunConfig.from_dict({**self.cfg.to_dict(), "optim": {
            **self.cfg.optim.model_dump(mode="json"), "lr": lr}})
        if self.in_fit and not self.play.restart and self.state is not None:
            for g in self.state.optimizer.param_groups:  # on the fly, from the next epoch
                g["lr"] = lr
            self.lr_log.append((self.state.epoch, lr))
        elif self.state is None or self.state.epoch == 0:
            self.lr_log = [(0, lr)]  # not trained yet: the run simply starts with this lr
        self._snap()
        self.send_frame()

    def request_rebuild(self) -> None:
        if self.in_fit:
            self.play.restart = True  # fit stops at the seam; _train rebuilds
        else:
            self.rebuild()

    def configure(self, d: dict[str, Any], upload: str | None, draw: list[str] | None) -> None:
        """Validate a new config (same schema as the CLI, then the caps) and rebuild."""
        name = None
        if upload is not None:
            if self.uploads is None:
                raise ConfigError("uploads are not enabled on this server")
            name = self.uploads.get(upload).filename
        cfg = playground_config(d, self.limits, upload_name=name)
        old, old_upload = self.cfg, self.upload
        self.cfg, self.upload, self.draw = cfg, upload, draw
        same_data = old is not None and self.model is not None and upload == old_upload
        if same_data and old is not None and _only_lr_changed(old, cfg):
            self.cfg = old
            self.set_lr(cfg.optim.lr)
        elif same_data and old is not None and old.to_dict() == cfg.to_dict():
            self.cfg = old  # only the drawn features changed: a new view of the same model
            self._send_data(fresh=False)
        else:
            self.request_rebuild()

    def rebuild(self) -> None:
        """Fresh data, model and optimizer from the config; send the data message."""
        try:
            with WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                self.warnings = []
                self._rebuild()
            self.warnings = sorted({str(w.message) for w in caught})
            if self.warnings:
                self.send({"type": "warning", "messages": self.warnings})
        except BaseException:
            self.model = self.prepared = self.state = None  # nothing stale to train
            self.play.playing = False
            raise

    def _rebuild(self) -> None:
        from mlplab.api import model_spec, prepare
        from mlplab.models import build_seeded

        assert self.cfg is not None
        cfg = self.cfg
        self.state = None
        self.play.step_wanted = 0  # a step asked for the old run is not for this one
        data = self.uploads.get(self.upload).frame if self.upload is not None else None
        p = prepare(cfg, data, device="cpu")  # the playground trains on the CPU
        if p.n_features > self.limits.max_features:
            raise LimitError("too many input columns after encoding",
                             expected=f"at most {self.limits.max_features}",
                             found=str(p.n_features), hint="choose fewer feature columns")
        k = len(p.target_encoder.classes)
        if p.task.is_classification and k > self.limits.max_classes:
            raise LimitError("too many classes", expected=f"at most {self.limits.max_classes}",
                             found=str(k))
        self.model = build_seeded(model_spec(p.cfg, p.n_features, p.task), cfg.seed)
        self.prepared, self.tensors = p, p.tensors("cpu")
        self.lr_log = [(0, cfg.optim.lr)]
        self.play.restart = False
        self._snap()
        self._send_data()

    def _send_data(self, fresh: bool = True) -> None:
        """The view of the drawn features and the data message (the model is untouched)."""
        from mlplab.web.messages import data_message

        assert self.cfg is not None
        self.view, self.value_range, msg = data_message(self.cfg, self.prepared, self.upload,
                                                        self.draw, self.limits)
        msg["fresh"] = fresh  # False: the same model and run, seen through other features
        self.send(msg)
        self.send_frame()

    def _snap(self) -> None:
        epoch = self.state.epoch if self.state is not None else 0
        self.snapshot = {"config": self.cfg, "epoch": epoch, "lr_log": list(self.lr_log),
                         "upload": self.upload, "draw": self.draw}

    # --- frames --------------------------------------------------------------------------

    def send_frame(self) -> None:
        """Measure the model now and send one frame (epoch, losses, scores, grids, weights)."""
        if self.model is None or self.prepared is None:
            return
        from mlplab.web.messages import frame_message

        st = self.state
        epoch = st.epoch if st is not None else 0
        lr = st.lr if st is not None else self.cfg.optim.lr if self.cfg else 0.0
        frame = frame_message(self.model, self.prepared, self.tensors, self.view,
                              self.value_range, self.limits, self.units)
        frame.update({"epoch": epoch, "playing": self.play.playing, "done": self.done, "lr": lr})
        self.last_frame = time.perf_counter()
        self.frames += 1
        if st is not None:
            self.snapshot["epoch"] = epoch
        self.send(frame)

    def error(self, message: str) -> None:
        self.send({"type": "error", "message": message})


# command -> (the Session method that applies it, whether it needs a valid setup first)
COMMANDS: dict[str, tuple[Callable[[Session, Any], None], bool]] = {
    "close": (Session._close, False),
    "call": (Session._call, False),
    "config": (Session._config, False),
    "units": (Session._units, False),
    "play": (Session._play, True),
    "pause": (Session._pause, True),
    "step": (Session._step, True),
    "set_lr": (Session._set_lr, True),
    "reset": (Session._reset, True),
    "regenerate": (Session._regenerate, True),
}


def _only_lr_changed(a: RunConfig, b: RunConfig) -> bool:
    da, db = a.to_dict(), b.to_dict()
    da["optim"].pop("lr")
    db["optim"].pop("lr")
    return da == db and a.optim.lr != b.optim.lr
