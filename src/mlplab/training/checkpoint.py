"""Resumable runs: checkpoints written atomically, and resuming that ends where an
uninterrupted run would have ended.

A checkpoint is a directory ``<run>/checkpoints/epoch-00000040/`` holding

- ``state.safetensors``: every tensor (model weights, optimizer state such as Adam's moments,
  early stopping's best weights, the torch / batch-generator / numpy RNG states);
- ``state.json``: everything else (epoch, history, the resolved config, the optimizer's and
  scheduler's structure with placeholders pointing at the tensors, early stopping's best loss,
  best epoch and patience counter, Python's RNG state, the config changes accepted on earlier
  resumes) and one SHA-256 over the tensor file *and* this JSON (:func:`_digest`), so an edited
  ``state.json`` is refused like a damaged tensor file.

Nothing is pickled. ``checkpoints/latest.json`` names the newest complete checkpoint; it is
replaced atomically only after the new directory is complete and renamed into place, and older
checkpoints are deleted only after that. A process killed at any moment, also in the middle of
a write, leaves ``latest.json`` pointing at a valid checkpoint.

Example
-------
>>> tensors = {}
>>> enc = _encode({"state": {0: {"step": torch.tensor(3.0)}}, "betas": (0.9, 0.99)}, "o", tensors)
>>> back = _decode(json.loads(json.dumps(enc)), tensors)
>>> list(tensors), back["betas"], int(back["state"][0]["step"])
(['o/state/0/step'], (0.9, 0.99), 3)
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mlplab.config import RunConfig
from mlplab.errors import RunError
from mlplab.runs import store as runs
from mlplab.training.callbacks import Callback
from mlplab.training.state import BestState, TrainState
from mlplab.training.step import (
    build_optimizer,
    build_scheduler,
    resolve_batch_size,
    steps_per_epoch,
)

CKPT_DIR = "checkpoints"
LATEST = "latest.json"
TENSORS = "state.safetensors"
META = "state.json"
CKPT_FORMAT = "mlplab-checkpoint"
CKPT_VERSION = 2  # 2: the digest covers state.json too (1 covered the tensors only)


@dataclass
class Checkpoint:
    """A loaded checkpoint: the tensors and the JSON side."""

    path: Path
    epoch: int
    config: RunConfig
    history: list[dict[str, Any]]
    tensors: dict[str, torch.Tensor]
    meta: dict[str, Any]

    def model_state(self) -> dict[str, torch.Tensor]:
        return self._prefixed("model/")

    def best(self) -> BestState | None:
        """Early stopping's state when the checkpoint was written (None if it was off)."""
        b = self.meta.get("best")
        if b is None:
            return None
        return BestState(monitor=str(b["monitor"]), best_loss=float(b["best_loss"]),
                         best_epoch=b["best_epoch"], bad=int(b["bad"]),
                         weights=self._prefixed("best/"))

    def _prefixed(self, prefix: str) -> dict[str, torch.Tensor]:
        return {k[len(prefix):]: v for k, v in self.tensors.items() if k.startswith(prefix)}


# --- nested state <-> (JSON, tensors) ----------------------------------------------------


