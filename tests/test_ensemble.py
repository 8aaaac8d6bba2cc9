"""Each ensemble member equals its solo run (same config, same seed)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import mlplab
from mlplab.config import RunConfig
from mlplab.errors import ConfigError, MlplabWarning
from mlplab.training.runners.stacked import group_key, train_members, why_not_batched


def _cfg(**over) -> RunConfig:
    d = {"data": {"source": "moons", "n_samples": 120}, "model": {"hidden": [6, 5]},
         "optim": {"name": "sgd", "lr": 0.2}, "train": {"epochs": 40, "eval_every": 20},
         "log": {"quiet": True, "plots": False}}
    for k, v in over.items():
        d[k] = {**d.get(k, {}), **v} if isinstance(v, dict) else v
    return RunConfig.from_dict(d)


def _assert_member_equals_solo(cfgs, atol=5e-5):
    runs = train_members(cfgs)
    for c, r in zip(cfgs, runs, strict=True):
        solo = mlplab.train(c, save=False)
        for p, q in zip(solo.model.parameters(), r.model.parameters(), strict=True):
            torch.testing.assert_close(q, p, atol=atol, rtol=1e-4)
        assert r.info["runner"] == "ensemble"
        for a, b in zip(solo.history, r.history, strict=True):
            assert b["epoch"] == a["epoch"]
            assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-4, abs=1e-6)
            key = "test_r2" if "test_r2" in a else "test_accuracy"
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-6)
        assert r.metrics["test"]["loss"] == pytest.approx(solo.metrics["test"]["loss"], rel=1e-4)


def test_sgd_members_with_own_seed_lr_momentum_wd_l1_clip():
    """Per-member seed (data and init), lr, momentum, weight decay, L1 and clipping."""
    cfgs = [_cfg(seed=0), _cfg(seed=1, optim={"lr": 0.05, "momentum": 0.9}),
            _cfg(seed=2, optim={"weight_decay": 0.01, "l1": 1e-3}),
            _cfg(seed=0, optim={"lr": 0.5}, train={"clip_grad_norm": 0.1})]
    _assert_member_equals_solo(cfgs)


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_adam_members(name):
    cfgs = [_cfg(seed=s, optim={"name": name, "lr": lr, "weight_decay": wd})
            for s, lr, wd in [(0, 0.01, 0.0), (3, 0.03, 0.05)]]
    _assert_member_equals_solo(cfgs)


def test_rmsprop_members_with_own_lr_momentum_wd():
    """RMSprop inside a stack (square averages and momentum per member) equals solo runs."""
    cfgs = [_cfg(seed=s, optim={"name": "rmsprop", "lr": lr, "momentum": m, "weight_decay": wd})
            for s, lr, m, wd in [(0, 0.01, 0.0, 0.0), (1, 0.003, 0.9, 0.01)]]
    _assert_member_equals_solo(cfgs)


def test_minibatch_and_multiclass_members():
    """Mini-batch order per member follows the solo loop's generator; softmax head."""
    cfgs = [_cfg(seed=s, data={"source": "blobs", "n_samples": 90, "n_classes": 3},
                 model={"activation": "tanh"}, train={"batch_size": 16}) for s in (0, 5)]
    _assert_member_equals_solo(cfgs)


def test_regression_members():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MlplabWarning)
        cfgs = [_cfg(seed=s, data={"source": "linear", "n_samples": 80},
                     optim={"lr": 0.05}) for s in (0, 1)]
        _assert_member_equals_solo(cfgs)


def test_dropout_members_train_and_differ():
    """Dropout rate is per member (masks cannot match the solo RNG stream, so no equality)."""
    runs = train_members([_cfg(model={"dropout": 0.3}), _cfg()])
    w0, w1 = (r.model.net[0].weight.detach() for r in runs)
    assert not torch.allclose(w0, w1)
    assert np.isfinite(runs[0].history[-1]["train_loss"])


def test_grouping_and_refusals():
    """Shape changes split groups; per-member settings do not; unsupported configs refuse."""
    from mlplab.api import prepare

    a, b, c = _cfg(seed=0), _cfg(seed=1, optim={"lr": 0.9}), _cfg(model={"hidden": [3]})
    assert group_key(a, prepare(a)) == group_key(b, prepare(b)) != group_key(c, prepare(c))
    assert why_not_batched(_cfg(train={"device": "cuda"})) == "a device other than the CPU"
    with pytest.raises(ConfigError, match="more than per-member"):
        train_members([a, c])
    with pytest.raises(ConfigError, match=r"stacked runner does not support schedule\.cosine"):
        train_members([_cfg(schedule={"name": "cosine"})])


@pytest.mark.parametrize("data", [{"source": "moons", "n_samples": 120},
                                  {"source": "blobs", "n_samples": 90, "n_classes": 3},
                                  {"source": "linear", "n_samples": 80}])
def test_member_metrics_equal_scikit_learns_on_the_member_model(data):
    """The batched per-member metrics (one pass for K members) equal what the solo path's
    scikit-learn metrics give on each member's final model."""
    from mlplab.api import prepare
    from mlplab.pipeline import split_metrics

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MlplabWarning)
        cfgs = [_cfg(seed=s, data={**data, "val_size": 0.2}) for s in (0, 1, 2)]
        runs = train_members(cfgs)
        for c, r in zip(cfgs, runs, strict=True):
            p = prepare(c)
            ref = split_metrics(r.model, p.task, p, p.tensors("cpu"))
            assert set(r.metrics) - {"training"} == set(ref) == {"train", "val", "test"}
            for split, want in ref.items():
                got = r.metrics[split]
                assert got.keys() == want.keys()
                for key, v in want.items():
                    if isinstance(v, float):
                        assert got[key] == pytest.approx(v, rel=1e-5, abs=1e-6), (split, key)
                    else:
                        assert got[key] == v, (split, key)
