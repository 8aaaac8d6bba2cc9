"""Streaming a Parquet file larger than the training budget: peak RSS and rows/s."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._timing import md_table

# The issue asks for 50,000,000 rows (3.2 GB raw). Writing and reading that twice (statistics
# pass + one epoch) takes several minutes on 2 cores, more than this section's share of the
# 15-minute suite, so the default is 10,000,000 rows (640 MB raw); set MLPLAB_BENCH_STREAM_ROWS
# to run the full size.
ROWS = int(os.environ.get("MLPLAB_BENCH_STREAM_ROWS", 10_000_000))
D, GROUP = 16, 1_000_000

_CHILD = """
import json, resource, sys, time, torch
import mlplab
cfg = json.loads(sys.argv[1])
cfg["data"]["stream"] = True
t = time.perf_counter()
run = mlplab.train(cfg, save=False)
print(json.dumps({"rows_per_second": run.info["rows_per_second"], "total": time.perf_counter() - t,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "acc": run.metrics["test"]["accuracy"]}))
"""

_MEMORY = """
import json, resource, sys, time, torch
from mlplab.config import RunConfig
from mlplab.models import ModelSpec, build_model
from mlplab.tasks import resolve_task
from mlplab.training.loop import DataTensors, eager_runner, fit
n = int(sys.argv[1])
g = torch.Generator().manual_seed(0)
X = torch.randn(n, 16, generator=g)
y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).float()[:, None]
cfg = RunConfig.from_dict({"train": {"epochs": 1, "batch_size": 1024}})
task = resolve_task("binary", n_classes=2, n_targets=1, loss="auto", output="logits")
state = fit(build_model(ModelSpec(16, [32, 32], ["relu", "relu"], 1), seed=0), task,
            DataTensors({"train": X[:4096]}, {"train": y[:4096]}), cfg)
state.data = DataTensors({"train": X[:200_000]}, {"train": y[:200_000]})
eager_runner(state, 1)  # warm-up: the first epoch of a fresh process runs slow
state.data = DataTensors({"train": X}, {"train": y})
t = time.perf_counter()
eager_runner(state, 1)
print(json.dumps({"rows_per_second": n / (time.perf_counter() - t)}))
"""


def _write(path: Path, rows: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    names = [f"x{i}" for i in range(D)]
    schema = pa.schema([(n, pa.float32()) for n in names] + [("label", pa.int8())])
    with pq.ParquetWriter(path, schema, compression="none") as w:
        for s in range(0, rows, GROUP):
            m = min(GROUP, rows - s)
            X = rng.standard_normal((m, D), dtype=np.float32)
            y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(np.int8)
            cols = [pa.array(X[:, j]) for j in range(D)] + [pa.array(y)]
            w.write_table(pa.Table.from_arrays(cols, schema=schema))


def _child(code: str, *args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True,
                         text=True, timeout=1800)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run(quick: bool) -> str:
    rows = 1_000_000 if quick else ROWS
    tmp = Path(tempfile.mkdtemp(prefix="mlplab-bench-stream-"))
    try:
        path = tmp / "big.parquet"
        t = time.perf_counter()
        _write(path, rows)
        t_write = time.perf_counter() - t
        size_mb = path.stat().st_size / 2**20
        cfg = {"data": {"source": str(path), "target": "label", "stream": True,
                        "test_size": 0.01, "chunk_rows": 262_144, "shuffle_buffer": 1_048_576},
               "model": {"hidden": [32, 32]}, "optim": {"name": "sgd", "lr": 0.05},
               "train": {"epochs": 1, "batch_size": 1024}, "log": {"quiet": True}}
        st = _child(_CHILD, json.dumps(cfg))
        mem = _child(_MEMORY, str(min(rows, 2_000_000)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ratio = st["rows_per_second"] / mem["rows_per_second"]
    table = md_table(
        ["variant", "rows/s", "peak RSS (MB)", "fraction of in-memory rows/s"],
        [["in memory (2M rows as tensors, randperm slices)", f"{mem['rows_per_second']:,.0f}",
          "-", "1.00"],
         [f"streamed from Parquet ({rows:,} rows, {size_mb:,.0f} MB file)",
          f"{st['rows_per_second']:,.0f}", f"**{st['rss_mb']:,.0f}**", f"**{ratio:.2f}**"]])
    return (f"## Streaming: one epoch over a {rows:,} x {D} float32 Parquet file\n\n"
            f"16-32-32-1 MLP, SGD, batch 1024, chunks of 262,144 rows, shuffle buffer of "
            f"1,048,576 rows; each variant in a fresh process (peak RSS = the whole process: "
            f"Python, torch, the statistics pass and the epoch). Test accuracy "
            f"{st['acc']:.3f}; total streamed run {st['total']:.0f} s, file written in "
            f"{t_write:.0f} s (deleted after). Goals: peak RSS < 1,500 MB, rows/s within 25% "
            "of in-memory (fraction >= 0.75). "
            + ("" if rows >= 50_000_000 else
               "Scaled down from the issue's 50,000,000 rows to fit the 15-minute suite; "
               "memory is bounded by chunk + buffer, not by file size "
               "(MLPLAB_BENCH_STREAM_ROWS=50000000 runs the full size).") + "\n\n" + table)
