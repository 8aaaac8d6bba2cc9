"""Every lesson step: its solution passes, typical wrong answers fail with the message that
names the mistake (wrong shape, sigmoid + BCEWithLogitsLoss, softmax before CrossEntropyLoss,
forgotten zero_grad, (n,) labels for BCE, ...)."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest
import torch
from sklearn.metrics import accuracy_score
from torch import nn

from mlplab.learn.checks import CHECKS
from mlplab.learn.lessons import LESSONS


def check(lesson: str, step: str, **objects: Any):
    return CHECKS[LESSONS[lesson].step(step).check](**objects)


def args_of(lesson: str, step: str, ns: dict[str, Any]) -> dict[str, Any]:
    """The objects the notebook passes to the check, taken from the solution's namespace."""
    return eval(f"dict({LESSONS[lesson].step(step).args})", dict(ns))


@pytest.mark.parametrize("lesson,step", [(name, s.id) for name, spec in LESSONS.items()
                                         for s in spec.steps])
def test_the_solution_passes(solved, lesson, step):
    v = check(lesson, step, **args_of(lesson, step, solved[lesson]))
    assert v.passed, v


def fails(v, key: str) -> None:
    assert not v.passed and v.key == key, v


# --- disk (tutorial 000) -----------------------------------------------------------------------

def test_disk_data_wrong_answers():
    X = torch.randn(100, 2)
    inside = X[:, 0] ** 2 + X[:, 1] ** 2 < 1
    fails(check("disk", "data", X=X, y=inside.float()), "labels_1d")            # (n,) for BCE
    fails(check("disk", "data", X=X, y=inside.long().unsqueeze(1)), "labels_dtype")
    fails(check("disk", "data", X=torch.randn(100, 3), y=inside.float().unsqueeze(1)), "shape")
    v = check("disk", "data", X=X, y=(~inside).float().unsqueeze(1))  # outside labelled 1
    fails(v, "label_rule")
    assert v.fmt == {"wrong": 100, "n": 100}
    fails(check("disk", "data", X=X.double(), y=inside.double().unsqueeze(1)), "dtype")
    fails(check("disk", "data", X=X.numpy(), y=inside), "not_tensor")


class Net(nn.Module):
    def __init__(self, sizes, out: str = "none", hidden: Any = torch.relu):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
        self.out, self.hidden = out, hidden

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = self.hidden(layer(x))
        x = self.layers[-1](x)
        return {"none": x, "sigmoid": torch.sigmoid(x), "softmax": torch.softmax(x, dim=1)}[
            self.out]


def test_disk_network_wrong_answers():
    fails(check("disk", "network", model=Net([2, 4, 1], "sigmoid")), "layers")
    v = check("disk", "network", model=Net([2, 4, 4, 1]))  # logits: BCELoss needs a probability
    fails(v, "want_sigmoid")
    assert v.fmt["kind"] == "logits"
    assert check("disk", "network", model=Net([2, 4, 4, 1], "sigmoid")).passed
    fails(check("disk", "network", model="SimpleNN"), "not_module")


def test_disk_fit_scores_fresh_points_and_wrong_answers_fail(solved):
    ns = solved["disk"]
    untrained = ns["SimpleNN"]()
    v = check("disk", "fit", model=untrained)
    fails(v, "fit_low")
    # the score is the accuracy on the check's fresh points, as scikit-learn counts it
    trained = check("disk", "fit", model=ns["model"])
    model, X, y = trained.draw
    with torch.no_grad():
        pred = (model(X) > 0.5).long().squeeze(1)
    assert trained.fmt["acc"] == pytest.approx(accuracy_score(y.numpy(), pred.numpy()))
    inverted = copy.deepcopy(ns["model"])
    with torch.no_grad():  # the same model told the opposite: 1 outside the circle
        inverted.fc3.weight.neg_(), inverted.fc3.bias.neg_()
    v = check("disk", "fit", model=inverted)
    fails(v, "fit_low")
    assert v.fmt["acc"] == pytest.approx(1 - trained.fmt["acc"], abs=1e-6)


# --- simple-net (tutorial 001) -----------------------------------------------------------------

def test_simple_net_sigmoid_with_bce_with_logits_fails():
    layer = nn.Sequential(nn.Linear(2, 10), nn.ReLU(), nn.Linear(10, 1), nn.Sigmoid())
    fails(check("simple-net", "logits", model=layer), "sigmoid_with_logits_loss")
    fails(check("simple-net", "logits", model=Net([2, 10, 1], "sigmoid")),
          "sigmoid_with_logits_loss")  # torch.sigmoid in forward, found by its range
    fails(check("simple-net", "logits", model=Net([2, 8, 1])), "layers")


def _step(zero: bool = True, backward: bool = True, step: bool = True):
    def train_step(model, optimizer, X, y):
        if zero:
            optimizer.zero_grad()
        loss = nn.BCEWithLogitsLoss()(model(X), y)
        if backward:
            loss.backward()
        if step:
            optimizer.step()
        return loss.item()
    return train_step


def test_forgotten_zero_grad_and_other_broken_steps_fail():
    model, X = Net([2, 10, 1]), torch.randn(5, 2)
    y = torch.tensor([[0.0], [1.0], [1.0], [0.0], [1.0]])
    assert check("simple-net", "train_step", train_step=_step(), model=model, X=X, y=y).passed
    v = check("simple-net", "train_step", train_step=_step(zero=False), model=model, X=X, y=y)
    fails(v, "grad_accumulates")
    assert v.fmt["ratio"] == pytest.approx(3.0, rel=1e-4)  # three calls, three gradients added
    fails(check("simple-net", "train_step", train_step=_step(), model=model, X=X, y=y[:, 0]),
          "labels_1d")  # BCEWithLogitsLoss refuses (n,) labels against (n, 1) outputs
    fails(check("simple-net", "train_step", train_step=_step(backward=False), model=model, X=X,
                y=y), "no_gradient")
    fails(check("simple-net", "train_step", train_step=_step(step=False), model=model, X=X,
                y=y), "no_step")


