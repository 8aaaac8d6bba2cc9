"""Streaming files in chunks: one-pass statistics, the shuffle buffer, training on a stream
(through the same ``fit`` and step as in-memory data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlplab.config import DataConfig
from mlplab.data.stream import (
    holdout_mask,
    iter_chunks,
    scan,
    should_stream,
    shuffled_batches,
)
from mlplab.errors import DataError


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(loc=[1.0, -2.0, 0.0], scale=[1.0, 3.0, 0.5], size=(5000, 3))
    y = np.where(X[:, 0] - X[:, 1] / 3 > 1.5, "yes", "no")
    df = pd.DataFrame(X.astype(np.float32), columns=["a", "b", "c"]).assign(label=y)
    pq, csv = tmp_path / "d.parquet", tmp_path / "d.csv"
    df.to_parquet(pq, row_group_size=1000)
    df.to_csv(csv, index=False)
    return df, pq, csv


@pytest.mark.parametrize("which", ["parquet", "csv"])
def test_scan_equals_in_memory_statistics(files, which):
    """Chunked mean/std (Chan's merge) and classes equal numpy's on the same train rows."""
    df, pq, csv = files
    cfg = DataConfig(source=str(pq if which == "parquet" else csv), target="label",
                     test_size=0.25, chunk_rows=1000)
    s = scan(cfg, seed=3)
    train = ~holdout_mask(0, len(df), 0.25, 3)
    assert s.n_rows == 5000 and s.n_train == int(train.sum())
    assert 0.2 < 1 - s.n_train / 5000 < 0.3
    ref = df[["a", "b", "c"]].to_numpy(np.float64)[train]
    np.testing.assert_allclose([s.center[c] for c in "abc"], ref.mean(0), rtol=1e-6)
    np.testing.assert_allclose([s.spread[c] for c in "abc"], ref.std(0), rtol=1e-6)
    assert s.classes == ["no", "yes"]
    chunks = list(iter_chunks(cfg))
    assert sum(len(X) for X, _ in chunks) == 5000 and all(X.dtype == np.float32
                                                          for X, _ in chunks)


def test_shuffle_buffer_emits_every_row_once_and_mixes():
    chunks = ((np.arange(s, s + 100, dtype=np.float32)[:, None], np.arange(s, s + 100))
              for s in range(0, 1000, 100))
    batches = list(shuffled_batches(chunks, 32, 300, np.random.default_rng(0)))
    ys = np.concatenate([b[1] for b in batches])
    assert sorted(ys.tolist()) == list(range(1000))
    assert all(len(b[1]) == 32 for b in batches[:-1])
    assert not np.array_equal(ys, np.arange(1000))
    first = batches[0][1]
    assert first.max() - first.min() > 100  # mixed across chunks, not within one


def test_train_stream_learns_and_saves(files, tmp_path):
    """A streamed run is a normal run: it learns, saves, reloads and predicts raw rows."""
    import mlplab

    df, pq, _ = files
    run = mlplab.train({"data": {"source": str(pq), "target": "label", "chunk_rows": 1000,
                                 "shuffle_buffer": 2000, "stream": True},
                        "model": {"hidden": [8]}, "optim": {"lr": 0.02},
                        "train": {"epochs": 3, "batch_size": 128, "eval_every": 1},
                        "log": {"quiet": True}}, out=tmp_path / "run")
    assert run.info["runner"] == "stream" and run.metrics["test"]["accuracy"] > 0.95
    assert run.info["peak_rss_mb"] > 0 and len(run.history) == 3
    back = mlplab.load(tmp_path / "run")
    pred = back.predict(df[["a", "b", "c"]].head(200))
    assert (pred == df["label"].head(200).to_numpy()).mean() > 0.9


def test_should_stream_and_errors(files, tmp_path):
    df, pq, csv = files
    assert should_stream(DataConfig(source=str(pq), target="label", stream=True))
    assert not should_stream(DataConfig(source=str(pq), target="label"))  # small: auto = no
    assert not should_stream(DataConfig(source="circles", stream=True))
    bad = tmp_path / "bad.parquet"
    df.assign(a=df["label"]).to_parquet(bad)
    with pytest.raises(DataError, match="only numeric columns stream"):
        scan(DataConfig(source=str(bad), target="label"), seed=0)
    with pytest.raises(DataError, match="target column 'nope'"):
        scan(DataConfig(source=str(pq), target="nope"), seed=0)


def test_mlplab_train_streams_when_asked(files, tmp_path):
    """`mlplab.train` (and so `mlplab train --set data.stream=true`) takes the streaming path."""
    import mlplab

    df, pq, _ = files
    run = mlplab.train({"data": {"source": str(pq), "target": "label", "stream": True,
                                 "chunk_rows": 1000, "shuffle_buffer": 2000},
                        "model": {"hidden": [8]}, "train": {"epochs": 2, "batch_size": 128},
                        "log": {"quiet": True}}, out=tmp_path / "run")
    assert run.info["runner"] == "stream" and (tmp_path / "run" / "model.safetensors").is_file()


def _streamed_and_in_memory(pq, **changes):
    import mlplab

    cfg = {"data": {"source": str(pq), "target": "label", "chunk_rows": 1000,
                    "shuffle_buffer": 2000},
           "model": {"hidden": [8]}, "train": {"epochs": 5, "batch_size": 128},
           "log": {"quiet": True, "plots": False}}
    for key, value in changes.items():
        cfg[key] = {**cfg.get(key, {}), **value}
    streamed = mlplab.train({**cfg, "data": {**cfg["data"], "stream": True}}, save=False)
    in_memory = mlplab.train({**cfg, "data": {**cfg["data"], "stream": False}}, save=False)
    assert streamed.info["runner"] == "stream" and in_memory.info["runner"] == "fast"
    return streamed, in_memory


def test_streamed_l1_is_honoured(files):
    """Regression (issue 10): `--set data.stream=true --set optim.l1=1.0` ignored the L1
    penalty (0.867 streamed, 0.50 in memory). Both now drive every weight to ~0."""
    _, pq, _ = files
    streamed, in_memory = _streamed_and_in_memory(pq, optim={"l1": 1.0})
    for run in (streamed, in_memory):
        assert run.metrics["test"]["accuracy"] < 0.8
        first = run.model.linears()[0].weight
        assert float(first.detach().abs().max()) < 0.05


def test_streamed_early_stopping_stops(files):
    """Regression (issue 10): streamed early stopping trained all epochs. With patience 1 and
    an SGD step far too large to settle, the loss soon fails to improve: both runs stop."""
    _, pq, _ = files
    streamed, in_memory = _streamed_and_in_memory(
        pq, train={"epochs": 40, "early_stopping": 1, "eval_every": 1, "batch_size": 128},
        optim={"name": "sgd", "lr": 5.0})
    for run in (streamed, in_memory):
        assert run.info["epochs_run"] < 40
        assert run.info["stop_reason"].startswith("early stopping")
        assert run.info["best_epoch"] is not None


def test_streamed_run_refuses_sample_weights_and_checkpoints(files, tmp_path):
    """Options the stream runner cannot honour are refused before training."""
    import mlplab
    from mlplab.errors import ConfigError

    _, pq, _ = files
    with pytest.raises(ConfigError, match=r"stream runner does not support log\.checkpoint_every"):
        mlplab.train({"data": {"source": str(pq), "target": "label", "stream": True},
                      "train": {"epochs": 2}, "log": {"quiet": True, "checkpoint_every": 1}},
                     out=tmp_path / "r")
    assert not (tmp_path / "r" / "model.safetensors").exists()


def test_a_streamed_run_is_a_full_run(files, tmp_path, monkeypatch):
    """Issue 19 item 8: test metrics use every held-out row of the file (not the in-memory
    head), and the run writes its figures, diagnosis and report like any other."""
    from sklearn.metrics import accuracy_score, log_loss

    import mlplab
    import mlplab.pipeline

    monkeypatch.setattr(mlplab.pipeline, "EVAL_ROWS", 300)  # the head: far fewer test rows
    df, pq, _ = files
    run = mlplab.train({"data": {"source": str(pq), "target": "label", "chunk_rows": 1000,
                                 "stream": True, "test_size": 0.2},
                        "model": {"hidden": [4]}, "train": {"epochs": 1, "batch_size": 256},
                        "log": {"quiet": True}}, out=tmp_path / "run")
    held = np.concatenate([holdout_mask(s, 1000, 0.2, run.config.seed)
                           for s in range(0, len(df), 1000)])
    test = df[held]
    assert len(test) > 300 and run.info["metric_rows"] == {"train": 300, "test": len(test)}
    back = mlplab.load(tmp_path / "run")
    m = run.metrics["test"]
    assert m["accuracy"] == pytest.approx(accuracy_score(test["label"],
                                                         back.predict(test[["a", "b", "c"]])))
    proba = back.predict_proba(test[["a", "b", "c"]])
    assert m["loss"] == pytest.approx(log_loss(test["label"] == "yes", proba[:, 1]), rel=1e-4)
    for name in ("report.html", "diagnosis.json", "boundary.png"):
        assert (tmp_path / "run" / name).is_file(), name


def test_a_streamed_regression_standardises_its_target_as_in_memory(tmp_path):
    """Regression (issue 15 item 2, streamed): prices around 3e5 trained unscaled when the
    file was streamed; now the target is standardised from the scan and predictions come back
    in the target's units."""
    import mlplab

    rng = np.random.default_rng(0)
    X = rng.normal(size=(6000, 4))
    price = 3e5 + 4e4 * X[:, 0] - 2e4 * X[:, 1] + 1e3 * rng.normal(size=6000)
    pq = tmp_path / "price.parquet"
    pd.DataFrame(X, columns=list("abcd")).assign(price=price).to_parquet(pq,
                                                                         row_group_size=1000)
    run = mlplab.train({"data": {"source": str(pq), "target": "price", "stream": True,
                                 "chunk_rows": 1000, "shuffle_buffer": 2000},
                        "task": "regression", "model": {"hidden": [16]},
                        "train": {"epochs": 20, "batch_size": 128},
                        "log": {"quiet": True, "plots": False}}, save=False)
    assert run.info["runner"] == "stream"
    scaler = run.target_encoder.scaler
    assert scaler is not None
    assert scaler["mean"][0] == pytest.approx(price.mean(), rel=1e-3)
    assert scaler["scale"][0] == pytest.approx(price.std(), rel=0.05)
    assert run.metrics["test"]["r2"] > 0.95
    pred = run.predict(pd.DataFrame(X[:50], columns=list("abcd")))
    assert np.abs(pred - price[:50]).mean() < 1e4  # in dollars, not standard deviations
