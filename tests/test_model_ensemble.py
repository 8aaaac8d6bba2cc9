"""model.ensemble (issue 27): K members trained as one stack, each on its own validation rows,
merged into one MLP that averages them. References: the members' own outputs averaged by
hand, the solo run (member 0 is it), the run's own split, and plain PyTorch (the exported
train.py, which trains every member with autograd and torch.optim)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

import mlplab
from mlplab import ensemble
from mlplab.config import RunConfig
from mlplab.errors import ConfigError
from mlplab.export.api import export
from mlplab.models import ModelSpec, build_model
from mlplab.pipeline import prepare
from mlplab.resolve import AUTO_ENSEMBLE

QUIET = {"log": {"quiet": True, "plots": False}}


@pytest.mark.parametrize("hidden", [[], [5], [6, 4]])
def test_the_merged_model_is_the_mean_of_its_members(hidden):
    members = [build_model(ModelSpec(3, hidden, ["tanh"] * len(hidden), 2), seed=s)
               for s in range(4)]
    wide = ensemble.merge(members)
    assert wide.spec.hidden == [4 * h for h in hidden]
    x = torch.randn(50, 3)
    with torch.no_grad():
        want = torch.stack([m(x) for m in members]).mean(0)
        torch.testing.assert_close(wide(x), want, rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def cancer():
    cfg = RunConfig.from_dict({"data": {"source": "breast_cancer"}, "seed": 5, **QUIET})
    return cfg, mlplab.train(cfg, save=False), \
        mlplab.train({**cfg.to_dict(), "model": {"ensemble": 1}}, save=False)


def test_auto_is_an_ensemble_on_a_full_batch_and_member_0_is_the_solo_run(cancer):
    _, run, solo = cancer
    assert run.config.model.ensemble == AUTO_ENSEMBLE > 1 and solo.config.model.ensemble == 1
    assert run.model.spec.hidden == [100 * AUTO_ENSEMBLE] and solo.model.spec.hidden == [100]
    first = run.info["members"][0]
    assert (first["epochs_run"], first["best_epoch"]) == \
        (solo.info["epochs_run"], solo.info["best_epoch"])
    # merge puts member 0's units first; the stack and the solo runner agree to rounding
    lin, ref = run.model.linears()[0], solo.model.linears()[0]
    torch.testing.assert_close(lin.weight[:100], ref.weight, atol=1e-4, rtol=1e-3)
    assert [m["seed"] for m in run.info["members"]] == [5 + k for k in range(AUTO_ENSEMBLE)]
    assert run.info["n_train"] == solo.info["n_train"] and run.info["n_test"] == solo.info["n_test"]


def test_members_draw_their_own_validation_rows_and_keep_the_runs_test_rows():
    p = prepare(RunConfig.from_dict({"data": {"source": "breast_cancer"}, **QUIET}))
    pool = np.concatenate([p.X["train"], p.X["val"]])
    rows = {tuple(r) for r in pool}
    vals = []
    for k in range(3):
        m = ensemble.member_prepared(p, k)
        assert np.array_equal(m.X["test"], p.X["test"]) and np.array_equal(m.y["test"], p.y["test"])
        assert len(m.y["val"]) == len(p.y["val"]) and len(m.y["train"]) == len(p.y["train"])
        assert {tuple(r) for r in np.concatenate([m.X["train"], m.X["val"]])} == rows
        share = np.mean(m.y["val"]) - np.mean(p.y["train"])  # stratified: the same class mix
        assert abs(share) < 2.0 / len(m.y["val"])
        vals.append({tuple(r) for r in m.X["val"]})
    assert vals[0] != vals[1] != vals[2]
    assert ensemble.member_prepared(p, 0) is p


@pytest.mark.parametrize(("cfg", "why"), [
    ({"data": {"source": "moons", "n_samples": 6000}}, "mini-batches"),
    ({"data": {"source": "moons"}, "train": {"early_stopping": "off"}}, "no validation split"),
    ({"data": {"source": "moons"}, "schedule": {"name": "cosine"}}, "a schedule the stack lacks"),
])
def test_auto_is_one_model_where_an_ensemble_does_not_fit(cfg, why):
    run = mlplab.train({**cfg, "train": {"epochs": 20, **cfg.get("train", {})}, **QUIET},
                       save=False)
    assert run.config.model.ensemble == 1, why
    assert "members" not in run.info


def test_auto_is_one_model_for_a_learners_module_sample_weights_and_callbacks():
    X = np.random.default_rng(0).normal(size=(400, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    cfg = {"train": {"epochs": 20}, "data": {"scale": "none"}, **QUIET}
    own = mlplab.train(cfg, data=(X, y), model=nn.Sequential(nn.Linear(3, 1)), save=False)
    weighted = mlplab.train(cfg, data=(X, y), sample_weight=np.ones(288), save=False)
    assert own.config.model.ensemble == 1 and weighted.config.model.ensemble == 1
    assert prepare(RunConfig.from_dict({"data": {"source": "moons"}})).cfg.model.ensemble == 1


def test_an_explicit_ensemble_it_cannot_train_is_refused_in_one_line():
    X = np.random.default_rng(0).normal(size=(200, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    cfg = {"model": {"ensemble": 3}, **QUIET}
    with pytest.raises(ConfigError, match="cannot train with a module of your own"):
        mlplab.train(cfg, data=(X, y), model=nn.Linear(3, 1), save=False)
    with pytest.raises(ConfigError, match="cannot train with sample weights"):
        mlplab.train(cfg, data=(X, y), sample_weight=np.ones(144), save=False)
    with pytest.raises(ConfigError, match=r"does not support model\.batchnorm"):
        mlplab.train({**cfg, "model": {"ensemble": 3, "batchnorm": True}}, data=(X, y),
                     save=False)
    with pytest.raises(ConfigError, match=r"model\.ensemble is not a scikit-learn"):
        mlplab.MLPClassifier(config={"model.ensemble": 3}).fit(X, y)


def test_a_saved_ensemble_loads_predicts_and_retrains_to_the_same_weights(cancer, tmp_path):
    cfg, run, _ = cancer
    run.save(tmp_path / "r")
    back = mlplab.load(tmp_path / "r")
    X = prepare(cfg).table.X
    np.testing.assert_array_equal(back.predict_proba(X), run.predict_proba(X))
    again = mlplab.train(RunConfig.from_any(tmp_path / "r" / "config.yaml"), save=False)
    for a, b in zip(again.model.parameters(), run.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_the_exported_train_py_trains_every_member_in_plain_pytorch(tmp_path):
    run = mlplab.train({"data": {"source": "wine"}, "seed": 2, **QUIET}, out=tmp_path / "r")
    assert run.config.model.ensemble == AUTO_ENSEMBLE
    export(run, "train-script", tmp_path / "train.py")
    out = subprocess.run([sys.executable, "train.py"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    final = json.loads(out.stdout.strip().splitlines()[-1])
    assert final["test_accuracy"] == run.metrics["test"]["accuracy"]
    assert final["test_loss"] == pytest.approx(run.metrics["test"]["loss"], rel=1e-3)
    assert "the reloaded model gives the same outputs: True" in out.stdout
