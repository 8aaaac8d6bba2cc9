"""Watching a torchrun job from ``mlplab train --nproc N``: one line when a rank fails.

torchrun reports a failed worker with its own traceback, and a rank that is stopped (SIGSTOP)
or hangs only fails the job after the collective timeout plus torchrun's 30 s termination
grace. :func:`supervise` runs the job with its stderr piped, passes the output through while
the job is healthy, keeps all of it in a log file, and on a failure:

- names the rank that failed first (torchrun's "Root Cause"), the cause (the signal that killed
  it, its exit code, the mlplab error it printed, or that it is stopped) and the elapsed time,
  in one ``error:`` line;
- ends a job that lingers more than :data:`GRACE_S` seconds after the first failure (a stopped
  rank ignores torchrun's SIGTERM) by killing its process group;
- returns :data:`EXIT_RANK_FAILED` (2), the exit code of every mlplab error.

Example
-------
>>> describe_exit(-9), describe_exit(2), describe_exit(1)
('was killed by SIGKILL', 'failed', 'exited with code 1')
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

EXIT_RANK_FAILED = 2  # the exit code of every mlplab error, rank failures included
GRACE_S = 5.0  # seconds a job may take to end after its first failure before it is killed
_ROOT = re.compile(r"Root Cause.*?rank\s*:\s*(\d+).*?exitcode\s*:\s*(-?\d+)", re.S)
_FAILED = re.compile(r"rank\s*:\s*(\d+)[^\n]*\n\s*exitcode\s*:\s*(-?\d+)")  # every failure
_PEER_LEFT = re.compile(r"failed on rank (\d+) of \d+: a peer left")  # ddp.py's error
SIGABRT = -signal.SIGABRT
_FAILURE = re.compile(r"^(error: |Traceback |torch\.distributed\.elastic|.*ChildFailedError)")


def describe_exit(code: int) -> str:
    """How a worker ended, from its exit code (negative: the signal that killed it)."""
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return "failed" if code == EXIT_RANK_FAILED else f"exited with code {code}"


@dataclass
class _Job:
    proc: subprocess.Popen[bytes]
    log: list[str] = field(default_factory=list)
    failed_at: float | None = None  # monotonic time of the first sign of failure


def _pump(job: _Job, forward: bool) -> None:
    assert job.proc.stderr is not None
    healthy = forward
    for raw in job.proc.stderr:
        line = raw.decode(errors="replace")
        job.log.append(line)
        if _FAILURE.match(line):
            healthy = False  # from here on the summary speaks for the job
            if job.failed_at is None:
                job.failed_at = time.monotonic()
        if healthy:
            sys.stderr.write(line)
            sys.stderr.flush()


def worker_ranks(root_pid: int) -> dict[int, tuple[int, str]]:
    """{rank: (pid, state letter)} of the workers under ``root_pid`` (Linux /proc; {} else)."""
    parent: dict[int, int] = {}
    state: dict[int, str] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        state[int(entry.name)], parent[int(entry.name)] = fields[0], int(fields[1])
    out: dict[int, tuple[int, str]] = {}
    for pid in state:
        p = pid
        while p in parent and p != root_pid:
            p = parent[p]
        if p != root_pid or pid == root_pid:
            continue
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        rank = [e[5:] for e in env if e.startswith(b"RANK=")]
        if rank:
            out[int(rank[0])] = (pid, state[pid])
    return out


def _cause(job: _Job, stopped: list[int]) -> str:
    text = "".join(job.log)
    if stopped:
        ranks = ", ".join(map(str, stopped))
        return f"rank {ranks} stopped responding (process stopped, e.g. by SIGSTOP)"
    root = _ROOT.search(text)
    errors = [ln.strip()[len("error: "):] for ln in job.log if ln.startswith("error: ")]
    if root is not None:
        rank, code = _first_cause(text, (int(root.group(1)), int(root.group(2))), errors)
        why = describe_exit(code)
        if code == EXIT_RANK_FAILED and errors:
            why = f"failed: {errors[0]}"
        return f"rank {rank} {why}"
    return errors[0] if errors else "a rank failed"


def _first_cause(text: str, root: tuple[int, int], errors: list[str]) -> tuple[int, int]:
    """(rank, exit code) of the failure that caused the others. torchrun's root cause is the
    first failure it *observed*: when one rank is killed, a peer blocked in a collective may
    be seen first, having failed because that rank left (it says "a peer left", or gloo
    aborts it: SIGABRT). Such a follower is passed over for a failure that is not one."""
    failures = [(int(r), int(c)) for r, c in _FAILED.findall(text)]
    followers = {int(r) for e in errors for r in _PEER_LEFT.findall(e)}
    if any(c < 0 and c != SIGABRT for _, c in failures):  # a rank killed by a signal
        followers |= {r for r, c in failures if c == SIGABRT}
    if root[0] not in followers:
        return root
    return next((f for f in failures if f[0] not in followers), root)


def _kill_job(proc: subprocess.Popen[bytes], ranks: dict[int, tuple[int, str]]) -> None:
    """SIGKILL torchrun's process group and every worker by pid: torchrun may start its workers
    in sessions of their own, and a stopped one would otherwise outlive the job."""
    os.killpg(proc.pid, signal.SIGKILL)
    for pid, _ in ranks.values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait()


def supervise(cmd: list[str], log_file: Path | None = None, forward: bool = True,
              env: dict[str, str] | None = None) -> int:
    """Run the torchrun command ``cmd``; 0, or :data:`EXIT_RANK_FAILED` after one line
    naming the failed rank, the cause and the elapsed time (the full output goes to
    ``log_file`` when given, on a failure)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, start_new_session=True, env=env)
    job = _Job(proc)
    reader = threading.Thread(target=_pump, args=(job, forward), daemon=True)
    reader.start()
    stopped: list[int] = []
    try:
        while proc.poll() is None:
            time.sleep(0.1)
            if job.failed_at is not None and time.monotonic() - job.failed_at > GRACE_S:
                ranks = worker_ranks(proc.pid)
                stopped = sorted(r for r, (_, s) in ranks.items() if s == "T")
                _kill_job(proc, ranks)  # a stopped rank ignores SIGTERM
    finally:
        if proc.poll() is None:
            _kill_job(proc, worker_ranks(proc.pid))
        reader.join(timeout=5)
    elapsed = (job.failed_at or time.monotonic()) - start
    if proc.returncode == 0:
        return 0
    if log_file is not None and log_file.parent.is_dir():
        log_file.write_text("".join(job.log), encoding="utf-8")
    where = f"; full log: {log_file}" if log_file is not None and log_file.is_file() else ""
    print(f"error: distributed training failed after {elapsed:.1f} s: "
          f"{_cause(job, stopped)}{where}", file=sys.stderr)
    return EXIT_RANK_FAILED


__all__ = ["EXIT_RANK_FAILED", "GRACE_S", "describe_exit", "supervise", "worker_ranks"]
