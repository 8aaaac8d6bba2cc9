"""Inference: `predict_proba` on 1,000,000 rows, mlplab Run vs scikit-learn MLPClassifier."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from benchmarks._timing import md_table, median_time


def run(quick: bool) -> str:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

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
    reps = 3 if quick else 5
    t_ml = median_time(lambda: run_.predict_proba(X), repeats=reps)
    t_sk = median_time(lambda: sk.predict_proba(X), repeats=reps)
    t_pipe = median_time(lambda: pipe.predict_proba(X), repeats=reps)
    import torch

    from mlplab.runs.run import PREDICT_CHUNK

    feats = run_.features(X)  # (n, 32) float32 tensor, preprocessing done

    def forward_only() -> None:
        with torch.inference_mode():
            for i in range(0, n, PREDICT_CHUNK):
                run_.task.proba(run_.model(feats[i:i + PREDICT_CHUNK]))

    def whole_array_path() -> None:  # the previous design: scale the whole array, then blocks
        with torch.inference_mode():
            run_._blocks(run_.features(X), run_.task.proba)

    t_fw = median_time(forward_only, repeats=reps)
    t_old = median_time(whole_array_path, repeats=reps)
    t_ort = _onnx_time(run_, X, reps)
    agree = float((run_.predict(X[:10000]) == sk.predict(X[:10000])).mean())
    rows = [["scikit-learn MLPClassifier (64, 64)", f"{t_sk:.3f}", "1.00"],
            ["scikit-learn StandardScaler + MLPClassifier", f"{t_pipe:.3f}",
             f"{t_sk / t_pipe:.2f}"],
            ["mlplab `Run.predict_proba` (preprocessing included)", f"{t_ml:.3f}",
             f"**{t_sk / t_ml:.2f}**"],
            ["  its forward pass alone (preprocessed tensor, 4,096-row blocks)", f"{t_fw:.3f}",
             f"{t_sk / t_fw:.2f}"],
            ["  scaling the whole array first, then the blocks (before this change)",
             f"{t_old:.3f}", f"{t_sk / t_old:.2f}"]]
    if t_ort is not None:
        rows.append(["ONNX Runtime, exported model (preprocessing in the graph, float64 in)",
                     f"{t_ort:.3f}", f"{t_sk / t_ort:.2f}"])
    return (f"## Inference: `predict_proba` on {n:,} x 32 rows, 32-64-64 MLP\n\n"
            f"Median of {reps}; float32 input array. Label agreement of the two models on "
            f"10,000 rows: {agree:.3f}. `Run.predict_proba` scales a float array block by "
            "block while the block is in cache (the same float32 operations as the whole-array "
            "transform, so the same bits). Goal: >= 2x vs scikit-learn.\n\n"
            + md_table(["variant", "seconds", "speed-up vs MLPClassifier"], rows))


def _onnx_time(run_: Any, X: np.ndarray, reps: int) -> float | None:
    """Median seconds of ONNX Runtime on the run's exported model, or None without it."""
    import tempfile
    from pathlib import Path

    try:
        import onnxruntime as ort

        from mlplab.export.api import export
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model.onnx"
        export(run_, "onnx", out)
        sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        wants = np.float64 if sess.get_inputs()[0].type == "tensor(double)" else np.float32
        # the graph takes raw rows in its own dtype: the conversion is part of its cost
        return median_time(lambda: sess.run(None, {name: X.astype(wants, copy=False)}),
                           repeats=reps)
