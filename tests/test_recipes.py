"""Every shipped recipe reaches the result its description promises."""

from __future__ import annotations

import pytest

import mlplab
from mlplab.config import RunConfig
from mlplab.recipes import load_recipe, recipe_names


def _train(name: str) -> mlplab.Run:
    cfg = load_recipe(name)
    cfg.setdefault("log", {}).update(quiet=True, plots=False)
    return mlplab.train(cfg, save=False, progress=False)


def test_every_recipe_is_a_valid_config_with_a_description():
    assert len(recipe_names()) >= 9
    for name in recipe_names():
        cfg = RunConfig.from_dict(load_recipe(name))
        assert cfg.name == name and cfg.description


def _acc(run: mlplab.Run, split: str) -> float:
    return float(run.metrics[split]["accuracy"])


def test_disk_mlp_fits_the_disk():
    assert _acc(_train("disk-mlp"), "train") >= 0.99


def test_circles_linear_fails_and_relu_succeeds():
    """The lesson: without activations the model is linear and cannot separate rings."""
    linear, relu = _train("circles-linear"), _train("circles-relu")
    assert 0.4 <= _acc(linear, "test") <= 0.6
    assert _acc(relu, "test") >= 0.95


def test_simple_net_and_moons():
    assert _acc(_train("simple-net"), "test") >= 0.95
    assert _acc(_train("moons-logistic"), "test") >= 0.83
    assert _acc(_train("moons-mlp"), "test") >= 0.95


def test_blobs_4class():
    run = _train("blobs-4class")
    assert run.task.name == "multiclass" and run.task.n_outputs == 4
    assert _acc(run, "test") >= 0.99


def test_gaussians_softmax_two_way_head():
    run = _train("gaussians-softmax")
    assert run.task.loss == "cross_entropy" and run.task.n_outputs == 2
    assert _acc(run, "train") == 1.0


def test_linear_regression_recovers_slope_and_intercept():
    run = _train("linear-regression")
    (w,), b = run.model.linears()[0].weight.detach()[0], run.model.linears()[0].bias.detach()
    assert w.item() == pytest.approx(3.0, abs=0.15)
    assert b.item() == pytest.approx(2.0, abs=0.1)
