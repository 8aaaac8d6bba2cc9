"""The fused full-batch runners against the eager step (autograd + torch.optim).

The torch fused runner calls autograd's and torch.optim's own kernels in the same order, so
its weights, optimizer state and losses are ``torch.equal`` to the eager runner's after any
number of epochs. The NumPy kernel (only with ``train.fast: on``) agrees to float rounding.
"""

from __future__ import annotations

import copy
import warnings

import pytest
import torch

from mlplab.config import RunConfig, with_overrides
from mlplab.errors import ConfigError, MlplabWarning
from mlplab.models import ModelSpec, build_model
from mlplab.tasks import resolve_task
from mlplab.training.loop import DataTensors, eager_runner, fit
from mlplab.training.runners.fused import FastRunner, why_not_fused
from mlplab.training.runners.numpy import NumpyRunner
from mlplab.training.runners.select import select_runner

TASKS = {  # (task, loss, output) -> targets maker
    ("binary", "bce_logits", "logits"): lambda X: (X[:, 0] * X[:, 1] > 0).float()[:, None],
    ("binary", "bce", "sigmoid"): lambda X: (X[:, 0] * X[:, 1] > 0).float()[:, None],
    ("binary", "mse", "logits"): lambda X: (X[:, 0] > 0).float()[:, None],
    ("multiclass", "cross_entropy", "logits"): lambda X: (X[:, 0] > 0).long() + (X[:, 1] > 0),
    ("regression", "mse", "logits"): lambda X: X[:, :1] * 2 - X[:, 1:2],
    ("regression", "l1", "logits"): lambda X: X[:, :1] * 2 - X[:, 1:2],
}
OPTIMS = [
    {"name": "sgd", "lr": 0.1},
    {"name": "sgd", "lr": 0.05, "momentum": 0.9},
    {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-2},
    {"name": "adam", "lr": 0.01},
    {"name": "adam", "lr": 0.01, "weight_decay": 1e-2},
    {"name": "adamw", "lr": 0.01, "weight_decay": 0.1},
]


def _pair(task=("binary", "bce_logits", "logits"), acts=("tanh", "relu"), epochs=40,
          optim=None, runner=None, schedule=None, dtype=torch.float32, **train):
    """Train the same initial model (parameters and rows in ``dtype``) with the eager and the
    fused runner; return both."""
    name, loss, output = task
    g = torch.Generator().manual_seed(1)
    X = torch.randn(64, 3, generator=g, dtype=dtype)
    y = TASKS[task](X)
    y = y.to(dtype) if y.is_floating_point() else y
    n_classes = 3 if name == "multiclass" else 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MlplabWarning)  # mse on a binary target: meant here
        spec = resolve_task(name, n_classes=n_classes, n_targets=1, loss=loss, output=output)
    cfg = RunConfig.from_dict({
        "optim": optim or {"name": "sgd", "lr": 0.1}, "model": {"output": output},
        "schedule": schedule or {"name": "none"},
        "train": {"epochs": epochs, "eval_every": 15, "batch_size": "full", **train}})
    model = build_model(ModelSpec(3, [5, 4], list(acts), spec.n_outputs, output=output), 3)
    model = model.to(dtype)
    twin = copy.deepcopy(model)
    data = DataTensors({"train": X, "test": X[:16]}, {"train": y, "test": y[:16]})
    s_eager = fit(model, spec, data, cfg, runner=eager_runner)
    s_fast = fit(twin, spec, data, cfg, runner=runner)
    return s_eager, s_fast


def _assert_equal(s_eager, s_fast, dtype=torch.float32):
    """Bitwise: weights (in ``dtype``), optimizer state and every history row but the clock."""
    assert s_fast.runner_name == "fast" and s_eager.runner_name == "eager"
    for p, q in zip(s_eager.model.parameters(), s_fast.model.parameters(), strict=True):
        assert p.dtype == q.dtype == dtype
        assert torch.equal(p, q)
        for key, value in s_eager.optimizer.state[p].items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(
                s_fast.optimizer.state[q][key])), key
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in s_eager.history]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in s_fast.history]


@pytest.mark.parametrize("optim", OPTIMS)
def test_optimizers_equal_eager(optim):
    """Each supported optimizer leaves bitwise the same weights and state as torch.optim."""
    _assert_equal(*_pair(optim=optim))


@pytest.mark.parametrize("task", list(TASKS))
def test_losses_equal_eager(task):
    """Each output/loss pair's gradient is autograd's own kernel, bit for bit."""
    _assert_equal(*_pair(task=task, optim={"name": "adam", "lr": 0.01}))


@pytest.mark.parametrize("act", ["relu", "leaky_relu", "tanh", "sigmoid", "gelu", "silu",
                                 "identity"])
