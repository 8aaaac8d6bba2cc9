"""A run directory's life: begin, write, finish; and resuming one that did not finish.

::

    RunDir.new(out, overwrite)    check out (runs.store.check_out_dir): a file, a foreign
                                  directory, an unfinished run without overwrite are refused
    RunStart -> RunDir.begin      when training begins: the work directory with the resolved
                                  config.yaml (checkpoints, TensorBoard and figures follow)
    RunDir.write(run)             weights, config, metrics, history, model.json last
    RunDir.finish(run)            the run is complete: it takes its place at ``out``

A new run is written where it will stay; one that replaces an earlier run (``overwrite``) is
written into a hidden sibling and swapped in at the end (:func:`~mlplab.runs.store.swap_in`),
so until the new run is complete, the earlier one is whole: an error while training or
saving discards the new one and leaves the earlier run byte for byte. A run that stops
without finishing (killed, or an error) leaves ``config.yaml`` and its checkpoints but no
``model.json``: an unfinished run, which ``--resume`` continues. A replacing run killed
outright (SIGKILL) leaves its hidden sibling, named with its process id; the next write of
the same directory removes it once that process is gone
(:func:`~mlplab.runs.store.remove_stale_siblings`).

A resumed run continues with the config its checkpoint trained with. A ``config.yaml`` edited
since is refused; settings change only through an explicit ``override`` (``mlplab train
--resume RUN --override --lr 0.05``), and every resume with its accepted changes is recorded
in the checkpoints and in ``model.json`` (``training.resumes``), so the run directory says
what trained, when.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlplab.config import RunConfig, flatten, with_overrides
from mlplab.errors import ConfigError, RunError
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


@dataclass
class RunDir:
    """A run directory being written: ``path``, where the run ends up, and ``work``, where it
    is written until :meth:`finish` (``path`` itself, or a sibling replacing an earlier run).
    """

    path: Path
    work: Path

    @classmethod
    def new(cls, path: Path, overwrite: bool) -> RunDir:
        """A new run bound for ``path``, checked now (before anything trains)."""
        runs.check_out_dir(path, overwrite)
        return cls(path, runs.work_dir(path))

    @classmethod
    def resumed(cls, path: Path) -> RunDir:
        """An unfinished run continued in place."""
        return cls(path, path)

    def begin(self, cfg: RunConfig) -> None:
        """The work directory with the resolved ``config.yaml``, before training starts."""
        self.work.mkdir(parents=True, exist_ok=True)
        runs.atomic_write_text(self.work / "config.yaml", cfg.to_yaml())

    def write(self, run: Run) -> None:
        """The run's files (model.json last); ``run.path`` is the work directory until
        :meth:`finish`."""
        runs.write_run_files(self.work, config=run.config.to_dict(),
                             model_json=run.model_json(), state_dict=run.model.state_dict(),
                             metrics=run.metrics, history=run.history)
        run.path = self.work

    def finish(self, run: Run) -> Path:
        """The complete run takes its place (the earlier run, if any, is deleted now)."""
        runs.swap_in(self.work, self.path)
        run.path = self.path
        return self.path

    def abandon(self) -> None:
        """Training or saving failed: drop a replacement run; a new run in place stays as an
        unfinished run (its config.yaml and checkpoints are what --resume continues)."""
        runs.discard(self.work, self.path)


class RunStart(Callback):
    """:meth:`RunDir.begin` when training begins: after ``fit`` has refused what it cannot
    train (nothing is written then), before any other callback writes. Goes first in the
    callback list."""

    def __init__(self, run_dir: RunDir) -> None:
        self.run_dir = run_dir

    def on_train_begin(self, state: TrainState) -> None:
        self.run_dir.begin(state.cfg)


# --- the command line's --resume ---------------------------------------------------------


def check_resume_flags(resume: Path | None, given: list[str], override: bool = False) -> None:
    """``--resume`` continues a run with its saved config: refuse flags that would be ignored
    (``--override`` accepts the training flags and ``--set`` as changes)."""
    if override and resume is None:
        raise ConfigError("--override only applies with --resume RUN",
                          hint="drop --override, or add --resume RUN")
    if resume is not None and given:
        raise ConfigError("--resume continues a run with its own saved config",
                          found=f"also {', '.join(given[:4])}",
                          hint="drop the other training flags (only -q and --nproc apply), or "
                               "add --override to change those settings for the rest of the run")


def resume_overrides(cfg: RunConfig, flags: list[str], sets: list[str] | None) -> dict[str, Any]:
    """The settings that ``--resume RUN --override`` changes: each key given by a flag or a
    ``--set`` with its value in the validated ``cfg``.

    >>> cfg = RunConfig.from_dict({"optim": {"lr": 0.05}, "train": {"epochs": 9}})
    >>> resume_overrides(cfg, ["optim.lr"], ["train.epochs=9"])
    {'optim.lr': 0.05, 'train.epochs': 9}
    """
    values = flatten(cfg.to_dict())
    keys = [*flags, *(item.split("=", 1)[0].strip() for item in sets or [])]
    return {k: v for key in keys for k, v in values.items()
            if k == key or k.startswith(key + ".")}


__all__ = ["RunDir", "RunStart", "check_resume_flags", "config_changes", "resume_overrides",
           "resume_point", "resume_record"]
