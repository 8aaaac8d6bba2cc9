"""The loop against plain PyTorch: same weights in, same weights out."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from mlplab.config import RunConfig
from mlplab.errors import TrainingError
from mlplab.models import ModelSpec, build_model
from mlplab.tasks import resolve_task
from mlplab.training.loop import DataTensors, eager_runner, fit


def _data(n=64, d=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g)
    y = (X[:, 0] * X[:, 1] > 0).float().reshape(-1, 1)
    return X, y


def _setup(optim: dict, **train):
    X, y = _data()
    cfg = RunConfig.from_dict({"optim": optim, "train": {"epochs": 1, "eval_every": 1,
                                                         "batch_size": "full", **train}})
    task = resolve_task("binary", n_classes=2, n_targets=1, loss="auto", output="logits")
    model = build_model(ModelSpec(2, [5, 3], ["tanh", "relu"], 1), seed=3)
    ref = copy.deepcopy(model)
    data = DataTensors({"train": X}, {"train": y})
    return cfg, task, model, ref, data, X, y


def _tutorial_step(ref, opt, X, y):
    """One step of the tutorials' loop: BCE-with-logits, zero_grad, backward, step."""
    loss = nn.BCEWithLogitsLoss()(ref(X), y)
    opt.zero_grad()
    loss.backward()
    opt.step()


def _assert_same_weights(model, ref, rtol=1e-6, atol=1e-7):
    for a, b in zip(model.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=rtol, atol=atol)


@pytest.mark.parametrize("optim", [
    {"name": "sgd", "lr": 0.1},
    {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3},
    {"name": "adam", "lr": 0.01},
    {"name": "adamw", "lr": 0.01, "weight_decay": 0.1},
    {"name": "rmsprop", "lr": 0.01, "momentum": 0.5},
])
def test_steps_equal_plain_pytorch(optim):
    """Five full-batch epochs of mlplab equal the tutorial loop on the same weights."""
    cfg, task, model, ref, data, X, y = _setup(optim, epochs=5)
    fit(model, task, data, cfg, runner=eager_runner)
    opt = {"sgd": lambda p: torch.optim.SGD(p, lr=optim["lr"], momentum=optim.get("momentum", 0),
                                            nesterov=optim.get("nesterov", False),
                                            weight_decay=optim.get("weight_decay", 0)),
           "adam": lambda p: torch.optim.Adam(p, lr=optim["lr"]),
           "adamw": lambda p: torch.optim.AdamW(p, lr=optim["lr"], weight_decay=0.1),
           "rmsprop": lambda p: torch.optim.RMSprop(p, lr=optim["lr"], momentum=0.5),
           }[optim["name"]](ref.parameters())
    for _ in range(5):
        _tutorial_step(ref, opt, X, y)
    _assert_same_weights(model, ref)


def test_l1_and_clipping_match_hand_written_step():
    """L1 on weights (not biases) and gradient-norm clipping, one SGD step by hand."""
    cfg, task, model, ref, data, X, y = _setup({"name": "sgd", "lr": 0.5, "l1": 0.01},
                                               clip_grad_norm=0.1)
    fit(model, task, data, cfg, runner=eager_runner)
    loss = nn.BCEWithLogitsLoss()(ref(X), y)
    loss = loss + 0.01 * sum(p.abs().sum() for p in ref.parameters() if p.dim() > 1)
    loss.backward()
    grads = [p.grad for p in ref.parameters()]
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
    scale = min(1.0, 0.1 / (float(norm) + 1e-6))
    with torch.no_grad():
        for p in ref.parameters():
            p -= 0.5 * scale * p.grad
    _assert_same_weights(model, ref, rtol=1e-5, atol=1e-6)


def test_minibatches_are_randperm_slices():
    """Mini-batch epochs follow one seeded randperm per epoch, sliced in order."""
    cfg, task, model, ref, data, X, y = _setup({"name": "sgd", "lr": 0.1}, epochs=2,
                                               batch_size=16)
    fit(model, task, data, cfg, runner=eager_runner)
    gen = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    for _ in range(2):
        for idx in torch.randperm(len(X), generator=gen).split(16):
            _tutorial_step(ref, opt, X[idx], y[idx])
    _assert_same_weights(model, ref)


def test_step_lr_schedule_matches_torch():
    cfg, task, model, ref, data, X, y = _setup({"name": "sgd", "lr": 0.1}, epochs=7)
    cfg = cfg.model_copy(update={"schedule": cfg.schedule.model_copy(
        update={"name": "step", "step_size": 3, "gamma": 0.1})})
    state = fit(model, task, data, cfg, runner=eager_runner)
    assert state.lr == pytest.approx(0.1 * 0.1 ** 2)  # decayed after epochs 3 and 6
    opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, 3, 0.1)
    for _ in range(7):
        _tutorial_step(ref, opt, X, y)
        sched.step()
    _assert_same_weights(model, ref)


def test_history_has_a_row_per_evaluation():
    cfg, task, model, ref, data, X, y = _setup({"name": "adam", "lr": 0.01}, epochs=25,
                                               eval_every=10)
    state = fit(model, task, data, cfg, runner=eager_runner)
    assert [r["epoch"] for r in state.history] == [10, 20, 25]
    assert {"train_loss", "train_accuracy", "lr", "seconds"} <= set(state.history[0])


def test_divergence_stops_with_epoch_and_hint():
    """A huge learning rate makes the loss non-finite: a clear TrainingError, not NaNs."""
    X, y = _data()
    cfg = RunConfig.from_dict({"optim": {"name": "sgd", "lr": 100.0},
                               "train": {"epochs": 200, "eval_every": 5}})
    task = resolve_task("regression", n_classes=1, n_targets=1, loss="auto", output="logits")
    model = build_model(ModelSpec(2, [32, 32], ["relu", "relu"], 1), seed=0)
    data = DataTensors({"train": X * 1e3}, {"train": y * 1e3})
    with pytest.raises(TrainingError, match=r"diverged.*epoch \d+.*lower the learning rate"):
        fit(model, task, data, cfg, runner=eager_runner)


def test_ctrl_c_stops_cleanly_and_keeps_history():
    """A KeyboardInterrupt inside an epoch ends training with a final evaluation."""
    cfg, task, model, ref, data, X, y = _setup({"name": "sgd", "lr": 0.1}, epochs=100,
                                               eval_every=10)
    calls = {"n": 0}

    def runner(state, n):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        eager_runner(state, n)

    state = fit(model, task, data, cfg, runner=runner)
    assert state.stop_reason == "interrupted at epoch 20"
    assert state.history[-1]["epoch"] == 20


def test_user_module_with_wrong_output_width_is_refused():
    X, y = _data()
    cfg = RunConfig.from_dict({"train": {"epochs": 1}})
    task = resolve_task("binary", n_classes=2, n_targets=1, loss="auto", output="logits")
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 2))
    from mlplab.errors import ConfigError
    with pytest.raises(ConfigError, match=r"expected shape \(batch, 1\), found \(2, 2\)"):
        fit(model, task, DataTensors({"train": X}, {"train": y}), cfg)


def test_unshuffled_minibatches_go_in_order():
    """train.shuffle=false: consecutive slices, the same every epoch."""
    cfg, task, model, ref, data, X, y = _setup({"name": "sgd", "lr": 0.1}, epochs=2,
                                               batch_size=24, shuffle=False)
    fit(model, task, data, cfg, runner=eager_runner)
    opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    for _ in range(2):
        for i in range(0, len(X), 24):
            _tutorial_step(ref, opt, X[i:i + 24], y[i:i + 24])
    _assert_same_weights(model, ref)
