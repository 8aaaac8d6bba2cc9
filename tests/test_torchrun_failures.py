"""A rank of ``mlplab train --nproc 2`` killed or stopped from outside (issue 19 item 9,
issue 14 "Resume, proven"): one mlplab line naming the rank, the cause and the elapsed time,
exit code 2, within the collective timeout; a killed job resumes to the uninterrupted weights.

Each job is killed from outside at a random moment after its first checkpoint, as a user or
the OOM killer would. $MLPLAB_DIST_TIMEOUT is 5 s; every wait is bounded and every process
group is killed in ``finally``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from mlplab.training.runners.torchrun import GRACE_S, worker_ranks

TIMEOUT_S = 5
CFG = {"name": "tr", "data": {"source": "moons", "n_samples": 160, "noise": 0.2},
       "model": {"hidden": [8]}, "optim": {"name": "adam", "lr": 0.02},
       "schedule": {"name": "cosine"},
       "train": {"epochs": 150, "batch_size": 32, "eval_every": 10},
       "log": {"quiet": True, "plots": False, "checkpoint_every": 5}}
ENV = {**os.environ, "MLPLAB_DIST_TIMEOUT": str(TIMEOUT_S), "OMP_NUM_THREADS": "1",
       "GLOO_SOCKET_IFNAME": "lo"}


def _start(cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "mlplab", "train", "-q", "--nproc", "2",
                             *args], cwd=cwd, env=ENV, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _finish(proc: subprocess.Popen[str], limit: float = 150) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=limit)
        return proc.returncode, err
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _hit_rank(cwd: Path, rank: int, sig: signal.Signals, seed: int,
              ) -> tuple[int, str, float]:
    """Start a 2-rank job, send ``sig`` to ``rank`` after its first checkpoint; the exit code,
    stderr and seconds from the signal to the end of the job."""
    (cwd / "cfg.yaml").write_text(yaml.safe_dump(CFG))
    proc = _start(cwd, "-c", "cfg.yaml", "-o", "run")
    try:
        latest = cwd / "run" / "checkpoints" / "latest.json"
        deadline = time.monotonic() + 150
        while not latest.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(random.Random(seed).uniform(0.0, 0.3))
        ranks = worker_ranks(proc.pid)
        assert proc.poll() is None and rank in ranks, "the job ended before it was hit"
        os.kill(ranks[rank][0], sig)
        hit = time.monotonic()
        code, err = _finish(proc)
        return code, err, time.monotonic() - hit
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len([ln for ln in lines if ln.startswith("error:")]) == 1, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    return next(ln for ln in lines if ln.startswith("error:"))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, torch.Tensor]:
    cwd = tmp_path_factory.mktemp("full")
    (cwd / "cfg.yaml").write_text(yaml.safe_dump(CFG))
    code, err = _finish(_start(cwd, "-c", "cfg.yaml", "-o", "run"))
    assert code == 0, err[-3000:]
    return load_file(str(cwd / "run" / "model.safetensors"))


def test_killed_rank_1_fails_the_job_then_resume_continues_exactly(
        tmp_path: Path, uninterrupted: dict[str, torch.Tensor]) -> None:
    code, err, took = _hit_rank(tmp_path, 1, signal.SIGKILL, seed=1)
    line = _one_error_line(err)
    assert code == 2
    assert line.startswith("error: distributed training failed after ")
    assert "rank 1 was killed by SIGKILL" in line, line
    assert took < TIMEOUT_S + GRACE_S + 30  # torchrun notices a dead worker itself
    assert (tmp_path / "run" / "torchrun.log").is_file()
    killed_at = json.loads((tmp_path / "run" / "checkpoints" / "latest.json").read_text())
    assert 0 < killed_at["epoch"] < CFG["train"]["epochs"]
    code, err = _finish(_start(tmp_path, "--resume", "run"))
    assert code == 0, err[-3000:]
    got = load_file(str(tmp_path / "run" / "model.safetensors"))
    for k, v in uninterrupted.items():
        assert torch.equal(got[k], v), k


def test_killed_rank_0_is_named_not_reported_as_a_timeout(tmp_path: Path) -> None:
    code, err, took = _hit_rank(tmp_path, 0, signal.SIGKILL, seed=2)
    line = _one_error_line(err)
    assert code == 2 and "rank 0 was killed by SIGKILL" in line, line
    assert "within" not in line  # the peer left at once: no timeout was waited for
    assert took < TIMEOUT_S + GRACE_S + 30


def test_a_stopped_rank_fails_the_job_after_the_timeout(tmp_path: Path) -> None:
    code, err, took = _hit_rank(tmp_path, 1, signal.SIGSTOP, seed=3)
    line = _one_error_line(err)
    assert code == 2 and "rank 1 stopped responding" in line, line
    assert TIMEOUT_S <= took < TIMEOUT_S + GRACE_S + 20  # not torchrun's extra 30 s


def _torchrun_report(root: tuple[int, int], others: list[tuple[int, int]]) -> str:
    """torchrun's failure summary, in its own layout (as copied from a CI log)."""
    def block(k: int, rank: int, code: int) -> str:
        return (f"[{k}]:\n  time      : 2026-12-06_08:54:44\n  host      : localhost\n"
                f"  rank      : {rank} (local_rank: {rank})\n"
                f"  exitcode  : {code} (pid: {1000 + rank})\n  error_file: <N/A>\n")
    return ("mlplab FAILED\n" + "-" * 54 + "\nFailures:\n"
            + "".join(block(rank, rank, code) for rank, code in others) + "-" * 54
            + "\nRoot Cause (first observed failure):\n" + block(root[0], *root) + "=" * 54)


def test_a_peer_that_failed_because_a_rank_left_is_not_named_as_the_cause() -> None:
    """Regression (flaky in CI): rank 1 was SIGKILLed, rank 0 (blocked in a collective) said
    "a peer left" and aborted; torchrun observed rank 0 first, and the line named rank 0."""
    from mlplab.training.runners.torchrun import _ROOT, _first_cause

    text = _torchrun_report((0, -6), [(1, -9)])
    root = _ROOT.search(text)
    assert root is not None and (int(root.group(1)), int(root.group(2))) == (0, -6)
    peer = ["distributed training failed on rank 0 of 2: a peer left (its connection closed)"]
    assert _first_cause(text, (0, -6), peer) == (1, -9)
    assert _first_cause(text, (0, -6), []) == (1, -9)  # gloo's abort alone says as much
    # a rank that failed on its own stays the cause, whatever its peers did after it
    text = _torchrun_report((1, 2), [(0, -6)])
    assert _first_cause(text, (1, 2), ["training diverged: the loss became nan"]) == (1, 2)
    assert _first_cause(_torchrun_report((0, -9), []), (0, -9), []) == (0, -9)


def test_a_failed_job_replacing_a_run_logs_beside_it_not_into_it(tmp_path: Path) -> None:
    """A failed --overwrite job leaves the earlier run as it was: its torchrun log goes to
    RUN.torchrun.log beside that run; a new or resumed run holds its own RUN/torchrun.log."""
    from mlplab.training.runners.ddp import failure_log

    run = tmp_path / "run"
    assert failure_log(run, None) == run / "torchrun.log"  # a new run
    run.mkdir()
    (run / "model.json").write_text("{}")  # a finished earlier run
    assert failure_log(run, None) == tmp_path / "run.torchrun.log"
    assert failure_log(None, run) == run / "torchrun.log"  # resuming writes into the run
