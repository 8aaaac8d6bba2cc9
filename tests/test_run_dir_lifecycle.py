"""A run directory's life (mlplab.runs.lifecycle): an earlier run is never removed before the
run that replaces it is complete."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import mlplab
from mlplab.errors import RunError
from mlplab.training.callbacks import Callback

CFG = {"data": {"source": "moons", "n_samples": 120}, "model": {"hidden": [4]},
       "train": {"epochs": 20, "eval_every": 5}, "log": {"quiet": True, "plots": False}}


def _files(d: Path) -> dict[str, bytes]:
    return {str(f.relative_to(d)): f.read_bytes() for f in sorted(d.rglob("*")) if f.is_file()}


class FailAt(Callback):
    """Raises at the evaluation of epoch ``epoch``: training stops with an error mid-run."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_eval(self, state, row):  # type: ignore[no-untyped-def]
        if state.epoch >= self.epoch:
            raise RuntimeError("callback failed mid-training")


def test_an_error_mid_training_with_overwrite_leaves_the_earlier_run(tmp_path: Path) -> None:
    """Regression (issue 29): overwrite=True emptied the directory when training began, so a
    crash lost the earlier run as well as the new one."""
    out = tmp_path / "run"
    mlplab.train(CFG, out=out)
    before = _files(out)
    with pytest.raises(RuntimeError, match="mid-training"):
        mlplab.train({**CFG, "seed": 7}, out=out, overwrite=True, callbacks=[FailAt(10)])
    assert _files(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no half-written sibling left
    assert mlplab.load(out).metrics == mlplab.load(out).metrics  # still loads


def test_overwrite_replaces_the_run_once_it_is_complete(tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = mlplab.train(CFG, out=out)
    second = mlplab.train({**CFG, "seed": 7}, out=out, overwrite=True)
    assert second.path == out and first.path == out
    assert mlplab.load(out).config.seed == 7
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_run_save_with_overwrite_swaps_the_directory(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run = mlplab.train(CFG, save=False)
    run.save(out)
    (out / "notes.txt").write_text("left by the earlier run")
    run.save(out, overwrite=True)
    assert not (out / "notes.txt").exists() and (out / "model.json").is_file()
    with pytest.raises(RunError, match="exists and is not empty"):
        run.save(out)


def test_an_unfinished_run_is_refused_without_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.yaml").write_text("seed: 1\n")
    with pytest.raises(RunError, match="holds an unfinished run"):
        mlplab.train(CFG, out=out)
    with pytest.raises(RunError, match="holds an unfinished run"):
        mlplab.train(CFG, save=False).save(out)


def _dead_pid() -> int:
    """The id of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _half_written(d: Path) -> Path:
    d.mkdir()
    (d / "config.yaml").write_text("seed: 1\n")
    return d


posix_only = pytest.mark.skipif(os.name == "nt", reason="a writer's liveness is os.kill(pid, 0)")


@posix_only
def test_the_next_write_removes_a_dead_writers_sibling_and_keeps_a_live_ones(
        tmp_path: Path) -> None:
    """Regression: a replacing write killed outright left its hidden sibling (``.run.new-*``)
    beside the run forever. The next write removes it, and never a live writer's."""
    out = tmp_path / "run"
    run = mlplab.train(CFG, out=out)
    dead = _dead_pid()
    live = _half_written(tmp_path / f".run.new-{os.getpid()}-live0001")
    other_run = _half_written(tmp_path / f".other.new-{dead}-dead0002")
    _half_written(tmp_path / f".run.new-{dead}-dead0001")
    _half_written(tmp_path / f".run.old-{dead}-dead0003")  # the trash of a swap cut short
    run.save(out, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other_run.name,
                                                                 "run"])
    assert mlplab.load(out).metrics == run.metrics


@posix_only
def test_a_dead_writers_trash_is_kept_while_it_holds_the_only_earlier_run(
        tmp_path: Path) -> None:
    """Killed between swap_in's two renames, a writer leaves the earlier run in its trash
    (``.run.old-*``) and nothing at ``run``: that trash is not removed."""
    dead = _dead_pid()
    trash = _half_written(tmp_path / f".run.old-{dead}-dead0001")
    _half_written(tmp_path / f".run.new-{dead}-dead0002")
    mlplab.train(CFG, save=False).save(tmp_path / "run")
    assert sorted(p.name for p in tmp_path.iterdir()) == [trash.name, "run"]


STALLED_OVERWRITE = textwrap.dedent("""
    import json, sys, time
    import mlplab
    from mlplab.training.callbacks import Callback

    class Stall(Callback):
        def on_eval(self, state, row):
            if state.epoch >= 10:
                print("stalled", flush=True)
                time.sleep(600)

    mlplab.train(json.loads(sys.argv[2]), out=sys.argv[1], overwrite=True,
                 callbacks=[Stall()])
""")


@posix_only
def test_a_write_after_a_sigkilled_overwrite_removes_what_it_left(tmp_path: Path) -> None:
    """Regression: ``kill -9`` of ``mlplab train --overwrite`` mid-training left
    ``.run.new-*`` beside the run for good; the next write of the run removes it."""
    out = tmp_path / "run"
    mlplab.train(CFG, out=out)
    proc = subprocess.Popen([sys.executable, "-c", STALLED_OVERWRITE, str(out), json.dumps(CFG)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "stalled\n", \
            proc.stderr.read() if proc.stderr else ""
    finally:
        proc.kill()  # SIGKILL: no cleanup of any kind runs
        proc.communicate()
    left = [p.name for p in tmp_path.iterdir() if p.name != "run"]
    assert len(left) == 1 and left[0].startswith(f".run.new-{proc.pid}-")
    mlplab.train({**CFG, "seed": 7}, out=out, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert mlplab.load(out).config.seed == 7
