"""The diagnosis names the right problem on crafted runs, and stays quiet on a healthy one."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import mlplab
from mlplab.inspect.diagnosis import Evidence, diagnose, evidence_for, model_stats
from mlplab.models import ModelSpec, build_model
from mlplab.tasks import resolve_task


def _diagnose(cfg: dict) -> tuple[list[str], object]:
    cfg = {**cfg, "log": {"quiet": True, "plots": False}}
    cfg["train"] = {"fast": "off", **cfg.get("train", {})}  # the reference loop
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = mlplab.train(cfg, save=False)
    findings = diagnose(evidence_for(run, mlplab.prepare(run.config)))
    return [f.code for f in findings], findings


def test_too_high_learning_rate_is_named_with_a_lower_lr():
    codes, findings = _diagnose({"data": {"source": "moons", "n_samples": 300},
                                 "optim": {"name": "sgd", "lr": 30.0},
                                 "train": {"epochs": 100, "eval_every": 5}})
    assert codes[0] == "lr_too_high"
    assert "--lr 3" in findings[0].suggestion


def test_saturating_sigmoid_net_is_named():
    codes, findings = _diagnose({"data": {"source": "moons", "n_samples": 300, "scale": "none"},
                                 "model": {"hidden": [16, 16], "activation": "sigmoid"},
                                 "optim": {"lr": 1.0}, "train": {"epochs": 100}})
    assert "saturated_units" in codes
    sat = next(f for f in findings if f.code == "saturated_units")
    assert sat.level == "problem" and "sigmoid" in sat.detail


def test_overfitting_on_tiny_data_is_named():
    codes, findings = _diagnose({"data": {"source": "moons", "n_samples": 40, "noise": 0.35,
                                          "test_size": 0.4},
                                 "model": {"hidden": [128, 128]},
                                 "train": {"epochs": 400, "eval_every": 20}})
    assert "overfitting" in codes
    f = next(f for f in findings if f.code == "overfitting")
    assert "train" in f.detail and "weight-decay" in f.suggestion


def test_a_healthy_run_has_no_problem():
    codes, findings = _diagnose({"data": {"source": "gaussians", "n_samples": 200},
                                 "model": {"hidden": [8]}, "train": {"epochs": 100}})
    assert all(f.level in ("ok", "info") for f in findings), codes


def test_model_stats_see_saturation_and_dead_units():
    task = resolve_task("binary", n_classes=2, n_targets=1, loss="auto", output="logits")
    X = torch.randn(200, 2)
    y = (X[:, :1] > 0).float()
    sig = build_model(ModelSpec(2, [8], ["sigmoid"], 1), seed=0)
    with torch.no_grad():
        sig.linears()[0].weight.mul_(200.0)
    s = model_stats(sig, task, X, y)
    assert s["saturated"][0] > 0.9
    relu = build_model(ModelSpec(2, [4], ["relu"], 1), seed=0)
    with torch.no_grad():
        relu.linears()[0].bias[:2] = -100.0
    s = model_stats(relu, task, X, y)
    assert s["dead"] == [0.5]
    # independent reference for the gradient norms: autograd through .backward()
    relu.zero_grad()
    torch.nn.functional.binary_cross_entropy_with_logits(relu(X), y).backward()
    expected = [float(m.weight.grad.norm()) for m in relu.linears()]
    np.testing.assert_allclose(s["grad_norms"], expected, rtol=1e-5)
    assert relu.linears()[0].weight.grad is not None  # model_stats did not clear it


def test_class_imbalance_and_exploding_gradients():
    hist = [{"epoch": e, "train_loss": 0.3, "train_accuracy": 0.95, "test_accuracy": 0.94}
            for e in (10, 20, 30, 40)]
    codes = [f.code for f in diagnose(Evidence(hist, "binary", class_counts=[950, 50]))]
    assert codes == ["class_imbalance"]
    ev = Evidence(hist, "binary", stats=[{"grad_norms": [1.0, 1.0]}, {"grad_norms": [5e3, 1.0]}])
    assert diagnose(ev)[0].code == "exploding_gradients"


@pytest.mark.parametrize("losses", [[0.7, 0.5, 0.3, 0.2, 0.15, 0.1], [0.7, 0.69, 0.68, 0.6]])
def test_a_falling_loss_is_not_blamed_on_the_lr(losses):
    hist = [{"epoch": i, "train_loss": v} for i, v in enumerate(losses, 1)]
    assert "lr_too_high" not in [f.code for f in diagnose(Evidence(hist, "binary"))]
