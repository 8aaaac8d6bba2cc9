"""Inference: `predict_proba` on 1,000,000 rows, mlplab Run vs scikit-learn MLPClassifier."""

from __future__ import annotations

import warnings

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

    def forward_in(chunk: int) -> None:
        with torch.inference_mode():
            for i in range(0, n, chunk):
                run_.task.proba(run_.model(feats[i:i + chunk]))

    t_fw = median_time(lambda: forward_in(PREDICT_CHUNK), repeats=reps)
    t_fw4k = median_time(lambda: forward_in(4096), repeats=reps)
    agree = float((run_.predict(X[:10000]) == sk.predict(X[:10000])).mean())
    rows = [["scikit-learn MLPClassifier (64, 64)", f"{t_sk:.3f}", "1.00"],
            ["scikit-learn StandardScaler + MLPClassifier", f"{t_pipe:.3f}",
             f"{t_sk / t_pipe:.2f}"],
            ["mlplab `Run.predict_proba` (preprocessing included)", f"{t_ml:.3f}",
             f"**{t_sk / t_ml:.2f}**"],
            [f"  its forward pass alone ({PREDICT_CHUNK:,}-row chunks, as `Run` does now)",
             f"{t_fw:.3f}", f"{t_sk / t_fw:.2f}"],
            ["  the same forward pass in 4,096-row chunks (activations stay in cache)",
             f"{t_fw4k:.3f}", f"{t_sk / t_fw4k:.2f}"]]
    return (f"## Inference: `predict_proba` on {n:,} x 32 rows, 32-64-64 MLP\n\n"
            f"Median of {reps}; float32 input array. Label agreement of the two models on "
            f"10,000 rows: {agree:.3f}. Goal: >= 2x vs scikit-learn.\n\n"
            + md_table(["variant", "seconds", "speed-up vs MLPClassifier"], rows))
