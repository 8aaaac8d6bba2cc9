"""Starting and resuming runs: the run directory with its resolved ``config.yaml`` before
training starts, and the checkpoint plus config a resumed run continues with.

A resumed run continues with the config its checkpoint trained with. A ``config.yaml`` edited
since is refused; settings change only through an explicit ``override`` (``mlplab train
--resume RUN --override --lr 0.05``), and every resume with its accepted changes is recorded
in the checkpoints and in ``model.json`` (``training.resumes``), so the run directory says
what trained, when.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlplab.config import RunConfig, flatten, with_overrides
from mlplab.errors import RunError
from mlplab.runs import store as runs
from mlplab.training.callbacks import Callback
from mlplab.training.checkpoint import Checkpoint, load_latest
from mlplab.training.state import TrainState

if TYPE_CHECKING:
    from mlplab.runs.run import Run

IGNORED_ON_RESUME = ("log.quiet",)  # changes nothing about what trains


def config_changes(old: RunConfig, new: RunConfig) -> dict[str, list[Any]]:
    """The settings that differ between two configs: ``{dotted key: [old, new]}``.

    >>> a = RunConfig.from_dict({"optim": {"lr": 0.1}})
    >>> config_changes(a, with_overrides(a, {"optim.lr": 0.05, "log.quiet": True}))
    {'optim.lr': [0.1, 0.05]}
    """
    a, b = flatten(old.to_dict()), flatten(new.to_dict())
    return {k: [a.get(k), b.get(k)] for k in sorted(a.keys() | b.keys())
            if a.get(k) != b.get(k) and k not in IGNORED_ON_RESUME}


# a schedule's state (base lr, total steps) is fixed when it is built: these cannot change
_SCHEDULE_BOUND = ("optim.lr", "train.epochs", "train.batch_size")


def resume_point(run_dir: str | Path,
                 override: dict[str, Any] | None = None) -> tuple[Checkpoint, RunConfig]:
    """The checkpoint to resume ``run_dir`` from and the config to continue with.

    Refuses a run that already finished, and a run whose ``config.yaml`` no longer says what
    the checkpoint trained with. ``override`` (dotted keys, e.g. ``{"optim.lr": 0.05}``)
    explicitly changes settings for the rest of the run; each resume and its changes are
    recorded in the checkpoints and in ``model.json`` (``training.resumes``).
    """
    run_dir = Path(run_dir)
    ck = load_latest(run_dir)
    if runs.is_run_dir(run_dir):
        raise RunError(f"'{run_dir}' already finished training",
                       hint="start a new run (resume continues an interrupted one)")
    cfg = with_overrides(ck.config, override) if override else ck.config
    on_disk = run_dir / "config.yaml"
    if on_disk.is_file():
        edited = config_changes(ck.config, RunConfig.from_any(on_disk))
        if edited:
            raise RunError(f"'{on_disk}' was changed after the run started "
                           f"({_listed(edited)}); the checkpoint trained with the old values",
                           hint="put it back; to change settings for the rest of the run, "
                                "resume with --override and the new flags or --set")
    changed = config_changes(ck.config, cfg)
    bound = [k for k in changed if k in _SCHEDULE_BOUND or k.startswith("schedule.")]
    if bound and ck.meta.get("scheduler") is not None:
        raise RunError(f"cannot change {', '.join(bound)} on resume: the learning-rate "
                       "schedule's state depends on them", hint="start a new run instead")
    return ck, cfg


def _listed(changes: dict[str, list[Any]]) -> str:
    return ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in list(changes.items())[:4])


def resume_record(ck: Checkpoint, cfg: RunConfig) -> list[dict[str, Any]]:
    """Every resume of the run so far, this one last: the epoch and the accepted changes."""
    return [*ck.meta.get("resumes", []),
            {"epoch": ck.epoch, "changed": config_changes(ck.config, cfg)}]


def check_out_dir(path: Path, overwrite: bool) -> bool:
    """:func:`~mlplab.runs.store.check_out_dir`, where a directory left by an unfinished run
    (a ``config.yaml`` but no ``model.json``) counts as a run directory for ``overwrite``;
    True for such a directory."""
    unfinished = (path / "config.yaml").is_file() and not runs.is_run_dir(path)
    if unfinished and not overwrite:
        raise RunError(f"output directory '{path}' holds an unfinished run",
                       hint="resume it with --resume, pass --overwrite to replace it, or "
                            "choose another --out")
    if not unfinished:
        runs.check_out_dir(path, overwrite)
    return unfinished


def begin_run(path: Path, cfg: RunConfig, overwrite: bool) -> None:
    """Create the run directory with the resolved ``config.yaml`` before training starts.

    The directory is checked by :func:`check_out_dir`; with ``overwrite`` a previous
    (finished or unfinished) run in it is removed first.
    """
    unfinished = check_out_dir(path, overwrite)
    if overwrite and path.is_dir() and (unfinished or runs.is_run_dir(path)):
        for child in path.iterdir():  # only a previous run, never a foreign directory
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    path.mkdir(parents=True, exist_ok=True)
    runs.atomic_write_text(path / "config.yaml", cfg.to_yaml())


class RunStart(Callback):
    """Make the run directory (:func:`begin_run`) when training begins: after ``fit`` has
    refused what it cannot train (nothing is written then), before any other callback writes.
    Goes first in the callback list."""

    def __init__(self, path: Path, overwrite: bool) -> None:
        self.path, self.overwrite = path, overwrite

    def on_train_begin(self, state: TrainState) -> None:
        begin_run(self.path, state.cfg, self.overwrite)


def save_run(run: Run, path: Path) -> Path:
    """Save the final run into the directory :func:`begin_run` made (model.json last)."""
    runs.write_run_files(path, config=run.config.to_dict(), model_json=run.model_json(),
                         state_dict=run.model.state_dict(), metrics=run.metrics,
                         history=run.history)
    run.path = path
    return path


__all__ = ["RunStart", "begin_run", "check_out_dir", "config_changes", "resume_point",
           "resume_record", "save_run"]
