"""Run directories: save -> load -> predict is identical; bad files are refused safely."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from tests.conftest import fast_cfg

import mlplab
from mlplab.errors import RunError


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    out = tmp_path_factory.mktemp("r") / "run"
    run = mlplab.train(fast_cfg(data={"source": "moons", "n_samples": 200}), out=out)
    return run, out


def test_layout_matches_the_contract(saved):
    run, out = saved
    names = {p.name for p in out.iterdir()}
    assert {"config.yaml", "model.safetensors", "model.json", "metrics.json",
            "history.csv"} <= names
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"train", "test"} <= set(metrics)
    assert {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "loss"} <= \
        set(metrics["test"])
    info = json.loads((out / "model.json").read_text())
    assert info["classes"] == [0, 1] and info["features"] == ["x1", "x2"]
    assert info["versions"]["torch"] == torch.__version__
    hist = pd.read_csv(out / "history.csv")
    assert list(hist["epoch"]) == [10, 20, 30]


def test_save_load_predict_is_identical(saved):
    run, out = saved
    loaded = mlplab.load(out)
    X = np.random.default_rng(0).normal(size=(50, 2))
    np.testing.assert_array_equal(run.predict_proba(X), loaded.predict_proba(X))
    np.testing.assert_array_equal(run.predict(X), loaded.predict(X))
    assert loaded.metrics["test"] == run.metrics["test"]
    assert loaded.config == run.config


def test_reloaded_model_differs_from_an_untrained_one(saved):
    run, out = saved
    fresh = mlplab.train(fast_cfg(data={"source": "moons", "n_samples": 200},
                                  train={"epochs": 1}), save=False)
    X = np.random.default_rng(0).normal(size=(50, 2))
    assert not np.allclose(fresh.predict_proba(X), mlplab.load(out).predict_proba(X))


def test_a_pickle_is_never_unpickled(saved, tmp_path):
    run, out = saved
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in ("config.yaml", "model.json"):
        (bad / f).write_bytes((out / f).read_bytes())

    class Boom:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    (bad / "model.safetensors").write_bytes(pickle.dumps({"w": Boom()}))
    with pytest.raises(RunError, match="pickle"):
        mlplab.load(bad)
    assert not (tmp_path / "pwned").exists()
    torch.save(run.model.state_dict(), bad / "model.safetensors")  # torch's zip-pickle format
    with pytest.raises(RunError, match="pickle"):
        mlplab.load(bad)


def test_truncated_weights_are_refused(saved, tmp_path):
    run, out = saved
    bad = tmp_path / "trunc"
    bad.mkdir()
    for f in ("config.yaml", "model.json"):
        (bad / f).write_bytes((out / f).read_bytes())
    data = (out / "model.safetensors").read_bytes()
    (bad / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(RunError, match="not a valid safetensors file"):
        mlplab.load(bad)


def test_not_a_run_directory(tmp_path):
    with pytest.raises(RunError, match="not a valid mlplab run"):
        mlplab.load(tmp_path)
    with pytest.raises(RunError, match="not found"):
        mlplab.load(tmp_path / "nope")


def test_existing_output_is_not_overwritten(saved):
    run, out = saved
    before = (out / "model.safetensors").read_bytes()
    with pytest.raises(RunError, match="exists and is not empty"):
        mlplab.train(fast_cfg(), out=out)
    assert (out / "model.safetensors").read_bytes() == before


def test_custom_module_round_trip(tmp_path):
    from torch import nn

    net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    run = mlplab.train(fast_cfg(), model=net, out=tmp_path / "custom")
    with pytest.raises(RunError, match="custom module"):
        mlplab.load(tmp_path / "custom")
    twin = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    loaded = mlplab.load(tmp_path / "custom", model=twin)
    X = np.zeros((3, 2))
    np.testing.assert_allclose(loaded.predict_proba(X), run.predict_proba(X))


def test_array_fast_path_equals_the_dataframe_path(saved):
    """Numeric arrays skip pandas; the result must be the same as through a DataFrame."""
    run, out = saved
    X = np.random.default_rng(1).normal(size=(300, 2))
    frame = pd.DataFrame(X, columns=run.feature_names)
    np.testing.assert_allclose(run.predict_proba(X), run.predict_proba(frame), rtol=1e-6)
    np.testing.assert_allclose(run.preprocessor.transform_array(X),
                               run.preprocessor.transform(frame), rtol=1e-6, atol=1e-6)
    X[3, 1] = np.inf
    with pytest.raises(mlplab.DataError, match="non-finite value in column 'x2'"):
        run.predict_proba(X)
    X[3, 1] = np.nan
    with pytest.raises(mlplab.DataError, match="missing values in column 'x2'"):
        run.predict_proba(X)


def test_one_sync_saves_loadable_runs_and_a_failure_leaves_nothing(saved, tmp_path):
    """Sweeps save their members under one flush (runs.store.one_sync): the directories load
    and predict as an fsync-per-file save does; a failure inside renames nothing and leaves no
    temporary file."""
    from mlplab.runs.store import one_sync

    run, _ = saved
    with one_sync():
        run.save(tmp_path / "a")
        assert not (tmp_path / "a" / "model.json").exists()  # renamed only after the flush
    X = np.random.default_rng(0).normal(size=(16, 2))
    np.testing.assert_array_equal(mlplab.load(tmp_path / "a").predict_proba(X),
                                  run.predict_proba(X))
    with pytest.raises(RuntimeError, match="boom"), one_sync():
        run.save(tmp_path / "b")
        raise RuntimeError("boom")
    assert list((tmp_path / "b").iterdir()) == []
