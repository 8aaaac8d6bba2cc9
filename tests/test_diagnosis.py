"""The diagnosis reasons: a corpus of deliberately broken runs, each with its expected top
finding, suggestions that never contradict each other or the run, and statistics that see
inside any nn.Module."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import mlplab
from mlplab.inspect.diagnosis import Evidence, diagnose, evidence_for, model_stats
from mlplab.models import ModelSpec, build_model
from mlplab.recipes import load_recipe
from mlplab.tasks import resolve_task

# name -> (config, expected top finding, a phrase its detail must hold)
CORPUS: dict[str, tuple[dict, str, str]] = {
    "lr-5": ({"data": {"source": "moons", "n_samples": 300}, "optim": {"lr": 5.0},
              "train": {"epochs": 200}}, "lr_too_high", "rate of 5"),
    "lr-5-defaults": ({"optim": {"lr": 5.0}}, "lr_too_high", "far above the 0.1"),
    "circles-linear": (load_recipe("circles-linear"), "linear_model", "straight line"),
    "steplr-to-zero": ({**load_recipe("moons-mlp-tips"), "train": {
        "epochs": 300, "batch_size": "full", "eval_every": 50, "clip_grad_norm": 1.0}},
        "schedule_vanished", "to 5e-12"),
    "relu-collapse": ({"data": {"source": "circles", "n_samples": 400, "scale": "none"},
                       "model": {"hidden": [8, 8]}, "optim": {"name": "sgd", "lr": 8.0},
                       "train": {"epochs": 300, "batch_size": "full", "early_stopping": "off"}},
                      "collapse", "every unit of layer 2 died by epoch"),
    # issue 28: tutorial 003's 2-4-1 net at seed 42: one unit dead, three never off
    "moons-mlp-seed-42": ({**load_recipe("moons-mlp"), "seed": 42}, "effectively_linear",
                          "dead or active on every training row"),
    "tiny-overfit": ({"data": {"source": "moons", "n_samples": 40, "noise": 0.35,
                               "test_size": 0.4},
                      "model": {"hidden": [128, 128]}, "train": {"epochs": 400}},
                     "overfitting", "on train but"),
}


def _run(cfg: dict) -> mlplab.Run:
    # one network each: a broken single network is what each case describes
    cfg = {**cfg, "log": {"quiet": True, "plots": False},
           "model": {**cfg.get("model", {}), "ensemble": 1}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mlplab.train(cfg, save=False, progress=False)


def _diagnose(run: mlplab.Run) -> list:
    return diagnose(evidence_for(run, mlplab.prepare(run.config)))


@pytest.fixture(scope="module")
def corpus() -> dict[str, tuple[mlplab.Run, list]]:
    runs = {name: _run(cfg) for name, (cfg, _, _) in CORPUS.items()}
    return {name: (run, _diagnose(run)) for name, run in runs.items()}


@pytest.mark.parametrize("name", list(CORPUS))
def test_each_broken_run_gets_its_expected_top_finding(corpus, name):
    _, findings = corpus[name]
    _, code, phrase = CORPUS[name]
    assert findings[0].code == code, [f.code for f in findings]
    assert phrase in findings[0].detail


@pytest.mark.parametrize("name", list(CORPUS))
def test_suggestions_never_contradict_each_other_or_the_run(corpus, name):
    run, findings = corpus[name]
    text = " ".join(f.suggestion for f in findings)
    assert not ("lower the learning rate" in text and "higher learning rate" in text)
    if run.config.data.scale != "none":
        assert "--scale standard" not in text  # regression: suggested on standardised data
    if run.config.train.clip_grad_norm is not None:
        assert "--clip-grad-norm" not in text
    if any(f.code == "lr_too_high" for f in findings):
        assert "higher learning rate" not in text


def test_a_linear_model_is_told_it_is_linear_not_to_train_longer(corpus):
    """Regression: circles-linear was first told 'more epochs, wider layers'."""
    _, findings = corpus["circles-linear"]
    text = " ".join(f.suggestion for f in findings)
    assert "--activation relu" in findings[0].suggestion
    assert "--epochs" not in text and "--hidden" not in text
    assert "underfitting" not in [f.code for f in findings]


def test_a_relu_net_that_stopped_moving_is_not_called_linear(corpus):
    """Regression: at --lr 5 every ReLU died and the constant output read as 'linear'."""
    _, findings = corpus["lr-5-defaults"]
    assert "linear_model" not in [f.code for f in findings]
    assert "higher" not in " ".join(f.suggestion for f in findings)


def test_the_collapse_epoch_comes_from_the_snapshots_when_there_are_some(corpus):
    run, _ = corpus["relu-collapse"]
    p = mlplab.prepare(run.config)
    ev = evidence_for(run, p)
    ev.stat_epochs = [0, 100, 200, 300]
    alive, dead = {"dead": [0.0, 0.0]}, {"dead": [0.0, 1.0]}
    ev.stats = [alive, alive, dead, dead]
    top = diagnose(ev)[0]
    assert top.code == "collapse" and "died by epoch 200" in top.detail


def test_a_healthy_run_has_no_problem():
    findings = _diagnose(_run({"data": {"source": "gaussians", "n_samples": 200},
                               "model": {"hidden": [8]}, "train": {"epochs": 100}}))
    assert [f.level for f in findings] == ["ok"], [f.code for f in findings]


def test_a_tiny_split_is_flagged():
    hist = [{"epoch": 1, "train_loss": 0.5, "train_accuracy": 1.0, "test_accuracy": 1.0}]
    codes = [f.code for f in diagnose(Evidence(hist, "binary", split_rows={"train": 40,
                                                                           "test": 1}))]
    assert codes == ["tiny_split"]


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


class FunctionalNet(nn.Module):
    """Tutorial 000's style: torch.relu called in forward, no activation modules."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(2, 4), nn.Linear(4, 4), nn.Linear(4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


