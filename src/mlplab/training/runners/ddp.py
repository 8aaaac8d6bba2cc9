"""Data-parallel training under ``torchrun``: PyTorch's own engine, no home-made RPC.

``torchrun --nproc_per_node=N -m mlplab train ...`` (or ``mlplab train --nproc N``) starts N
processes; each one runs :func:`mlplab.api.train`, which notices ``WORLD_SIZE > 1`` and:

- joins the process group (gloo on CPU, nccl on CUDA, chosen from the device) with a timeout,
  so a rank that dies or hangs makes the others fail with a clear message instead of waiting
  forever;
- keeps its own strided shard of the training rows (rank ``r`` holds rows ``r, r+W, ...``);
  validation and test splits stay whole on every rank, so every rank computes the same
  validation loss and takes the same early-stopping / plateau decisions without talking;
- draws the *global* ``randperm`` of the epoch from the shared seeded generator and trains on
  its part of each global batch, so every rank takes the same number of steps (no hang on
  uneven shards) and the gradient, averaged by :class:`~torch.nn.parallel.DistributedDataParallel`,
  is exactly the single-process gradient of the same global batch (the local loss is a *sum*
  scaled by ``W / global_batch``);
- all-reduces training loss and training accuracy / R² as sums and counts;
- writes the run directory, checkpoints, logs and progress on rank 0 only.

In-memory data is loaded and split identically on every rank (same seed); each rank then
trains on its shard only.

Example
-------
>>> ctx = DistContext()             # outside torchrun: one process, everything is a no-op
>>> ctx.world_size, ctx.rank, ctx.is_main
(1, 0, True)
>>> perm = torch.tensor([5, 2, 7, 0, 3, 6, 1, 4])  # global batches [5 2 7 0] [3 6 1 4]
>>> [t.tolist() for t in local_batches(perm, 4, rank=1, world=2)]  # rows 5,7 | 3,1 -> local
[[2, 3], [1, 0]]
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mlplab import registry
from mlplab.config import RunConfig
from mlplab.errors import ConfigError, TrainingError
from mlplab.training.callbacks import Callback
from mlplab.training.runners import support
from mlplab.training.runners.torchrun import supervise
from mlplab.training.state import DataTensors, TrainState
from mlplab.training.step import Step

DEFAULT_TIMEOUT_S = 300.0  # a collective waiting longer than this means another rank is gone
TIMEOUT_ENV = "MLPLAB_DIST_TIMEOUT"


def env_world() -> tuple[int, int, int]:
    """(rank, local_rank, world_size) from torchrun's environment; (0, 0, 1) outside it."""
    return (int(os.environ.get("RANK", 0)), int(os.environ.get("LOCAL_RANK", 0)),
            int(os.environ.get("WORLD_SIZE", 1)))


def is_main_process() -> bool:
    """True outside torchrun and on rank 0: the process that writes and prints."""
    return env_world()[0] == 0


def timeout_seconds() -> float:
    """The collective timeout: ``$MLPLAB_DIST_TIMEOUT`` seconds, default 300."""
    raw = os.environ.get(TIMEOUT_ENV)
    if raw is None:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise ConfigError(f"bad ${TIMEOUT_ENV}", expected="a number of seconds > 0",
                          found=repr(raw))
    return value


@dataclass
class DistContext:
    """Who this process is in the job; a single process has ``world_size == 1``."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    backend: str | None = None
    device: torch.device | None = None  # the device this rank must use (None: config's)
    timeout: float = DEFAULT_TIMEOUT_S

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # --- pieces api.train plugs in ----------------------------------------------------------

    def shard(self, data: DataTensors) -> DataTensors:
        """This rank's training rows (strided); val/test stay whole."""
        if not self.active:
            return data
        X, y = dict(data.X), dict(data.y)
        X["train"] = data.X["train"][self.rank::self.world_size].contiguous()
        y["train"] = data.y["train"][self.rank::self.world_size].contiguous()
        w = None if data.w is None else data.w[self.rank::self.world_size].contiguous()
        return DataTensors(X, y, w, n_train_global=data.n_train)

    def runner(self) -> DDPRunner | None:
        """The DDP runner for :func:`mlplab.training.loop.fit`, or None (fit picks its own)."""
        return DDPRunner(self) if self.active else None

    def callbacks(self) -> list[Callback]:
        """Callbacks that must come first: train metrics all-reduced as sums and counts."""
        return [GlobalTrainMetrics(self)] if self.active else []

    def all_reduce(self, t: torch.Tensor) -> torch.Tensor:
        """Sum ``t`` over ranks in place (a clear error if another rank is gone)."""
        if self.active:
            with collective_errors(self):
                torch.distributed.all_reduce(t)
        return t