def test_activations_equal_eager(act):
    """Each activation's backward is autograd's kernel, bit for bit."""
    _assert_equal(*_pair(acts=(act, act), optim={"name": "sgd", "lr": 0.2, "momentum": 0.5}))


@pytest.mark.parametrize("schedule", [{"name": "step", "step_size": 7, "gamma": 0.5},
                                      {"name": "cosine"}, {"name": "plateau", "patience": 0},
                                      {"name": "onecycle"}])
@pytest.mark.parametrize("optim", [{"name": "sgd", "lr": 0.1, "momentum": 0.9},
                                   {"name": "adam", "lr": 0.01}])
def test_schedules_equal_eager(schedule, optim):
    """Schedules step after each full-batch epoch (onecycle also cycles momentum / beta1)."""
    _assert_equal(*_pair(optim=optim, schedule=schedule))


def test_l1_and_clipping_equal_eager():
    """L1 penalty (weights only) and gradient-norm clipping as in the eager step."""
    _assert_equal(*_pair(optim={"name": "sgd", "lr": 0.5, "l1": 1e-3}, clip_grad_norm=0.05))
    _assert_equal(*_pair(optim={"name": "adam", "lr": 0.02, "l1": 1e-3}, clip_grad_norm=0.1))


def test_issue_15_repro_is_bitwise_over_many_epochs():
    """Regression (issue 15 item 4): a long SGD run on circles ended at 0.50 fused and 0.988
    eager, because the fused gradient rounded differently ((p - y)/n computed as p/n - y/n)
    and chaotic training amplified one ulp. Now 3,000 epochs end bitwise equal."""
    s_eager, s_fast = _pair(acts=("relu", "relu"), epochs=3000,
                            optim={"name": "sgd", "lr": 0.1})
    _assert_equal(s_eager, s_fast)


F64 = torch.float64


@pytest.mark.parametrize("optim", OPTIMS)
def test_float64_optimizers_equal_eager(optim):
    """float64 parameters (the estimators' dtype for float64 X) train on the fused runner
    bitwise equal to torch.optim's float64 steps, optimizer state included."""
    _assert_equal(*_pair(optim=optim, dtype=F64), dtype=F64)


@pytest.mark.parametrize("task", list(TASKS))
def test_float64_losses_equal_eager(task):
    """Each output/loss pair's float64 gradient is autograd's own kernel, bit for bit."""
    _assert_equal(*_pair(task=task, optim={"name": "adam", "lr": 0.01}, dtype=F64), dtype=F64)


@pytest.mark.parametrize("act", ["relu", "leaky_relu", "tanh", "sigmoid", "gelu", "silu",
                                 "identity"])
def test_float64_activations_equal_eager(act):
    """Each activation's float64 backward is autograd's kernel, bit for bit."""
    _assert_equal(*_pair(acts=(act, act), optim={"name": "sgd", "lr": 0.2, "momentum": 0.5},
                         dtype=F64), dtype=F64)


def test_float64_schedule_l1_clipping_equal_eager():
    """float64 with a schedule, the L1 penalty and clipping, as the eager step."""
    _assert_equal(*_pair(optim={"name": "adam", "lr": 0.02, "l1": 1e-3}, clip_grad_norm=0.1,
                         schedule={"name": "onecycle"}, dtype=F64), dtype=F64)


def test_float64_long_run_is_bitwise():
    """2,000 float64 epochs of SGD end bitwise equal (rounding differences would grow)."""
    _assert_equal(*_pair(acts=("relu", "relu"), epochs=2000, optim={"name": "sgd", "lr": 0.1},
                         dtype=F64), dtype=F64)


def test_mixed_dtypes_train_eagerly():
    """Parameters of two dtypes are refused by the fused runner (auto picks eager)."""
    s_eager, _ = _pair(epochs=1)
    s_eager.model.net[0].bias.data = s_eager.model.net[0].bias.data.double()
    assert "float64" in (why_not_fused(s_eager) or "")


@pytest.mark.parametrize("optim", [{"name": "adam", "lr": 0.01},
                                   {"name": "sgd", "lr": 0.05, "momentum": 0.9}])
def test_resume_keeps_optimizer_state(optim):
    """Two fit calls (resume) with the fused runner equal one eager run of the same length."""
    s_eager, _ = _pair(optim=optim, epochs=30)
    _, s_half = _pair(optim=optim, epochs=15)
    cfg = with_overrides(s_half.cfg, {"train.epochs": 30})
    s_full = fit(s_half.model, s_half.task, s_half.data, cfg, optimizer=s_half.optimizer,
                 start_epoch=15, history=s_half.history)
    s_full.history = [r for r in s_full.history if r["epoch"] in (15, 30)]
    s_eager.history = [r for r in s_eager.history if r["epoch"] in (15, 30)]
    _assert_equal(s_eager, s_full)


