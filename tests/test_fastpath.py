"""The fast full-batch runner against the eager loop (autograd + torch.optim)."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch

from mlplab.config import RunConfig, with_overrides
from mlplab.errors import MlplabWarning
from mlplab.models import ModelSpec, build_model
from mlplab.tasks import resolve_task
from mlplab.training.loop import DataTensors, eager_runner, fit
from mlplab.training.runners.fused import FastRunner, select_runner, why_not_fast
from mlplab.training.runners.numpy import NumpyRunner

KERNELS = [FastRunner, NumpyRunner]
TASKS = {  # (task, loss, output) -> targets maker
    ("binary", "bce_logits", "logits"): lambda X: (X[:, 0] * X[:, 1] > 0).float()[:, None],
    ("binary", "bce", "sigmoid"): lambda X: (X[:, 0] * X[:, 1] > 0).float()[:, None],
    ("binary", "mse", "logits"): lambda X: (X[:, 0] > 0).float()[:, None],
    ("multiclass", "cross_entropy", "logits"): lambda X: (X[:, 0] > 0).long() + (X[:, 1] > 0),
    ("regression", "mse", "logits"): lambda X: X[:, :1] * 2 - X[:, 1:2],
    ("regression", "l1", "logits"): lambda X: X[:, :1] * 2 - X[:, 1:2],
}


def _lazy(cls):
    """A runner that builds ``cls`` on first use (fit creates the state it needs)."""
    made = {}

    def run(state, n):
        made.setdefault("r", cls(state))(state, n)
        state.runner_name = "fast"

    return run


def _pair(task=("binary", "bce_logits", "logits"), acts=("tanh", "relu"), epochs=40,
          optim=None, kernel=None, **train):
    """Train the same initial model with the eager and the fast runner; return both."""
    name, loss, output = task
    g = torch.Generator().manual_seed(1)
    X = torch.randn(64, 3, generator=g)
    y = TASKS[task](X)
    n_classes = 3 if name == "multiclass" else 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MlplabWarning)  # mse on a binary target: meant here
        spec = resolve_task(name, n_classes=n_classes, n_targets=1, loss=loss, output=output)
    cfg = RunConfig.from_dict({
        "optim": optim or {"name": "sgd", "lr": 0.1}, "model": {"output": output},
        "train": {"epochs": epochs, "eval_every": 15, "batch_size": "full", **train}})
    model = build_model(ModelSpec(3, [5, 4], list(acts), spec.n_outputs, output=output), 3)
    twin = copy.deepcopy(model)
    data = DataTensors({"train": X, "test": X[:16]}, {"train": y, "test": y[:16]})
    s_eager = fit(model, spec, data, cfg, runner=eager_runner)
    s_fast = fit(twin, spec, data, cfg, runner=None if kernel is None else _lazy(kernel))
    return s_eager, s_fast


def _assert_same(s_eager, s_fast, atol=2e-5):
    assert s_fast.runner_name == "fast" and s_eager.runner_name == "eager"
    for p, q in zip(s_eager.model.parameters(), s_fast.model.parameters(), strict=True):
        torch.testing.assert_close(q, p, atol=atol, rtol=1e-4)
    for a, b in zip(s_eager.history, s_fast.history, strict=True):
        assert a["epoch"] == b["epoch"]
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("optim", [
    {"name": "sgd", "lr": 0.1},
    {"name": "sgd", "lr": 0.05, "momentum": 0.9},
    {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-2},
    {"name": "adam", "lr": 0.01},
    {"name": "adam", "lr": 0.01, "weight_decay": 1e-2},
    {"name": "adamw", "lr": 0.01, "weight_decay": 0.1},
])
@pytest.mark.parametrize("kernel", KERNELS)
def test_optimizers_match_eager(optim, kernel):
    """Each supported optimizer leaves the same weights and losses as torch.optim."""
    _assert_same(*_pair(optim=optim, kernel=kernel))


@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("kernel", KERNELS)
def test_losses_match_eager(task, kernel):
    """Each output/loss pair's folded gradient equals autograd's."""
    _assert_same(*_pair(task=task, optim={"name": "adam", "lr": 0.01}, kernel=kernel))


@pytest.mark.parametrize("act", ["relu", "leaky_relu", "tanh", "sigmoid", "gelu", "silu",
                                 "identity"])
def test_activations_match_eager(act):
    """Each hand-written activation backward equals autograd's (NumPy where it has one)."""
    from mlplab.training.runners.numpy import NP_ACTS

    for kernel in KERNELS if act in NP_ACTS else [FastRunner]:
        _assert_same(*_pair(acts=(act, act), optim={"name": "sgd", "lr": 0.2,
                                                    "momentum": 0.5}, kernel=kernel))