@contextlib.contextmanager
def collective_errors(ctx: DistContext) -> Iterator[None]:
    """Turn a timed-out or broken collective into a one-line :class:`TrainingError`."""
    try:
        yield
    except (RuntimeError, torch.distributed.DistError) as e:
        if isinstance(e, TrainingError):
            raise
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        waited = "timed out" in str(e).lower() or "timeout" in str(e).lower()
        what = f"no answer from a peer within {ctx.timeout:g} s" if waited else \
            "a peer left (its connection closed)"
        raise TrainingError(
            f"distributed training failed on rank {ctx.rank} of {ctx.world_size}: {what} "
            f"({first[:200]})",
            hint="another rank probably failed or hangs; see its error above (raise "
                 f"${TIMEOUT_ENV} if ranks are legitimately slow)") from None


def setup(device: str = "auto") -> DistContext:
    """Join the torchrun job (once per process); a no-op context outside torchrun.

    The backend follows the device: nccl when this rank uses CUDA, gloo otherwise. The
    process group's timeout bounds every collective (``$MLPLAB_DIST_TIMEOUT``, seconds), so a
    rank that dies or hangs makes the others fail instead of waiting forever. The group is
    destroyed when the process exits.
    """
    rank, local_rank, world = env_world()
    if world <= 1:
        return DistContext()
    import torch.distributed as dist

    use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    dev = torch.device(f"cuda:{local_rank}") if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    ctx = DistContext(rank=rank, local_rank=local_rank, world_size=world,
                      backend="nccl" if use_cuda else "gloo", device=dev,
                      timeout=timeout_seconds())
    if not dist.is_initialized():
        with collective_errors(ctx):
            dist.init_process_group(ctx.backend,
                                    timeout=datetime.timedelta(seconds=ctx.timeout))
        atexit.register(_destroy)
    return ctx


def _destroy() -> None:
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


# --- launching --------------------------------------------------------------------------


def torchrun_command(nproc: int, train_args: list[str]) -> list[str]:
    """``python -m torch.distributed.run --standalone --nproc_per_node=N -m mlplab train ...``.

    >>> torchrun_command(2, ["--resume", "runs/a"])[1:5]
    ['-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2']
    """
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={nproc}", "-m", "mlplab", "train", *train_args]


def launch(nproc: int, cfg: RunConfig, *, out: Path | None, overwrite: bool = False,
           quiet: bool = False, resume: Path | None = None,
           override: dict[str, Any] | None = None) -> int:
    """Run ``mlplab train`` under torchrun with ``nproc`` local processes; the exit code.

    The resolved config goes to the workers as a temporary YAML file, and the run directory
    is fixed here so every rank agrees on it. ``override`` (with ``resume``) goes to them as
    ``--override --set KEY=VALUE``.
    """
    from mlplab.runs import store as runs

    if nproc < 1 or nproc > 1024:
        raise ConfigError("bad --nproc", expected="1..1024", found=str(nproc))
    with tempfile.TemporaryDirectory(prefix="mlplab-launch-") as tmp:
        if resume is not None:
            from mlplab.runs.lifecycle import resume_point

            resume_point(resume, override)  # refuse a finished or checkpoint-less run now
            args = ["--resume", str(resume)]
            if override:
                args += ["--override"]
                for key, value in override.items():
                    args += ["--set", f"{key}={json.dumps(value)}"]
        else:
            out = out if out is not None else runs.default_run_dir(cfg.name)
            runs.check_out_dir(out, overwrite)
            cfg_file = Path(tmp) / "config.yaml"
            cfg_file.write_text(cfg.to_yaml(), encoding="utf-8")
            args = ["--config", str(cfg_file), "--out", str(out)]
            args += ["--overwrite"] if overwrite else []
        args += ["--quiet"] if quiet else []
        return supervise(torchrun_command(nproc, args), failure_log(out, resume))


def failure_log(out: Path | None, resume: Path | None) -> Path | None:
    """Where a failed job's full torchrun output goes: into the run it was writing
    (``RUN/torchrun.log``), but beside what ``--overwrite`` was replacing
    (``RUN.torchrun.log``; :func:`mlplab.runs.store.replaces`): that stays as it was until a
    new run is complete. Decided before the job starts."""
    from mlplab.runs import store as runs

    if resume is not None:
        return Path(resume) / "torchrun.log"
    if out is None:
        return None
    out = Path(out)
    return out.with_name(out.name + ".torchrun.log") if runs.replaces(out) else \
        out / "torchrun.log"


# --- batching ----------------------------------------------------------------------------