def _encode(obj: Any, key: str, tensors: dict[str, torch.Tensor]) -> Any:
    """JSON-safe form of ``obj``; tensors go into ``tensors`` under a path-like key."""
    if isinstance(obj, torch.Tensor):
        tensors[key] = obj.detach().cpu().contiguous().clone()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        if not all(isinstance(k, int | str) for k in obj):  # optimizer state: int keys
            raise TypeError(f"cannot checkpoint the dict keys at '{key}'")
        return {"__dict__": [[k, _encode(v, f"{key}/{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, f"{key}/{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, f"{key}/{i}", tensors) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    raise TypeError(f"cannot checkpoint a {type(obj).__name__} at '{key}'")


def _decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__tuple__" in obj:
            return tuple(_decode(v, tensors) for v in obj["__tuple__"])
        return {k: _decode(v, tensors) for k, v in obj["__dict__"]}
    return obj


# --- RNG states --------------------------------------------------------------------------


def _rng_state(generator: torch.Generator, tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    tensors["rng/torch"] = torch.get_rng_state()
    tensors["rng/generator"] = generator.get_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{i}"] = s
    kind, keys, pos, has_gauss, gauss = np.random.get_state(legacy=True)  # type: ignore[misc]
    tensors["rng/numpy"] = torch.from_numpy(np.asarray(keys, dtype=np.int64))
    version, py_state, py_gauss = random.getstate()
    return {"numpy": [kind, int(pos), int(has_gauss), float(gauss)],
            "python": [version, list(py_state), py_gauss]}


def _restore_rng(ck: Checkpoint, generator: torch.Generator) -> None:
    t, rng = ck.tensors, ck.meta["rng"]
    torch.set_rng_state(t["rng/torch"])
    generator.set_state(t["rng/generator"])
    cuda = [t[k] for k in sorted(k for k in t if k.startswith("rng/cuda/"))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    kind, pos, has_gauss, gauss = rng["numpy"]
    np.random.set_state((kind, t["rng/numpy"].numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, py_state, py_gauss = rng["python"]
    random.setstate((version, tuple(py_state), py_gauss))


# --- writing and reading -----------------------------------------------------------------


def _digest(blob: bytes, meta: dict[str, Any]) -> str:
    """SHA-256 of the tensor file and of ``meta`` (without its ``sha256``) as canonical JSON.

    >>> m = {"epoch": 3, "config": {"optim": {"lr": 0.1}}}
    >>> _digest(b"t", m) == _digest(b"t", {**m, "sha256": "x"}) != _digest(b"t", {**m, "epoch": 4})
    True
    """
    body = {k: v for k, v in meta.items() if k != "sha256"}
    h = hashlib.sha256(blob)
    h.update(json.dumps(body, sort_keys=True, allow_nan=True).encode())
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def save_checkpoint(run_dir: str | Path, state: TrainState,
                    resumes: list[dict[str, Any]] | None = None) -> Path:
    """Write a checkpoint of ``state`` under ``run_dir/checkpoints`` atomically; its path.

    ``resumes`` records the earlier resumes of the run (epoch and accepted config changes)."""
    from safetensors.torch import save

    root = Path(run_dir) / CKPT_DIR
    root.mkdir(parents=True, exist_ok=True)
    name = f"epoch-{state.epoch:08d}"
    tensors: dict[str, torch.Tensor] = {}
    for k, v in state.model.state_dict().items():
        tensors[f"model/{k}"] = v.detach().cpu().contiguous().clone()
    meta: dict[str, Any] = {
        "format": CKPT_FORMAT, "format_version": CKPT_VERSION, "epoch": state.epoch,
        "config": state.cfg.to_dict(), "history": state.history,
        "optimizer": _encode(state.optimizer.state_dict(), "optim", tensors),
        "scheduler": None if state.scheduler is None else
        _encode(state.scheduler.state_dict(), "sched", tensors),
        "rng": _rng_state(state.generator, tensors),
        "best": None, "resumes": list(resumes or []),
    }
    if state.best is not None:
        b = state.best
        for k, v in b.weights.items():
            tensors[f"best/{k}"] = v.detach().cpu().contiguous().clone()
        meta["best"] = {"monitor": b.monitor, "best_loss": b.best_loss,
                        "best_epoch": b.best_epoch, "bad": b.bad}
    blob = save(tensors, metadata={"format": "pt"})
    meta = json.loads(json.dumps(meta, default=runs._json_default))  # exactly what is read back
    meta["sha256"] = _digest(blob, meta)
    tmp = root / f".tmp-{name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    _write_synced(tmp / TENSORS, blob)
    _write_synced(tmp / META, json.dumps(meta).encode())
    _fsync_dir(tmp)
    final = root / name
    if final.exists():  # left by an attempt killed before latest.json moved; not referenced
        shutil.rmtree(final)
    os.replace(tmp, final)
    _fsync_dir(root)
    runs.write_json(root / LATEST, {"checkpoint": name, "epoch": state.epoch})  # commit point
    for old in root.iterdir():  # only now may the previous checkpoint go
        if old.name not in (name, LATEST):
            shutil.rmtree(old) if old.is_dir() else old.unlink(missing_ok=True)
    return final


def load_latest(run_dir: str | Path) -> Checkpoint:
    """The newest complete checkpoint of ``run_dir`` (validated; never unpickled)."""
    from safetensors.torch import load

    run_dir = Path(run_dir)
    root = run_dir / CKPT_DIR
    if not run_dir.is_dir():
        raise RunError(f"run directory '{run_dir}' not found", hint="check the path")
    if not (root / LATEST).is_file():
        raise RunError(f"'{run_dir}' has no checkpoint to resume from",
                       hint="train with --checkpoint-every K (log.checkpoint_every) to make "
                            "runs resumable")
    try:
        name = json.loads((root / LATEST).read_text(encoding="utf-8"))["checkpoint"]
        path = root / str(name)
        meta = json.loads((path / META).read_text(encoding="utf-8"))
        blob = (path / TENSORS).read_bytes()
    except (OSError, KeyError, TypeError, json.JSONDecodeError) as e:
        raise RunError(f"the checkpoint of '{run_dir}' is unreadable ({type(e).__name__}: {e})",
                       hint="it may have been edited or partly deleted") from None
    if not isinstance(meta, dict) or meta.get("format") != CKPT_FORMAT:
        raise RunError(f"checkpoint '{path}' is not an mlplab checkpoint",
                       hint="restore it, or start the run again")
    if meta.get("format_version") != CKPT_VERSION:
        raise RunError(f"checkpoint '{path}' has format version {meta.get('format_version')}",
                       expected=str(CKPT_VERSION), hint="resume it with the mlplab version "
                       "that wrote it, or start the run again")
    if _digest(blob, meta) != meta.get("sha256"):
        raise RunError(f"checkpoint '{path}' was modified after it was written: its SHA-256 "
                       "does not match state.json and state.safetensors",
                       hint="restore the original files, or start the run again; to resume "
                            "with a changed config use --resume RUN --override with the change")
    return Checkpoint(path=path, epoch=int(meta["epoch"]),
                      config=RunConfig.from_dict(meta["config"]), history=meta["history"],
                      tensors=load(blob), meta=meta)


# --- training with checkpoints -------------------------------------------------------------


class Checkpointer(Callback):
    """Write a checkpoint every ``every`` epochs (after that epoch's evaluation, if any).

    With ``restore`` (a loaded :class:`Checkpoint`), puts back the RNG states at the start,
    so the resumed run draws the same batches and dropout masks as an uninterrupted one.
    ``run_dir=None`` writes nothing (non-zero ranks) but keeps the same epoch boundaries.
    """

    def __init__(self, run_dir: Path | None, every: int, restore: Checkpoint | None = None,
                 resumes: list[dict[str, Any]] | None = None) -> None:
        self.run_dir, self.every, self.restore = run_dir, every, restore
        self.resumes = list(resumes or [])
        self._pending = False

    def on_train_begin(self, state: TrainState) -> None:
        if self.restore is not None:
            _restore_rng(self.restore, state.generator)
        elif self.run_dir is not None:  # a fresh run: forget checkpoints of a replaced run
            shutil.rmtree(self.run_dir / CKPT_DIR, ignore_errors=True)
            (self.run_dir / "model.json").unlink(missing_ok=True)  # mark it unfinished

    def on_epoch(self, state: TrainState) -> None:
        if state.epoch >= state.epochs:
            return  # the final run directory follows
        evaluating = state.epoch % state.cfg.train.eval_every == 0 or state.stop
        if evaluating:
            self._pending = True  # write after the eval row and the plateau step
        else:
            self._write(state)

    def on_eval(self, state: TrainState, row: dict[str, Any]) -> None:
        if self._pending:
            self._pending = False
            self._write(state)

    def _write(self, state: TrainState) -> None:
        if self.run_dir is not None:
            save_checkpoint(self.run_dir, state, self.resumes)


def optimizer_and_scheduler(net: nn.Module, cfg: RunConfig, n_train: int,
                            ck: Checkpoint | None = None) -> dict[str, Any]:
    """``fit`` keyword arguments: optimizer and scheduler built for ``n_train`` global rows,
    and, given a checkpoint, the weights, their states, the start epoch and the history."""
    if ck is not None:
        try:
            net.load_state_dict(ck.model_state())
        except RuntimeError as e:
            raise RunError(f"checkpoint '{ck.path}' does not fit the model",
                           found=str(e).splitlines()[0]) from None
    bs = resolve_batch_size(cfg.train.batch_size, n_train)
    opt = build_optimizer(net, cfg)
    sched = build_scheduler(opt, cfg, cfg.train.epochs, steps_per_epoch(bs, n_train))
    kwargs: dict[str, Any] = {"optimizer": opt, "scheduler": sched}
    if ck is not None:
        fresh = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
        opt.load_state_dict(_decode(ck.meta["optimizer"], ck.tensors))
        if sched is None:  # an accepted override of optim.* takes effect (moments are kept)
            for group, new in zip(opt.param_groups, fresh, strict=True):
                group.update(new)
        if sched is not None and ck.meta.get("scheduler") is not None:
            sched.load_state_dict(_decode(ck.meta["scheduler"], ck.tensors))
        kwargs.update(start_epoch=ck.epoch, history=ck.history, best=ck.best())
    return kwargs


def callbacks_for(cfg: RunConfig, run_dir: Path | None, ck: Checkpoint | None,
                  write: bool = True, resumes: list[dict[str, Any]] | None = None,
                  ) -> list[Callback]:
    """The checkpoint callback when the config asks for one (or when resuming); ``resumes``
    is the run's resume record (:func:`mlplab.runs.lifecycle.resume_record`)."""
    every = cfg.log.checkpoint_every
    if every is None and ck is None:
        return []
    return [Checkpointer(run_dir if write else None, every or cfg.train.epochs, ck, resumes)]


__all__ = ["Checkpoint", "Checkpointer", "callbacks_for", "load_latest",
           "optimizer_and_scheduler", "save_checkpoint"]