def test_model_stats_see_inside_any_module_as_inside_the_same_mlp():
    """Regression: a user's module was 'healthy' where the same weights as an mlplab MLP
    showed dead units. The hooks read each Linear's input, whatever made it."""
    task = resolve_task("binary", n_classes=2, n_targets=1, loss="auto", output="logits")
    X = torch.randn(300, 2, generator=torch.Generator().manual_seed(0))
    y = (X[:, :1] > 0).float()
    mlp = build_model(ModelSpec(2, [4, 4], ["relu", "relu"], 1), seed=0)
    with torch.no_grad():
        mlp.linears()[0].bias[:1] = -100.0  # one of four units of layer 1 dead
    user = FunctionalNet()
    user.load_state_dict({k.replace("net.0", "fc1").replace("net.2", "fc2")
                          .replace("net.4", "fc3"): v for k, v in mlp.state_dict().items()})
    a, b = model_stats(mlp, task, X, y), model_stats(user, task, X, y)
    assert a["dead"][0] == b["dead"][0] == 0.25
    assert a["dead"] == b["dead"] and b["activations"] == ["relu", "relu"]
    np.testing.assert_allclose(a["grad_norms"], b["grad_norms"], rtol=1e-6)
    assert a["linear"] is False and b["linear"] is False


def test_model_stats_gradients_saturation_and_linearity_against_references():
    task = resolve_task("binary", n_classes=2, n_targets=1, loss="auto", output="logits")
    X = torch.randn(200, 2)
    y = (X[:, :1] > 0).float()
    sig = build_model(ModelSpec(2, [8], ["sigmoid"], 1), seed=0)
    with torch.no_grad():
        sig.linears()[0].weight.mul_(200.0)
    assert model_stats(sig, task, X, y)["saturated"][0] > 0.9
    relu = build_model(ModelSpec(2, [4], ["relu"], 1), seed=0)
    s = model_stats(relu, task, X, y)
    relu.zero_grad()  # independent reference: autograd through .backward()
    nn.functional.binary_cross_entropy_with_logits(relu(X), y).backward()
    np.testing.assert_allclose(s["grad_norms"], [float(m.weight.grad.norm())
                                                 for m in relu.linears()], rtol=1e-5)
    assert relu.linears()[0].weight.grad is not None  # model_stats did not clear it
    stack = nn.Sequential(nn.Linear(2, 5), nn.Linear(5, 1))
    assert model_stats(stack, task, X, y)["linear"] is True