def local_batches(perm: torch.Tensor, batch_size: int, rank: int,
                  world: int) -> list[torch.Tensor]:
    """This rank's part of each global batch, as indices into its strided shard.

    ``perm`` is the epoch's global permutation of ``0..n-1``; global batch ``b`` is
    ``perm[b*B:(b+1)*B]``. Row ``i`` lives on rank ``i % world`` at local index ``i // world``.
    Every rank returns the same number of batches (some may be empty).
    """
    n_batches = -(-len(perm) // batch_size)
    pos = torch.arange(len(perm))
    mine = perm % world == rank  # (n,) which global rows are ours
    local = perm[mine] // world  # (n_local,) in epoch order
    counts = torch.bincount(pos[mine] // batch_size, minlength=n_batches)  # (n_batches,)
    return list(local.split(counts.tolist()))


def global_batch_sizes(n: int, batch_size: int) -> list[int]:
    """Sizes of the global batches of one epoch: B, B, ..., remainder."""
    full, rest = divmod(n, batch_size)
    return [batch_size] * full + ([rest] if rest else [])


# --- the runner --------------------------------------------------------------------------


class DDPRunner:
    """Trains the rank's shard under DDP with the shared :class:`~mlplab.training.step.Step`.

    Each rank's loss is ``sum(per-row losses) * W / global_batch`` (or ``/ global weight``),
    so DDP's gradient average equals the single-process mean over the global batch; the
    penalty, clipping, optimizer and schedules are the step's own.
    """

    name = "ddp"
    supports = support.DDP

    def __init__(self, ctx: DistContext) -> None:
        self.ctx = ctx
        self.ddp: nn.Module | None = None
        self.step: Step | None = None

    def __call__(self, state: TrainState, n_epochs: int) -> None:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ctx = self.ctx
        with collective_errors(ctx):
            if self.ddp is None or self.step is None:
                self.ddp = DDP(state.model, device_ids=None if ctx.device is None or
                               ctx.device.type != "cuda" else [ctx.device])
                self.step = Step.for_state(state)
            _run_epochs(ctx, state, self.ddp, self.step, n_epochs)


def _run_epochs(ctx: DistContext, state: TrainState, ddp: nn.Module, step: Step,
                n_epochs: int) -> None:
    cfg, world = state.cfg, ctx.world_size
    X, y, w = state.data.X["train"], state.data.y["train"], state.data.w
    n = state.data.n_train  # global rows
    per_epoch = state.scheduler is not None and cfg.schedule.name in registry.STEP_PER_EPOCH
    bs = state.batch_size  # the global batch, resolved by fit against the global rows
    state.model.train()
    for _ in range(n_epochs):
        if bs is None:  # full batch: all our rows, one step
            idx_list: list[torch.Tensor | None] = [None]
            sizes = [n]
        else:  # the same global permutation on every rank (shared seed)
            perm = torch.randperm(n, generator=state.generator, device=state.generator.device)
            idx_list = list(local_batches(perm, bs, ctx.rank, world))
            sizes = global_batch_sizes(n, bs)
        total = torch.zeros((), device=X.device)
        for i, (idx, size) in enumerate(zip(idx_list, sizes, strict=True)):
            xb, yb = (X, y) if idx is None else (X[idx.to(X.device)], y[idx.to(X.device)])
            wb = w if idx is None or w is None else w[idx.to(X.device)]
            denom: float | torch.Tensor = size
            if wb is not None:  # the global batch's weight
                denom = ctx.all_reduce(wb.sum().detach().clone())
            loss = step(xb, yb, wb, scale=world / denom, forward=ddp)  # DDP averages grads
            pen = step.last_penalty
            data_sum = loss if pen is None else loss - pen.detach()
            total += data_sum * (size / world)  # this rank's share of sum(l) over the batch
            if state.batch_callbacks:
                state.batch_done(i)
        if per_epoch:
            state.scheduler.step()
        state.epoch += 1
        # one collective per epoch whatever the segment lengths (callbacks may differ by rank)
        state.last_loss = ctx.all_reduce(total) / n  # global mean train loss of the epoch


class GlobalTrainMetrics(Callback):
    """Replace the shard-local train score in each history row by the global one.

    Accuracy is all-reduced as (correct, count); R² as (sum of squared residuals, sum of y,
    sum of y², count) per target, never as an average of per-rank values.
    """

    def __init__(self, ctx: DistContext) -> None:
        self.ctx = ctx

    @torch.inference_mode()
    def on_eval(self, state: TrainState, row: dict[str, Any]) -> None:
        X, y = state.data.X["train"], state.data.y["train"]
        model, task = state.model, state.task
        was = model.training
        model.eval()
        try:
            out = model(X)
        finally:
            model.train(was)
        key = f"train_{state.score_name}"
        if task.name == "regression":
            yf = y.reshape(len(y), -1).double()  # (n_local, t)
            of = out.reshape(len(y), -1).double()
            count = torch.tensor([float(len(yf))], dtype=torch.float64, device=yf.device)
            s = self.ctx.all_reduce(torch.cat([((yf - of) ** 2).sum().reshape(1), yf.sum(0),
                                               (yf ** 2).sum(0), count]))
            t = yf.shape[1]
            ss_tot = float((s[1 + t:1 + 2 * t] - s[1:1 + t] ** 2 / s[-1]).sum())
            row[key] = 1.0 - float(s[0]) / ss_tot if ss_tot > 0 else float("nan")
            return
        pred = task.labels(task.proba(out))
        if task.name == "multilabel":
            correct = (pred == y.long()).all(dim=1).sum()
        else:
            correct = (pred == y.reshape(-1).long()).sum()
        s = self.ctx.all_reduce(torch.stack([correct.double(), torch.tensor(
            float(len(y)), dtype=torch.float64, device=correct.device)]))
        row[key] = float(s[0] / s[1])


__all__ = ["DDPRunner", "DistContext", "GlobalTrainMetrics", "env_world", "is_main_process",
           "launch", "local_batches", "setup", "torchrun_command"]
