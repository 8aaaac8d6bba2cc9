"""Inference: `predict_proba` on 1,000,000 rows, mlplab Run vs scikit-learn MLPClassifier and
ONNX Runtime, at one thread each and at each library's default thread count."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks._timing import md_table


def interleaved(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median seconds of each function, timed in rounds (one call of each per round) so a
    change of machine load hits every variant alike."""
    for f in fns.values():
        f()  # warm-up
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def run(quick: bool) -> str:
    import torch
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    import mlplab

    n = 200_000 if quick else 1_000_000
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 32)).astype(np.float32)
    y = (X[:, :4].sum(1) > 0).astype(int)
    Xs, ys = X[:4000], y[:4000]
    frame = pd.DataFrame(Xs, columns=[f"x{i}" for i in range(32)]).assign(y=ys)
    run_ = mlplab.train({"data": {"target": "y"}, "model": {"hidden": [64, 64]},
                         "train": {"epochs": 50}, "log": {"quiet": True}}, data=frame,
                        save=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = MLPClassifier(hidden_layer_sizes=(64, 64), max_iter=20, random_state=0).fit(Xs, ys)
        pipe = make_pipeline(StandardScaler(), MLPClassifier(
            hidden_layer_sizes=(64, 64), max_iter=20, random_state=0)).fit(Xs, ys)
    default = torch.get_num_threads()
    feats = run_.features(X)  # (n, 32) float32 tensor, preprocessing done
    fast = run_.predictor()

    def torch_threads(k: int, fn: Callable[[], Any]) -> Callable[[], Any]:
        def call() -> Any:
            torch.set_num_threads(k)  # Run's workers follow the caller's torch thread count
            try:
                return fn()
            finally:
                torch.set_num_threads(default)
        return call

    def blas_threads(k: int | None, fn: Callable[[], Any]) -> Callable[[], Any]:
        def call() -> Any:
            if k is None:
                return fn()
            with threadpool_limits(k):  # numpy's BLAS (and OpenMP) for scikit-learn
                return fn()
        return call

    def forward_only() -> None:
        with torch.inference_mode():
            fast.predict(feats, raw=False, head=run_.task.proba)

    fns: dict[str, Callable[[], Any]] = {}
    for label, k in (("1", 1), ("default", None)):
        fns[f"sk {label}"] = blas_threads(k, lambda: sk.predict_proba(X))
        fns[f"pipe {label}"] = blas_threads(k, lambda: pipe.predict_proba(X))
        fns[f"ml {label}"] = torch_threads(k or default, lambda: run_.predict_proba(X))
        fns[f"fw {label}"] = torch_threads(k or default, forward_only)
        ort = _onnx_session(run_, k)
        if ort is not None:
            fns[f"ort {label}"] = ort(X)
            if k == 1:  # the graph alone, its float64 input made beforehand
                fns[f"ort64 {label}"] = ort(X.astype(np.float64))
    reps = 3 if quick else 5
    load0 = os.getloadavg()[0]
    t = interleaved(fns, reps)
    load1 = os.getloadavg()[0]
    agree = float((run_.predict(X[:10000]) == sk.predict(X[:10000])).mean())
    rows = []
    for label, threads in (("1", "1"), ("default", f"default ({default})")):
        base = t[f"sk {label}"]
        variants = [("scikit-learn MLPClassifier (64, 64)", "sk"),
                    ("scikit-learn StandardScaler + MLPClassifier", "pipe"),
                    ("mlplab `Run.predict_proba` (preprocessing included)", "ml"),
                    ("  its forward alone (preprocessed tensor, same blocks)", "fw"),
                    ("ONNX Runtime, exported model (float64 in, cast once, float32 inside)",
                     "ort"),
                    ("  the same, given a float64 array (conversion not timed)", "ort64")]
        for name, key in variants:
            if f"{key} {label}" in t:
                s = t[f"{key} {label}"]
                ratio = f"**{base / s:.2f}**" if key == "ml" else f"{base / s:.2f}"
                rows.append([name, threads, f"{s:.3f}", ratio])
    return (f"## Inference: `predict_proba` on {n:,} x 32 rows, 32-64-64 MLP\n\n"
            f"Median of {reps}, timed in interleaved rounds; float32 input array. Threads: "
            "scikit-learn's BLAS limited with `threadpoolctl` (default: unlimited), mlplab by "
            "`torch.set_num_threads` (its prediction runs that many threads over 4,096-row "
            "blocks, one intra-op thread each), ONNX Runtime by `intra_op_num_threads` "
            "(default: 0, its own choice; spin-waiting off). "
            f"Load average {load0:.1f} before, {load1:.1f} after (absolute times are "
            "inflated by other processes; ratios are side by side). "
            f"Label agreement of the two models on 10,000 rows: {agree:.3f}. "
            "`Run.predict_proba` folds the standard scaling into the first layer at load and "
            "writes into one preallocated output; the ONNX export of this all-numeric run "
            "does the same in its graph (its input stays float64, cast once to float32). "
            "Goal: >= 2x vs scikit-learn.\n\n"
            + md_table(["variant", "threads", "seconds", "speed-up vs MLPClassifier "
                        "(same threads)"], rows))


def _onnx_session(run_: Any, threads: int | None
                  ) -> Callable[[np.ndarray], Callable[[], Any]] | None:
    """A function of the rows timing ONNX Runtime on the run's export, or None without it."""
    try:
        import onnxruntime as ort

        from mlplab.export.api import export
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model.onnx"
        export(run_, "onnx", out)
        opts = ort.SessionOptions()
        # no spin-waiting after a run: it would steal the core from the next timed variant
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads is not None:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(str(out), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    wants = np.float64 if sess.get_inputs()[0].type == "tensor(double)" else np.float32
    # the graph takes raw rows in its own dtype: the conversion is part of its cost
    return lambda X: lambda: sess.run(None, {name: X.astype(wants, copy=False)})
