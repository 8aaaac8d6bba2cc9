"""Data-parallel training under torchrun: 2 CPU processes with gloo on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

import mlplab
from mlplab.training.runners.ddp import DistContext, global_batch_sizes, local_batches

CFG = {"name": "ddp", "data": {"source": "moons", "n_samples": 400, "noise": 0.2},
       "model": {"hidden": [8, 8]}, "optim": {"name": "adam", "lr": 0.02},
       # 320 rows: last batch 32
       "train": {"epochs": 12, "batch_size": 48, "eval_every": 4, "early_stopping": "off"},
       "log": {"quiet": True, "plots": False}}


def _torchrun(args: list[str], cwd: Path, extra_env: dict[str, str] | None = None,
              ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "GLOO_SOCKET_IFNAME": "lo",
           "OMP_NUM_THREADS": "1", **(extra_env or {})}
    # --standalone: a rendezvous on a port the OS picks (as `mlplab train --nproc` runs it)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


def test_local_batches_partition_each_global_batch() -> None:
    """Every rank's part of global batch b is exactly the rows of b it owns (no row lost)."""
    g = torch.Generator().manual_seed(3)
    n, bs, world = 103, 10, 3
    perm = torch.randperm(n, generator=g)
    parts = [local_batches(perm, bs, r, world) for r in range(world)]
    assert {len(p) for p in parts} == {11}  # same number of steps on every rank
    for b, size in enumerate(global_batch_sizes(n, bs)):
        rows = sorted(int(i) * world + r for r in range(world) for i in parts[r][b])
        assert rows == sorted(perm[b * bs:b * bs + size].tolist())


def test_single_process_context_is_a_no_op() -> None:
    ctx = DistContext()
    data = mlplab.prepare(mlplab.RunConfig.from_any(CFG)).tensors()
    assert ctx.shard(data) is data and ctx.runner() is None and ctx.callbacks() == []


def test_two_processes_match_one(tmp_path: Path) -> None:
    """DDP on 2 ranks (uneven last batch) ends with the single-process weights and metrics."""
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(CFG))
    res = _torchrun(["-m", "mlplab", "train", "-c", "cfg.yaml", "-o", "ddp"], tmp_path)
    assert res.returncode == 0, res.stderr[:4000]
    assert res.stdout.count("run saved to") == 1  # rank 0 only
    single = mlplab.train(CFG, save=False)
    ddp = mlplab.load(tmp_path / "ddp")
    got = load_file(str(tmp_path / "ddp" / "model.safetensors"))
    for k, v in single.model.state_dict().items():
        torch.testing.assert_close(got[k], v, atol=2e-5, rtol=1e-4)
    assert ddp.info["batch_size"] == 48 and ddp.info["n_train"] == 320
    for a, b in zip(single.history, ddp.history, strict=True):  # all-reduced sums and counts
        assert a["epoch"] == b["epoch"]
        assert a["train_loss"] == pytest.approx(b["train_loss"], abs=1e-5)
        assert a["train_accuracy"] == pytest.approx(b["train_accuracy"], abs=1e-6)
        assert a["test_accuracy"] == pytest.approx(b["test_accuracy"], abs=1e-6)


def test_a_hanging_rank_fails_the_job_with_a_clear_message(tmp_path: Path) -> None:
    """Regression guard: a rank stuck outside the collectives must not hang the others."""
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(f"""
        import os, time
        import mlplab
        from mlplab.training.callbacks import Callback

        class Stall(Callback):
            every = 1
            def on_epoch(self, state):
                if state.epoch == 2 and os.environ["RANK"] == "1":
                    time.sleep(600)  # rank 1 hangs; rank 0 waits in all-reduce

        mlplab.train({CFG!r}, save=False, callbacks=[Stall()])
    """))
    res = _torchrun([str(script)], tmp_path, {"MLPLAB_DIST_TIMEOUT": "5"})
    assert res.returncode != 0
    assert "distributed training failed on rank 0 of 2" in res.stderr, res.stderr[-3000:]


ES_CFG = {"name": "ddp-es", "data": {"source": "moons", "n_samples": 400, "noise": 0.3,
                                     "val_size": 0.2},
          "model": {"hidden": [16, 16]}, "optim": {"name": "adam", "lr": 0.03},
          "train": {"epochs": 200, "batch_size": 48, "eval_every": 2, "early_stopping": 3},
          "log": {"quiet": True, "plots": False, "checkpoint_every": 2}}


def test_early_stopping_resumes_exactly_under_torchrun(tmp_path: Path) -> None:
    """Issue 11 ("Resume stays exact", under torchrun too): every rank dies right after a
    checkpoint later than the best epoch; resumed with torchrun, the run stops at the same
    epoch with the same best epoch and bitwise the weights of the uninterrupted 2-rank run."""
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(ES_CFG))
    res = _torchrun(["-m", "mlplab", "train", "-c", "cfg.yaml", "-o", "full", "-q"], tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    full = mlplab.load(tmp_path / "full")
    best, stop = full.info["best_epoch"], full.info["epochs_run"]
    kill_at = best + 2
    assert kill_at < stop, full.info["summary"]
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(f"""
        import os, time
        import mlplab
        from mlplab.training.checkpoint import Checkpointer

        write = Checkpointer._write
        def write_then_die(self, state):
            write(self, state)
            if state.epoch == {kill_at}:
                if os.environ["RANK"] != "0":
                    time.sleep(2)  # let rank 0 finish its checkpoint
                os._exit(9)
        Checkpointer._write = write_then_die
        mlplab.train({ES_CFG!r}, out="part")
    """))
    res = _torchrun([str(script)], tmp_path)
    assert res.returncode != 0
    from mlplab.training.checkpoint import load_latest

    ck = load_latest(tmp_path / "part")
    assert best < ck.epoch < stop and ck.best() is not None
    res = _torchrun(["-m", "mlplab", "train", "--resume", "part", "-q"], tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    part = mlplab.load(tmp_path / "part")
    assert (part.info["epochs_run"], part.info["best_epoch"]) == (stop, best)
    got = load_file(str(tmp_path / "part" / "model.safetensors"))
    for k, v in load_file(str(tmp_path / "full" / "model.safetensors")).items():
        assert torch.equal(got[k], v), k