class SaturatedNet(nn.Module):
    """A user's module whose sigmoid layer starts deep in its flat ends (weights x50)."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden, self.act, self.out = nn.Linear(2, 16), nn.Sigmoid(), nn.Linear(16, 1)
        with torch.no_grad():
            self.hidden.weight.mul_(50.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.act(self.hidden(x)))


def test_saturation_that_hurts_is_named_in_the_words_of_the_users_module():
    torch.manual_seed(0)
    cfg = {"data": {"source": "circles", "n_samples": 300}, "optim": {"name": "sgd", "lr": 0.05},
           "train": {"epochs": 100}, "log": {"quiet": True, "plots": False}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = mlplab.train(cfg, model=SaturatedNet(), save=False, progress=False)
    findings = _diagnose(run)
    top = findings[0]
    assert top.code == "saturated_units", [f.code for f in findings]
    assert "layer 1 (sigmoid)" in top.detail
    assert "nn.ReLU in your module" in top.suggestion
    assert "--scale standard" not in top.suggestion  # the inputs are standardised already


def test_the_diagnosis_speaks_the_reports_language(corpus):
    run, _ = corpus["circles-linear"]
    ev = evidence_for(run, mlplab.prepare(run.config))
    zh, en = diagnose(ev, "zh")[0], diagnose(ev, "en")[0]
    assert zh.code == en.code == "linear_model"
    assert zh.title == "模型是线性的" and en.title == "the model is linear"
    assert "nn.ReLU" not in zh.suggestion and "--activation relu" in zh.suggestion


def test_a_relu_net_whose_units_never_switch_is_called_effectively_linear(corpus):
    """Regression (issue 28): moons-mlp at seed 42 ended with every ReLU unit dead or active
    on every training row (a linear map on its data) and the diagnosis said nothing; the
    statistic is checked against the hidden layer computed by hand."""
    run, findings = corpus["moons-mlp-seed-42"]
    X = torch.as_tensor(mlplab.prepare(run.config).X["train"], dtype=torch.float32)
    with torch.no_grad():
        h = torch.relu(run.model.net[0](X))  # (rows, 4)
    never_switch = ((h > 0).all(dim=0) | (h == 0).all(dim=0)).all()
    assert bool(never_switch)
    top = findings[0]
    assert top.code == "effectively_linear" and top.level == "problem"
    assert "underfitting" not in [f.code for f in findings]  # folded into the cause
    assert "another --seed" in top.suggestion
    zh = diagnose(evidence_for(run, mlplab.prepare(run.config)), "zh")[0]
    assert zh.title == "网络实际上是线性的" and "仿射" in zh.detail


# what may stay in Latin letters inside a Chinese diagnosis: flags and their values, names
# of activations, schedules, optimizers and torch classes, and units
ALLOWED_LATIN = re.compile(
    r"--[a-z][a-z0-9-]*(?:[= ][a-z0-9_.,-]+)?|nn\.[A-Za-z_.]+|torch\.[a-z_.]+|"
    r"schedule\.[a-z_]+=\S+|\b(?:ReLU|relu|leaky_relu|gelu|tanh|sigmoid|identity|step|"
    r"cosine|step_size|min_lr|max_lr|StepLR|sgd|adam|adamw|rmsprop|kaiming|Linear|NaN|nan|inf|gamma|params)\b")


def _latin_words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z]{3,}", ALLOWED_LATIN.sub(" ", text))


@pytest.mark.parametrize("name", list(CORPUS))
def test_the_chinese_diagnosis_has_no_english_left(corpus, name):
    """Regression (issue 28): the zh diagnosis mixed in English ("[problem]", "Try:", metric
    names such as "accuracy", the "; " and "." joining suggestions). Only flags, numbers,
    units and the names of torch and mlplab options may stay in Latin letters."""
    run, _ = corpus[name]
    text = "\n".join(f.text() for f in diagnose(evidence_for(run, mlplab.prepare(run.config)),
                                                  "zh"))
    assert _latin_words(text) == [], text


def test_the_chinese_verdict_on_an_untrained_model_has_no_english_left():
    """The "no problems" finding of an imported (0-epoch) model, in zh: no English words."""
    ev = Evidence([], task="binary", final_scores={"test": 0.9})
    (ok,) = diagnose(ev, "zh")
    assert ok.code == "ok" and _latin_words(ok.text()) == [], ok.text()