@pytest.mark.parametrize("optim", OPTIMS[:4])
def test_numpy_kernel_agrees_to_rounding(optim):
    """The NumPy kernel (train.fast=on, tiny nets) matches eager to float rounding."""
    s_eager, s_np = _pair(optim=optim, runner=None, fast="on")
    assert s_np.runner_name == "numpy"
    for p, q in zip(s_eager.model.parameters(), s_np.model.parameters(), strict=True):
        torch.testing.assert_close(q, p, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("change", [
    {"train": {"fast": "off"}},
    {"model": {"batchnorm": True}},
    {"optim": {"name": "rmsprop"}},
    {"model": {"dropout": 0.2}},
    {"model": {"activation": "elu"}},
    {"model": {"crosses": ["x1*x2"]}},
])
def test_unsupported_falls_back_to_eager(change):
    """Anything the fused runner cannot do bitwise trains with the eager runner (auto)."""
    import mlplab

    cfg = {"data": {"source": "gaussians", "n_samples": 100}, "model": {"hidden": [4]},
           "train": {"epochs": 5, "eval_every": 5}, "log": {"quiet": True, "plots": False}}
    for k, v in change.items():
        cfg[k] = {**cfg.get(k, {}), **v}
    run = mlplab.train(cfg, save=False)
    assert run.info["runner"] == "eager"


@pytest.mark.parametrize("change, match", [
    ({"model": {"dropout": 0.2}}, "the fast runner does not support model.dropout"),
    ({"model": {"batchnorm": True}}, "the fast runner does not support model.batchnorm"),
    ({"optim": {"name": "rmsprop"}}, "train.fast=on cannot train this run: optimizer RMSprop"),
])
def test_forced_fast_refuses_up_front(change, match):
    """train.fast=on never trains something it cannot do: one error before any epoch."""
    import mlplab

    cfg = {"data": {"source": "gaussians", "n_samples": 100}, "model": {"hidden": [4]},
           "train": {"epochs": 5, "fast": "on"}, "log": {"quiet": True, "plots": False}}
    for k, v in change.items():
        cfg[k] = {**cfg.get(k, {}), **v}
    with pytest.raises(ConfigError, match=match):
        mlplab.train(cfg, save=False)


def test_select_runner_explains():
    """why_not_fused names the reason; select_runner picks the fused runner when it applies."""
    _, s_fast = _pair(epochs=1)
    assert why_not_fused(s_fast) is None
    runner, name = select_runner(s_fast)
    assert name == "fast" and isinstance(runner, FastRunner)
    assert not isinstance(runner, NumpyRunner)  # NumPy is never automatic
    s_fast.data.w = torch.ones(64)
    assert select_runner(s_fast)[1] == "eager"  # sample weights: not supported fused


@pytest.mark.parametrize("value, mode", [("off", "off"), ("on", "on"), (False, "off"),
                                         (True, "on"), ("true", "on"), ("auto", "auto")])
def test_fast_switch_accepts_yaml_booleans(value, mode):
    """`--set train.fast=off` reads as YAML false: on/off/true/false all mean the switch."""
    assert with_overrides(RunConfig(), {"train.fast": value}).train.fast == mode


@pytest.mark.parametrize("optim", [*OPTIMS, {"name": "rmsprop", "lr": 0.01, "momentum": 0.5}])
def test_registry_multi_tensor_optimizers_equal_the_per_parameter_loop(optim):
    """The registry builds foreach (multi-tensor) optimizers for speed: over mini-batches of a
    30-32-32-1 net their weights are bitwise those of torch.optim's default per-parameter
    loop with the same hyperparameters."""
    from mlplab import registry

    cfg = RunConfig.from_dict({"optim": optim})
    torch_cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
                 "rmsprop": torch.optim.RMSprop}[optim["name"]]
    model = build_model(ModelSpec(30, [32, 32], ["relu", "relu"], 1), 0)
    twin = copy.deepcopy(model)
    ours = registry.OPTIMIZERS[optim["name"]](model.parameters(), cfg.optim)
    ref = torch_cls(twin.parameters(), foreach=False,
                    **{k: v for k, v in ours.defaults.items() if k in (
                        "lr", "momentum", "nesterov", "weight_decay", "betas", "eps")})
    assert ours.defaults["foreach"] and not ref.defaults["foreach"]
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        xb = torch.randn(64, 30, generator=g)
        yb = (xb[:, :1] > 0).float()
        for net, opt in ((model, ours), (twin, ref)):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        assert torch.equal(p, q)