def test_the_check_leaves_the_learners_model_alone():
    model = Net([2, 10, 1])
    before = copy.deepcopy(model.state_dict())
    check("simple-net", "train_step", train_step=_step(), model=model, X=torch.randn(5, 2),
          y=torch.ones(5, 1))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())


# --- circles (tutorial 002) --------------------------------------------------------------------

def test_linear_fails_wrong_answers(solved):
    ns = solved["circles"]
    fails(check("circles", "linear_fails", model=ns["relu"], X=ns["X_test"], y=ns["y_test"]),
          "not_linear")
    fails(check("circles", "linear_fails", model=ns["linear"], X=ns["X_test"][:, :1],
                y=ns["y_test"]), "shape")
    fails(check("circles", "linear_fails", model=ns["linear"], X=ns["X_test"],
                y=1 - ns["y_test"]), "not_circles")  # labels swapped: class 1 outside


def test_relu_fixes_wrong_answers_and_the_score_is_sklearns(solved):
    ns = solved["circles"]
    X, y = ns["X_test"], ns["y_test"]
    v = check("circles", "relu_fixes", model=ns["linear"], X=X, y=y)
    fails(v, "still_linear")
    torch.manual_seed(3)
    untrained = nn.Sequential(nn.Linear(2, 10), nn.ReLU(), nn.Linear(10, 1))
    fails(check("circles", "relu_fixes", model=untrained, X=X, y=y), "relu_low")
    with torch.no_grad():
        pred = (ns["linear"](X) > 0).float()
    assert v.fmt["acc"] == pytest.approx(accuracy_score(y.numpy(), pred.numpy()))


# --- moons-tips (tutorial 003) -----------------------------------------------------------------

def test_kaiming_wrong_answers():
    def init_with(fn):
        def init(m):
            if isinstance(m, nn.Linear):
                fn(m.weight)
        return init

    fails(check("moons-tips", "kaiming", init=init_with(nn.init.xavier_normal_)), "init_std")
    fails(check("moons-tips", "kaiming", init=init_with(nn.init.kaiming_uniform_)),
          "init_uniform")
    v = check("moons-tips", "kaiming", init=lambda m: None)  # PyTorch's default init
    fails(v, "init_std")
    assert v.fmt["want"] == pytest.approx((2 / 256) ** 0.5)
    assert v.fmt["std"] == pytest.approx((1 / (3 * 256)) ** 0.5, rel=0.05)


def test_steplr_wrong_answers():
    opt = torch.optim.Adam(nn.Linear(2, 1).parameters(), lr=0.05)
    fails(check("moons-tips", "steplr",
                scheduler=torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.1)), "not_steplr")
    fails(check("moons-tips", "steplr",
                scheduler=torch.optim.lr_scheduler.StepLR(opt, step_size=30, gamma=10)),
          "steplr_args")
    fails(check("moons-tips", "steplr", scheduler=opt), "not_steplr")


def test_clip_wrong_answers(solved):
    ns = solved["moons-tips"]

    def unclipped(model, optimizer, X, y):
        optimizer.zero_grad()
        nn.BCELoss()(model(X), y).backward()
        optimizer.step()

    def clipped_too_early(model, optimizer, X, y):
        optimizer.zero_grad()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)  # nothing to clip yet
        nn.BCELoss()(model(X), y).backward()
        optimizer.step()

    for wrong in (unclipped, clipped_too_early):
        v = check("moons-tips", "clip", train_step=wrong, model=ns["model"], X=ns["X"],
                  y=ns["y"])
        fails(v, "not_clipped")
        assert v.fmt["norm"] > 1.0


# --- gaussians (tutorial 004) ------------------------------------------------------------------

def test_softmax_before_cross_entropy_fails():
    tutorial = nn.Sequential(nn.Linear(2, 5), nn.Sigmoid(), nn.Linear(5, 5), nn.Sigmoid(),
                             nn.Linear(5, 2), nn.Softmax(dim=1))
    fails(check("gaussians", "no_double_softmax", model=tutorial), "double_softmax")
    fails(check("gaussians", "no_double_softmax", model=Net([2, 5, 5, 2], "softmax",
                                                            torch.sigmoid)), "double_softmax")
    fails(check("gaussians", "no_double_softmax", model=Net([2, 5, 2])), "layers")


def test_state_dict_wrong_answers(solved, tmp_path):
    model = solved["gaussians"]["model"]
    fresh = copy.deepcopy(model)
    fails(check("gaussians", "state_dict", model=model, fresh=model), "same_object")
    torch.manual_seed(5)  # not the solution's seed: other weights
    not_loaded = nn.Sequential(nn.Linear(2, 5), nn.Sigmoid(), nn.Linear(5, 5), nn.Sigmoid(),
                               nn.Linear(5, 2))
    fails(check("gaussians", "state_dict", model=model, fresh=not_loaded), "outputs_differ")
    whole = tmp_path / "whole.pt"
    torch.save(model, whole)  # the pickled module, not its state_dict
    fails(check("gaussians", "state_dict", model=model, fresh=fresh, path=whole),
          "not_state_dict")
    fails(check("gaussians", "state_dict", model=model, fresh=fresh, path=tmp_path / "no.pt"),
          "no_file")
    fails(check("gaussians", "state_dict", model=model, fresh=nn.Linear(2, 2)),
          "other_architecture")