@pytest.mark.parametrize("kernel", KERNELS)
def test_l1_and_clipping_match_eager(kernel):
    """L1 penalty (weights only) and gradient-norm clipping as in the eager loop."""
    _assert_same(*_pair(optim={"name": "sgd", "lr": 0.5, "l1": 1e-3}, clip_grad_norm=0.05,
                        kernel=kernel))
    _assert_same(*_pair(optim={"name": "adam", "lr": 0.02, "l1": 1e-3}, clip_grad_norm=0.1,
                        kernel=kernel))


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("optim", [{"name": "adam", "lr": 0.01},
                                   {"name": "sgd", "lr": 0.05, "momentum": 0.9}])
def test_resume_keeps_optimizer_state(kernel, optim):
    """Two fit calls (resume) with the fast runner equal one eager run of the same length."""
    s_eager, _ = _pair(optim=optim, epochs=30)
    _, s_half = _pair(optim=optim, epochs=15, kernel=kernel)
    cfg = with_overrides(s_half.cfg, {"train.epochs": 30})
    fit(s_half.model, s_half.task, s_half.data, cfg, optimizer=s_half.optimizer,
        start_epoch=15, runner=kernel(s_half))
    for p, q in zip(s_eager.model.parameters(), s_half.model.parameters(), strict=True):
        torch.testing.assert_close(q, p, atol=2e-5, rtol=1e-4)
    w = s_half.model.net[0].weight
    if optim["name"] == "adam":
        assert float(s_half.optimizer.state[w]["step"]) == 30
    torch.testing.assert_close(s_half.optimizer.state[w].get("momentum_buffer",
                                                             s_half.optimizer.state[w].get("exp_avg")),
                               s_eager.optimizer.state[s_eager.model.net[0].weight].get(
                                   "momentum_buffer", s_eager.optimizer.state[
                                       s_eager.model.net[0].weight].get("exp_avg")),
                               atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("change, reason", [
    ({"train": {"fast": "off"}}, "train.fast is off"),
    ({"train": {"batch_size": 16}}, "mini-batch"),
    ({"optim": {"name": "rmsprop"}}, "optimizer"),
    ({"schedule": {"name": "cosine"}}, "schedule"),
    ({"model": {"dropout": 0.2}}, "dropout"),
    ({"model": {"activation": "elu"}}, "activation"),
])
def test_unsupported_falls_back_to_eager(change, reason):
    """Anything the fast runner cannot do exactly trains with the eager runner."""
    import mlplab

    cfg = {"data": {"source": "gaussians", "n_samples": 100}, "model": {"hidden": [4]},
           "train": {"epochs": 5, "eval_every": 5}, "log": {"quiet": True}}
    for k, v in change.items():
        cfg[k] = {**cfg.get(k, {}), **v}
    run = mlplab.train(cfg, save=False)
    assert run.info["runner"] == "eager"


def test_select_runner_explains():
    """why_not_fast names the reason; select_runner returns the fast runner when it applies."""
    s_eager, s_fast = _pair(epochs=1)
    assert why_not_fast(s_fast) is None
    runner, name = select_runner(s_fast)
    assert name == "fast" and isinstance(runner, NumpyRunner)  # 64 rows: the NumPy kernel
    s_fast.data.w = torch.ones(64)
    assert why_not_fast(s_fast) == "sample weights"
