"""The fused runner on mini-batches: bitwise the eager runner's and a plain PyTorch loop's.

The fused runner draws the eager runner's permutation from the same generator, gathers the
rows once per epoch and calls autograd's and torch.optim's kernels in the same order, so after
several epochs of mini-batches (a short last batch included) its weights, optimizer state and
history are ``torch.equal`` / ``==`` to the eager runner's, and its weights to those of an
independent plain PyTorch loop (``nn.Sequential``, ``torch.optim`` with its default
per-parameter loop, ``loss.backward()``).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch
from torch import nn

import mlplab
from mlplab.config import RunConfig
from mlplab.models import ModelSpec, build_model
from mlplab.tasks import resolve_task
from mlplab.training.loop import DataTensors, eager_runner, fit
from mlplab.training.runners.select import select_runner

BINARY = resolve_task("binary", n_classes=2, n_targets=1, loss="auto", output="logits")
# (in, hidden, activations, rows, batch): the last batch is short in each
NETS = {
    "30-256-256-1": (30, [256, 256], ["relu", "relu"], 600, 256),
    "32-64-64-1": (32, [64, 64], ["relu", "relu"], 2500, 1024),
    "3-5-4-1": (3, [5, 4], ["tanh", "gelu"], 90, 16),
}
OPTIMS = {
    "sgd": {"name": "sgd", "lr": 0.05},
    "sgd-momentum-wd": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 1e-3},
    "sgd-nesterov": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True},
    "adam": {"name": "adam", "lr": 3e-3},
    "adam-wd": {"name": "adam", "lr": 3e-3, "weight_decay": 1e-2},
    "adamw": {"name": "adamw", "lr": 3e-3, "weight_decay": 0.1},
}


def _data(n_in: int, rows: int, val: bool = False,
          dtype: torch.dtype = torch.float32) -> DataTensors:
    g = torch.Generator().manual_seed(0)
    X = torch.randn(rows + 64, n_in, generator=g, dtype=dtype)
    y = ((X[:, 0] * X[:, 1] + 0.5 * X[:, 2]) > 0).to(dtype)[:, None]
    Xs, ys = {"train": X[:rows], "test": X[rows:]}, {"train": y[:rows], "test": y[rows:]}
    if val:
        Xs["val"], ys["val"] = X[rows:rows + 32], y[rows:rows + 32]
    return DataTensors(Xs, ys)


def _cfg(optim: dict[str, Any], batch: int, epochs: int = 3, **train: Any) -> RunConfig:
    return RunConfig.from_dict({"seed": 5, "optim": optim, "schedule": train.pop("schedule", {}),
                                "train": {"epochs": epochs, "batch_size": batch,
                                          "eval_every": 1, "early_stopping": None, **train}})


def _both(net: str, optim: dict[str, Any], val: bool = False, epochs: int = 3,
          dtype: torch.dtype = torch.float32, **train: Any) -> tuple[Any, Any]:
    n_in, hidden, acts, rows, batch = NETS[net]
    data, cfg = _data(n_in, rows, val, dtype), _cfg(optim, batch, epochs, **train)
    model = build_model(ModelSpec(n_in, hidden, acts, 1), seed=2).to(dtype)
    twin = copy.deepcopy(model)
    ref = fit(model, BINARY, data, cfg, runner=eager_runner)
    got = fit(twin, BINARY, data, cfg)  # the automatic choice
    return ref, got


def _assert_equal(ref: Any, got: Any, dtype: torch.dtype = torch.float32) -> None:
    assert (ref.runner_name, got.runner_name) == ("eager", "fast")
    for p, q in zip(ref.model.parameters(), got.model.parameters(), strict=True):
        assert p.dtype == q.dtype == dtype
        assert torch.equal(p, q)
        for key, value in ref.optimizer.state[p].items():
            assert torch.equal(torch.as_tensor(value),
                               torch.as_tensor(got.optimizer.state[q][key])), key
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in ref.history]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in got.history]
    assert (ref.stop_reason, ref.best_epoch, ref.epoch) == (got.stop_reason, got.best_epoch,
                                                            got.epoch)


@pytest.mark.parametrize("optim", list(OPTIMS))
@pytest.mark.parametrize("net", list(NETS))
def test_widths_and_optimizers_equal_eager(net: str, optim: str) -> None:
    _assert_equal(*_both(net, OPTIMS[optim]))


@pytest.mark.parametrize("optim", ["sgd-momentum-wd", "adam"])
def test_l1_and_clipping_equal_eager(optim: str) -> None:
    _assert_equal(*_both("30-256-256-1", {**OPTIMS[optim], "l1": 1e-4}, clip_grad_norm=0.5))
    _assert_equal(*_both("3-5-4-1", {**OPTIMS[optim], "l1": 1e-3}, clip_grad_norm=0.05))


@pytest.mark.parametrize("schedule", [{"name": "onecycle"},  # steps after every batch
                                      {"name": "step", "step_size": 1, "gamma": 0.5},
                                      {"name": "cosine"},  # these two after every epoch
                                      {"name": "plateau", "patience": 0}])
@pytest.mark.parametrize("optim", ["sgd-nesterov", "adamw"])
def test_schedules_equal_eager(schedule: dict[str, Any], optim: str) -> None:
    _assert_equal(*_both("32-64-64-1", OPTIMS[optim], epochs=4, schedule=schedule))


def test_unshuffled_batches_equal_eager() -> None:
    _assert_equal(*_both("3-5-4-1", OPTIMS["adam"], shuffle=False))


def test_early_stopping_restores_the_same_best_weights() -> None:
    """A run that stops early ends with the best epoch's weights, as the eager run does."""
    ref, got = _both("3-5-4-1", {"name": "sgd", "lr": 2.0, "momentum": 0.9}, val=True,
                     epochs=40, early_stopping=2)
    assert ref.best_epoch is not None and ref.epoch < 40  # it did stop and restore
    _assert_equal(ref, got)


