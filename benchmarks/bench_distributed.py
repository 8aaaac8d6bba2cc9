"""Data-parallel training: rows/s for 1 vs 2 processes (torchrun + DDP, gloo on CPU).

Each configuration is a real ``mlplab train`` command on the same 1M x 32 set (800k training
rows), batch 1024, a 32-64-64-1 MLP, 2 epochs. Throughput is training rows per second of the
training loop itself (``metrics.json`` -> ``training.seconds``: data generation, start-up and
metrics excluded); the wall column includes everything. On a 2-core machine no speed-up is
expected: the point is that the distributed path is correct (see tests/test_distributed.py)
and what its overhead costs.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks._timing import md_table

EPOCHS = 2


def _config(n: int) -> dict[str, object]:
    return {"name": "bench-ddp", "data": {"source": "blobs", "n_samples": n, "n_features": 32,
                                          "n_classes": 2, "noise": 3.0},
            "model": {"hidden": [64, 64]}, "optim": {"name": "adam", "lr": 0.001},
            "train": {"epochs": EPOCHS, "batch_size": 1024, "eval_every": EPOCHS},
            "log": {"quiet": True, "plots": False}}


def _once(n: int, nproc: int, threads: int, tmp: Path, k: int) -> tuple[float, float]:
    """(training rows/s, wall seconds) of one run."""
    cfg = tmp / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(_config(n)))
    out = tmp / f"run-{nproc}-{threads}-{k}"
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MASTER_ADDR": "127.0.0.1"}
    args = ["train", "-c", str(cfg), "-o", str(out), "-q", "--num-threads", str(threads)]
    cmd = [sys.executable, "-m", "mlplab", *args]
    if nproc > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={nproc}", "-m", "mlplab", *args]
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - t
    info = json.loads((out / "metrics.json").read_text())["training"]
    return info["n_train"] * EPOCHS / info["seconds"], wall


def run(quick: bool) -> str:
    n = 200_000 if quick else 1_000_000
    repeats = 1 if quick else 3
    setups = [(1, 1, "1 process"), (2, 1, "2 processes (torchrun, DDP)")]
    rows, base = [], None
    with tempfile.TemporaryDirectory(prefix="bench-ddp-") as tmp:
        for nproc, threads, label in setups:
            runs = [_once(n, nproc, threads, Path(tmp), k) for k in range(repeats)]
            rate = statistics.median(r[0] for r in runs)
            wall = statistics.median(r[1] for r in runs)
            base = base or rate
            rows.append([label, f"{rate / 1e3:.0f}k", f"{rate / base:.2f}x", f"{wall:.1f}"])
    table = md_table(["setup", "train rows/s", "vs 1 process", "wall s (median)"], rows)
    return (f"## Distributed data-parallel training (1 vs 2 processes)\n\n"
            f"`mlplab train` on blobs {n:,} x 32 ({int(n * 0.8):,} training rows), "
            f"32-64-64-1 MLP, Adam, batch 1024 (global), {EPOCHS} epochs, 1 torch thread per "
            f"process (torchrun's default); median of {repeats}. "
            "The 2-process run uses `torchrun --standalone --nproc_per_node=2` with gloo; its "
            "weights equal the 1-process run's (tests/test_distributed.py). On 2 cores no "
            "speed-up is expected: both processes share the cores the single process already "
            "uses, and every step adds a gradient all-reduce.\n\n" + table + "\n")
