"""Resumable runs: a run killed (SIGKILL) and resumed ends with the uninterrupted weights."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

import mlplab
from mlplab.errors import RunError
from mlplab.training.callbacks import Callback
from mlplab.training.checkpoint import load_latest

# mini-batches, dropout and a per-batch schedule: batches, masks and lr all depend on state
CFG = {"name": "res", "data": {"source": "moons", "n_samples": 400, "noise": 0.2},
       "model": {"hidden": [16, 16], "dropout": 0.1}, "schedule": {"name": "onecycle"},
       "train": {"epochs": 80, "batch_size": 32, "eval_every": 10},
       "log": {"quiet": True, "plots": False, "checkpoint_every": 4}}


@pytest.fixture(scope="module")
def uninterrupted() -> dict[str, torch.Tensor]:
    return mlplab.train(CFG, save=False).model.state_dict()


def _assert_same(run_dir: Path, ref: dict[str, torch.Tensor]) -> None:
    got = mlplab.load(run_dir).model.state_dict()
    for k, v in ref.items():
        assert torch.equal(got[k], v), k


def _start(tmp_path: Path, prelude: str = "") -> subprocess.Popen[bytes]:
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(prelude) + textwrap.dedent(f"""
        import mlplab
        mlplab.train({CFG!r}, out={str(tmp_path / "run")!r})
    """))
    return subprocess.Popen([sys.executable, str(script)], stderr=subprocess.PIPE)


def test_sigkill_at_a_random_moment_then_resume(tmp_path: Path, uninterrupted) -> None:
    proc = _start(tmp_path)
    latest = tmp_path / "run" / "checkpoints" / "latest.json"
    deadline = time.monotonic() + 120
    while not latest.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(random.Random(7).uniform(0.0, 0.5))  # somewhere in the middle of training
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "training finished before it could be killed"
    killed_at = json.loads(latest.read_text())["epoch"]
    assert 0 < killed_at < CFG["train"]["epochs"]
    run = mlplab.train(resume=tmp_path / "run")
    assert run.info["epochs_run"] == CFG["train"]["epochs"]
    _assert_same(tmp_path / "run", uninterrupted)
    assert [r["epoch"] for r in run.history] == list(range(10, 81, 10))


KILL_MID_FILE = """
    import os, signal
    import mlplab.training.checkpoint as ck
    calls, write = [0], ck._write_synced
    def dying_write(path, data):
        calls[0] += 1
        if calls[0] == 7:  # 4th checkpoint, its tensor file: half written, then killed
            path.write_bytes(data[: len(data) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        write(path, data)
    ck._write_synced = dying_write
"""
KILL_BEFORE_COMMIT = """
    import os, signal
    import mlplab.training.checkpoint as ck
    calls, replace = [0], ck.os.replace
    class OsProxy:
        def __getattr__(self, name):
            return getattr(os, name)
        def replace(self, a, b):
            replace(a, b)
            calls[0] += 1
            if calls[0] == 4:  # 4th checkpoint complete but latest.json not yet moved
                os.kill(os.getpid(), signal.SIGKILL)
    ck.os = OsProxy()
"""


@pytest.mark.parametrize("prelude", [KILL_MID_FILE, KILL_BEFORE_COMMIT],
                         ids=["mid-file", "before-commit"])
def test_kill_during_a_checkpoint_write(tmp_path: Path, prelude: str, uninterrupted) -> None:
    """Regression guard: the previous checkpoint stays the valid one to resume from."""
    proc = _start(tmp_path, prelude)
    proc.wait(timeout=180)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    assert load_latest(tmp_path / "run").epoch == 12  # the 3rd checkpoint, not the 4th
    mlplab.train(resume=tmp_path / "run")
    _assert_same(tmp_path / "run", uninterrupted)


class Crash(Callback):
    every = 1

    def on_epoch(self, state) -> None:
        if state.epoch == 25:
            raise RuntimeError("power cut")


def test_resume_full_batch_fast_path(tmp_path: Path) -> None:
    """The default runner for tiny full-batch nets (fast path) resumes exactly too."""
    cfg = {"data": {"source": "circles", "n_samples": 200}, "model": {"hidden": [6, 6]},
           "optim": {"name": "adam", "lr": 0.05}, "train": {"epochs": 40, "eval_every": 10},
           "log": {"quiet": True, "plots": False, "checkpoint_every": 7}}
    ref = mlplab.train(cfg, save=False)
    with pytest.raises(RuntimeError, match="power cut"):
        mlplab.train(cfg, out=tmp_path / "run", callbacks=[Crash()])
    assert load_latest(tmp_path / "run").epoch == 21
    run = mlplab.train(resume=tmp_path / "run")
    assert run.info["runner"] == ref.info["runner"]
    _assert_same(tmp_path / "run", ref.model.state_dict())
    assert len(run.history) == len(ref.history)


def test_resume_refuses_finished_and_checkpointless_runs(tmp_path: Path) -> None:
    cfg = {"data": {"source": "gaussians", "n_samples": 100}, "model": {"hidden": [3]},
           "train": {"epochs": 6}, "log": {"quiet": True, "plots": False,
                                            "checkpoint_every": 2}}
    mlplab.train(cfg, out=tmp_path / "done")
    with pytest.raises(RunError, match="already finished training"):
        mlplab.train(resume=tmp_path / "done")
    mlplab.train({**cfg, "log": {"quiet": True, "plots": False}}, out=tmp_path / "plain")
    with pytest.raises(RunError, match="has no checkpoint to resume from"):
        mlplab.train(resume=tmp_path / "plain")


def test_cli_resume_refuses_other_flags(tmp_path: Path) -> None:
    from mlplab.cli.main import main

    assert main(["train", "--resume", str(tmp_path), "--epochs", "5"]) == 2


# early stopping on a validation split, mini-batches: best at epoch 6, stops at 14
ES_CFG = {"name": "es", "data": {"source": "moons", "n_samples": 300, "noise": 0.35,
                                 "val_size": 0.2},
          "model": {"hidden": [32, 32]}, "optim": {"name": "adam", "lr": 0.03},
          "train": {"epochs": 300, "batch_size": 32, "eval_every": 2, "early_stopping": 4},
          "log": {"quiet": True, "plots": False, "checkpoint_every": 2}}
KILL_AFTER_CHECKPOINT = """
    import os, signal
    import mlplab.training.checkpoint as ck
    save = ck.save_checkpoint
    def save_then_die(run_dir, state, *more):
        path = save(run_dir, state, *more)
        if state.epoch == {epoch}:
            os.kill(os.getpid(), signal.SIGKILL)
        return path
    ck.save_checkpoint = save_then_die
"""


def test_early_stopping_resumes_exactly_after_its_best_epoch(tmp_path: Path) -> None:
    """Regression (issue 19 item 5): a run killed after its best epoch forgot the best loss,
    the patience count and the best weights, trained on and kept worse weights. Killed by
    SIGKILL between its best epoch and its stop, it now ends bitwise equal to the
    uninterrupted run, with the same stop and summary."""
    ref = mlplab.train({**ES_CFG, "log": {"quiet": True, "plots": False}}, save=False)
    best, stop = ref.info["best_epoch"], ref.info["epochs_run"]
    kill_at = best + 2 * ((stop - best) // 4 or 1)  # a checkpoint epoch after the best
    assert best < kill_at < stop
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(KILL_AFTER_CHECKPOINT.format(epoch=kill_at)) +
                      f"import mlplab\nmlplab.train({ES_CFG!r}, out={str(tmp_path / 'run')!r})\n")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    ck = load_latest(tmp_path / "run")
    saved = ck.best()
    assert ck.epoch == kill_at and saved is not None
    assert saved.best_epoch == best and saved.bad == (kill_at - best) // 2
    run = mlplab.train(resume=tmp_path / "run")
    assert run.info["epochs_run"] == stop and run.info["best_epoch"] == best
    assert run.info["summary"] == f"stopped at epoch {stop} of 300 (best {best})"
    _assert_same(tmp_path / "run", ref.model.state_dict())