def test_resume_equals_eager_resume() -> None:
    """Two fit calls (a checkpoint resumed with its optimizer) leave what the eager runner
    leaves through the same two calls (fit reseeds the batch order from the start epoch)."""
    n_in, hidden, acts, rows, batch = NETS["3-5-4-1"]
    data = _data(n_in, rows)
    ends = []
    for runner in (eager_runner, None):
        model = build_model(ModelSpec(n_in, hidden, acts, 1), seed=2)
        half = fit(model, BINARY, data, _cfg(OPTIMS["adam"], batch, epochs=2), runner=runner)
        full = fit(model, BINARY, data, _cfg(OPTIMS["adam"], batch, epochs=4), runner=runner,
                   optimizer=half.optimizer, start_epoch=2, history=half.history)
        assert full.runner_name == ("eager" if runner else "fast")
        ends.append(full)
    _assert_equal(*ends)


@pytest.mark.parametrize("optim", ["sgd-momentum-wd", "adam", "adamw"])
def test_equals_a_plain_pytorch_loop(optim: str) -> None:
    """An independent reference: nn.Sequential, torch.optim's per-parameter loop, the same
    seeded permutation per epoch (fit seeds its generator with ``cfg.seed``)."""
    n_in, hidden, acts, rows, batch = NETS["30-256-256-1"]
    data, cfg = _data(n_in, rows), _cfg(OPTIMS[optim], batch)
    model = build_model(ModelSpec(n_in, hidden, acts, 1), seed=2)
    net = nn.Sequential(nn.Linear(30, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                        nn.Linear(256, 1))
    net.load_state_dict({k.removeprefix("net."): v for k, v in model.state_dict().items()})
    o = OPTIMS[optim]
    kw = {k: v for k, v in o.items() if k in ("lr", "momentum", "weight_decay")}
    opt = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam,
           "adamw": torch.optim.AdamW}[o["name"]](net.parameters(), foreach=False, **kw)
    got = fit(model, BINARY, data, cfg)
    assert got.runner_name == "fast"
    X, y = data.X["train"], data.y["train"]
    gen = torch.Generator().manual_seed(cfg.seed)
    for _ in range(cfg.train.epochs):
        perm = torch.randperm(len(X), generator=gen)
        for idx in perm.split(batch):
            loss = nn.functional.binary_cross_entropy_with_logits(net(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    for p, q in zip(net.parameters(), model.parameters(), strict=True):
        assert torch.equal(p, q)


F64 = torch.float64


@pytest.mark.parametrize("optim", list(OPTIMS))
@pytest.mark.parametrize("net", list(NETS))
def test_float64_widths_and_optimizers_equal_eager(net: str, optim: str) -> None:
    """float64 parameters and rows (the estimators' dtype for float64 X): bitwise eager."""
    _assert_equal(*_both(net, OPTIMS[optim], dtype=F64), dtype=F64)


@pytest.mark.parametrize("optim", ["sgd-momentum-wd", "adamw"])
def test_float64_l1_clipping_schedule_equal_eager(optim: str) -> None:
    _assert_equal(*_both("32-64-64-1", {**OPTIMS[optim], "l1": 1e-4}, clip_grad_norm=0.5,
                         schedule={"name": "onecycle"}, dtype=F64), dtype=F64)


def test_float64_early_stopping_and_unshuffled_equal_eager() -> None:
    ref, got = _both("3-5-4-1", {"name": "sgd", "lr": 2.0, "momentum": 0.9}, val=True,
                     epochs=40, early_stopping=2, dtype=F64)
    assert ref.best_epoch is not None and ref.epoch < 40
    _assert_equal(ref, got, dtype=F64)
    _assert_equal(*_both("3-5-4-1", OPTIMS["adam"], shuffle=False, dtype=F64), dtype=F64)


def test_chosen_automatically_and_refusals_fall_back() -> None:
    """train.fast=auto picks the fused runner for mini-batches; sample weights (which it
    does not implement) keep the eager runner, and train.fast=on refuses them up front."""
    ref, got = _both("3-5-4-1", OPTIMS["adam"], epochs=1)
    assert select_runner(got)[1] == "fast"
    got.data.w = torch.ones(len(got.data.X["train"]))
    assert select_runner(got)[1] == "eager"
    cfg = {"data": {"source": "moons", "n_samples": 300}, "model": {"hidden": [8]},
           "train": {"epochs": 2, "batch_size": 32}, "log": {"quiet": True, "plots": False}}
    assert mlplab.train(cfg, save=False).info["runner"] == "fast"
    off = {**cfg, "train": {**cfg["train"], "fast": "off"}}
    assert mlplab.train(off, save=False).info["runner"] == "eager"


OPTIMIZER_LINES = {  # the elementwise kernels of the fused runner's optimizer step
    "add alpha": lambda a, b: a.clone().add_(b, alpha=-0.0123),
    "mul": lambda a, b: a.clone().mul_(0.999),
    "lerp": lambda a, b: a.clone().lerp_(b, 0.1),
    "lerp, weight >= 0.5": lambda a, b: a.clone().lerp_(b, 0.7),
    "addcmul": lambda a, b: a.clone().addcmul_(b, b, value=0.001),
    "sqrt, div, add": lambda a, b: a.abs().sqrt().div_(0.97).add_(1e-8),
    "addcdiv": lambda a, b: a.clone().addcdiv_(b, b.abs() + 0.5, value=-0.00123),
    "sign, add": lambda a, b: a.clone().add_(b.sign(), alpha=1e-3),
    "mul by 0-dim": lambda a, b: a.clone().mul_(torch.tensor(0.37)),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("threads", [1, 2])
def test_elementwise_kernels_give_each_element_the_same_bits_anywhere(
        threads: int, dtype: torch.dtype) -> None:
    """The premise of the runner's flat buffers: one kernel over a long buffer gives each
    element the bits that the same kernel gives it in a tensor of its own (torch's foreach
    ops on the CPU run one kernel per tensor), whether the element falls in a vectorised
    stretch or a scalar tail, at any offset."""
    from mlplab import threads as policy

    g = torch.Generator().manual_seed(0)
    with policy.restoring():
        torch.set_num_threads(threads)
        for n in [*range(1, 40), 255, 4097, 40_000]:
            off = n % 29
            small = [torch.randn(n, generator=g, dtype=dtype) for _ in range(2)]
            big = [torch.cat([torch.randn(off, generator=g, dtype=dtype), t,
                              torch.randn(37, generator=g, dtype=dtype)]) for t in small]
            for name, line in OPTIMIZER_LINES.items():
                assert torch.equal(line(*small), line(*big)[off:off + n]), (name, n)


def test_a_changed_loss_or_activation_trains_eagerly(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fused runner probes the task's loss and the activation modules against its
    kernels: a loss changed elsewhere (here label smoothing) or an activation changed in the
    registry (here GELU's tanh approximation) makes ``auto`` pick the eager runner."""
    from mlplab import registry
    from mlplab.tasks import TaskSpec
    from mlplab.training.runners.fused import why_not_fused

    _, got = _both("3-5-4-1", OPTIMS["adam"], epochs=1)
    assert why_not_fused(got) is None
    with monkeypatch.context() as m:
        m.setattr(TaskSpec, "batch_loss", lambda self, out, y, w=None:
                  nn.functional.binary_cross_entropy_with_logits(out, y * 0.9 + 0.05))
        assert why_not_fused(got) == "a loss or activation whose gradient is not the fused " \
                                     "kernels'"
        assert select_runner(got)[1] == "eager"
    with monkeypatch.context() as m:
        m.setitem(registry.ACTIVATIONS, "gelu", lambda: nn.GELU(approximate="tanh"))
        assert select_runner(got)[1] == "eager"
    assert select_runner(got)[1] == "fast"
