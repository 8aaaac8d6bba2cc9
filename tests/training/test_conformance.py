"""Every runner x every training option: equal to the eager runner, or refused up front.

The eager runner (autograd + torch.optim through :class:`~mlplab.training.step.Step`) is the
reference. For each runner and option the test trains the same initial model on the same data
and checks one of:

- ``exact``: weights, optimizer state and history (but the clock) are ``torch.equal`` /
  ``==`` to eager's: the fused torch runner (same aten operators in the same order) and the
  stream runner (the same step; its batches come from a source instead of tensors; here a
  source that yields the eager runner's batches);
- ``close``: weights within ``ATOL`` after ``EPOCHS`` epochs: ``train.fast=on`` (the NumPy
  kernel, whose kernels round differently; the fused runner where a schedule is on) and the
  DDP runner in one process (its loss is ``sum(l) * world / batch`` rather than torch's
  fused mean: one rounding apart per step);
- ``refused``: a :class:`~mlplab.errors.ConfigError` naming the option, before any epoch.

The stacked runner (K members as one batched model, trained by the same loop) is checked
member by member against each member's solo :func:`mlplab.train` below: every option, a user
callback, NaN detection and interruption.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pytest
import torch

from mlplab.config import RunConfig
from mlplab.errors import ConfigError, TrainingError
from mlplab.models import ModelSpec, build_model
from mlplab.tasks import resolve_task
from mlplab.training.callbacks import Callback
from mlplab.training.loop import DataTensors, eager_runner, fit
from mlplab.training.runners import support
from mlplab.training.runners.ddp import DDPRunner, DistContext
from mlplab.training.runners.fused import FastRunner
from mlplab.training.runners.stream import StreamRunner

EPOCHS, ATOL = 12, 1e-5  # rounding differences stay below ATOL over EPOCHS epochs here
TASK = resolve_task("binary", n_classes=2, n_targets=1, loss="auto", output="logits")

# option -> (config changes, uses sample weights)
OPTIONS: dict[str, tuple[dict[str, Any], bool]] = {
    "none": ({}, False),
    "l1": ({"optim": {"l1": 1e-3}}, False),
    "weight_decay": ({"optim": {"name": "sgd", "weight_decay": 0.05, "momentum": 0.9}}, False),
    "clip": ({"train": {"clip_grad_norm": 0.05}}, False),
    "schedule.step": ({"schedule": {"name": "step", "step_size": 4, "gamma": 0.5}}, False),
    "schedule.cosine": ({"schedule": {"name": "cosine"}}, False),
    "schedule.plateau": ({"schedule": {"name": "plateau", "patience": 0}}, False),
    "schedule.onecycle": ({"schedule": {"name": "onecycle"}}, False),
    "early_stopping": ({"optim": {"lr": 0.5}, "train": {"early_stopping": 1,
                                                         "eval_every": 1}}, False),
    "sample_weights": ({}, True),
    "mini_batches": ({"train": {"batch_size": 16}}, False),
    "eval_every": ({"train": {"eval_every": 5}}, False),
}
# the option names the runners' declarations use (support.OPTIONS)
DECLARED = {"l1": "optim.l1", "clip": "train.clip_grad_norm", "early_stopping":
            "train.early_stopping", "sample_weights": "sample weights",
            "mini_batches": "mini-batches", **{k: k for k in OPTIONS if k.startswith("sch")}}


def _data(weighted: bool) -> DataTensors:
    g = torch.Generator().manual_seed(0)
    X = torch.randn(80, 3, generator=g)
    y = ((X[:, 0] * X[:, 1] + 0.3 * X[:, 2]) > 0).float()[:, None]
    w = torch.rand(48, generator=g) + 0.5 if weighted else None
    return DataTensors({"train": X[:48], "val": X[48:64], "test": X[64:]},
                       {"train": y[:48], "val": y[48:64], "test": y[64:]}, w)


def _cfg(changes: dict[str, Any], **train: Any) -> RunConfig:
    d: dict[str, Any] = {"seed": 3, "optim": {"name": "adam", "lr": 0.05},
                         "train": {"epochs": EPOCHS, "eval_every": 3, "batch_size": "full",
                                   "early_stopping": None}}  # stopping only where asked
    for key, value in changes.items():
        d[key] = {**d.get(key, {}), **value}
    d["train"] = {**d["train"], **train}
    return RunConfig.from_dict(d)


class MemorySource:
    """A stream source yielding the eager runner's batches (same seeded randperm)."""

    def __init__(self, data: DataTensors, seed: int) -> None:
        self.X, self.y = data.X["train"].numpy(), data.y["train"].numpy()[:, 0]
        self.gen = torch.Generator().manual_seed(seed)

    def epoch(self, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        n = len(self.X)
        if batch_size >= n:
            yield self.X, self.y
            return
        order = torch.randperm(n, generator=self.gen).numpy()
        X, y = self.X[order], self.y[order]
        for i in range(0, n, batch_size):
            yield X[i:i + batch_size], y[i:i + batch_size]


class LazyFused:
    """The fused runner, built from the state fit makes (it needs the state)."""

    name, supports = "fast", support.FUSED

    def __init__(self) -> None:
        self.runner: FastRunner | None = None

    def __call__(self, state: Any, n: int) -> None:
        self.runner = self.runner or FastRunner(state)
        self.runner(state, n)


@pytest.fixture(scope="module")
def gloo() -> Iterator[None]:
    """A one-process gloo group, so DDP's runner can run in this process."""
    import tempfile

    dist = torch.distributed
    with tempfile.TemporaryDirectory() as d:
        dist.init_process_group("gloo", init_method=f"file://{d}/rdzv", rank=0, world_size=1)
        try:
            yield
        finally:
            dist.destroy_process_group()


# runner -> (how it trains: (data, cfg) -> (runner, cfg), comparison, declared support)
RUNNERS: dict[str, tuple[Callable[[DataTensors, RunConfig], tuple[Any, RunConfig]], str,
                         frozenset[str]]] = {
    "fused": (lambda d, c: (LazyFused(), c), "exact", support.FUSED),
    "stream": (lambda d, c: (StreamRunner(MemorySource(d, c.seed)), c),  # type: ignore[arg-type]
               "exact", support.STREAM),
    "numpy": (lambda d, c: (None, RunConfig.from_dict({**c.to_dict(),
                                                       "train": {**c.train.model_dump(),
                                                                 "fast": "on"}})),
              "close", support.FUSED),
    "ddp": (lambda d, c: (DDPRunner(DistContext()), c), "close", support.DDP),
}


def _train(data: DataTensors, cfg: RunConfig, runner: Any,
           callbacks: Sequence[Callback] = ()) -> Any:
    model = build_model(ModelSpec(3, [6, 5], ["tanh", "relu"], 1), seed=1)
    return fit(model, TASK, data, cfg, list(callbacks), runner=runner)


def _assert_matches(ref: Any, got: Any, how: str) -> None:
    for p, q in zip(ref.model.parameters(), got.model.parameters(), strict=True):
        if how == "exact":
            assert torch.equal(p, q)
        else:
            torch.testing.assert_close(q, p, atol=ATOL, rtol=0)
    assert [r["epoch"] for r in ref.history] == [r["epoch"] for r in got.history]
    assert (ref.stop_reason, ref.best_epoch) == (got.stop_reason, got.best_epoch)
    if how == "exact":
        strip = [{k: v for k, v in r.items() if k != "seconds"} for r in ref.history]
        assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in got.history]


@pytest.mark.parametrize("option", list(OPTIONS))
@pytest.mark.parametrize("name", list(RUNNERS))
def test_runner_option_matches_eager_or_is_refused(name: str, option: str, gloo: None) -> None:
    changes, weighted = OPTIONS[option]
    make, how, supports = RUNNERS[name]
    data, cfg = _data(weighted), _cfg(changes)
    runner, cfg = make(data, cfg)
    if DECLARED.get(option, "always") not in supports | {"always"}:
        with pytest.raises(ConfigError, match=f"does not support {DECLARED[option]}"):
            _train(data, cfg, runner)
        return
    ref = _train(data, cfg, eager_runner)
    got = _train(data, cfg, runner)
    _assert_matches(ref, got, how)


@pytest.mark.parametrize("name", list(RUNNERS))
def test_user_callback_sees_the_same_calls(name: str, gloo: None, recorder: Any) -> None:
    make, how, _ = RUNNERS[name]
    data = _data(False)
    runner, cfg = make(data, _cfg({}))
    a, b = recorder(every=2), recorder(every=2)
    ref = _train(data, cfg, eager_runner, [a])
    got = _train(data, cfg, runner, [b])
    assert a.calls == b.calls and ("epoch", 2) in a.calls and ("eval", 3) in a.calls
    _assert_matches(ref, got, how)


@pytest.mark.parametrize("name", list(RUNNERS))
def test_nan_is_detected_at_the_same_epoch(name: str, gloo: None) -> None:
    make, _, _ = RUNNERS[name]
    data = _data(False)
    data.X["train"][7, 1] = float("inf")  # one bad value: the loss becomes NaN at once
    runner, cfg = make(data, _cfg({}))
    messages = []
    for r in (eager_runner, runner):
        with pytest.raises(TrainingError, match="training diverged") as e:
            _train(data, cfg, r)
        messages.append(str(e.value))
    assert messages[0] == messages[1] and "at epoch 3" in messages[0]


class Interrupt:
    """Ctrl-C in the middle of training: runs ``inner`` up to ``at`` epochs, then raises."""

    def __init__(self, inner: Any, at: int) -> None:
        self.inner, self.at = inner, at
        self.name = getattr(inner, "name", "eager")
        self.supports = getattr(inner, "supports", support.ALL)

    def __call__(self, state: Any, n: int) -> None:
        run = min(n, self.at - state.epoch)
        if run > 0:
            (self.inner or eager_runner)(state, run)
        if state.epoch >= self.at:
            raise KeyboardInterrupt


@pytest.mark.parametrize("name", list(RUNNERS))
def test_interruption_stops_cleanly_at_the_same_point(name: str, gloo: None) -> None:
    make, how, _ = RUNNERS[name]
    data = _data(False)
    runner, cfg = make(data, _cfg({}))
    if runner is None:  # the NumPy kernel is chosen by fit: build it the way fit does
        from mlplab.training.runners.select import select_runner

        class Chosen:
            name, supports, runner = "numpy", support.FUSED, None

            def __call__(self, state: Any, n: int) -> None:
                self.runner = self.runner or select_runner(state)[0]
                self.runner(state, n)

        runner = Chosen()
    ref = _train(data, cfg, Interrupt(eager_runner, 5))
    got = _train(data, cfg, Interrupt(runner, 5))
    assert ref.stop_reason == "interrupted at epoch 5" and ref.epoch == 5
    _assert_matches(ref, got, how)


# --- the stacked runner: each member of a stack vs its solo mlplab.train -------------------


def _member_cfgs(changes: dict[str, Any], seeds: Sequence[int] = (0, 1)) -> list[RunConfig]:
    cfgs = []
    for seed in seeds:
        d = _cfg(changes).to_dict()
        d.update(seed=seed, data={"source": "gaussians", "n_samples": 80, "val_size": 0.2},
                 model={"hidden": [6, 5], "activation": "tanh", "ensemble": 1},
                 log={"quiet": True, "plots": False})
        cfgs.append(RunConfig.from_dict(d))
    return cfgs


def _assert_member_is_solo(member: Any, solo: Any) -> None:
    """Weights, history rows (the clock aside), stop reason and best epoch: equal to rounding
    (the stack's batched ``bmm`` kernels round differently from ``mm``)."""
    for p, q in zip(solo.model.parameters(), member.model.parameters(), strict=True):
        torch.testing.assert_close(q, p, atol=1e-4, rtol=0)
    assert [r["epoch"] for r in solo.history] == [r["epoch"] for r in member.history]
    for a, b in zip(solo.history, member.history, strict=True):
        assert a.keys() == b.keys()
        for key in a.keys() - {"epoch", "seconds"}:
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-5), key
    for key in ("stop_reason", "best_epoch", "epochs_run"):  # early stopping's verdict too
        assert solo.info[key] == member.info[key], key


@pytest.mark.parametrize("option", ["none", "l1", "weight_decay", "clip", "mini_batches",
                                    "eval_every", "schedule.cosine", "early_stopping",
                                    "sample_weights"])
def test_stacked_member_equals_its_solo_run(option: str) -> None:
    """A stack of K=2 members vs each member's solo mlplab.train: equal to rounding, or
    refused before training."""
    import mlplab
    from mlplab.training.runners.stacked import train_members

    changes, weighted = OPTIONS[option]
    if weighted:  # train_members takes configs only: no per-row weights to pass
        assert "sample weights" not in support.STACKED
        return
    cfgs = _member_cfgs(changes)
    declared = DECLARED.get(option)
    if declared is not None and declared not in support.STACKED:
        with pytest.raises(ConfigError, match=f"stacked runner does not support {declared}"):
            train_members(cfgs)
        return
    stacked = train_members(cfgs)
    for cfg, member in zip(cfgs, stacked, strict=True):
        _assert_member_is_solo(member, mlplab.train(copy.deepcopy(cfg), save=False))
    if option == "early_stopping":  # the option is exercised: a member stopped early
        assert any(str(m.info["stop_reason"]).startswith("early stopping") for m in stacked)


def test_stacked_members_call_user_callbacks_as_solo_runs(recorder: Any) -> None:
    """Each member's own user callback (``every`` 2, evaluations every 3) sees the calls its
    solo run's sees; one that stops its member stops only that member, with its reason."""
    import mlplab
    from mlplab.training.runners.stacked import train_members

    class StopAt8(recorder):  # type: ignore[misc,valid-type]
        def on_epoch(self, state: Any) -> None:
            super().on_epoch(state)
            if state.epoch == 8:
                state.stop, state.stop_reason = True, "enough"

    cfgs = _member_cfgs({})
    made = [[recorder(every=2)], [StopAt8(every=2)]]
    stacked = train_members(cfgs, callbacks=made)
    for cfg, member, cbs in zip(cfgs, stacked, made, strict=True):
        ref = type(cbs[0])(every=2)
        _assert_member_is_solo(member, mlplab.train(copy.deepcopy(cfg), save=False,
                                                    callbacks=[ref]))
        assert cbs[0].calls == ref.calls and ("epoch", 2) in ref.calls
    assert stacked[1].info["stop_reason"] == "enough" and stacked[1].info["epochs_run"] == 8
    assert stacked[0].info["epochs_run"] == EPOCHS


def test_stacked_member_diverges_as_its_solo_run() -> None:
    """A member whose loss becomes inf ends with the TrainingError (same message) its solo run
    raises, at the same epoch; the other member trains on and equals its solo run."""
    import mlplab
    from mlplab.training.runners.stacked import train_members

    cfgs = [RunConfig.from_dict({"data": {"source": "linear", "n_samples": 100,
                                          "scale": "none"}, "seed": 0, "model": {"hidden": [4]},
                                 "optim": {"name": "sgd", "lr": lr},
                                 "train": {"epochs": 30, "eval_every": 10},
                                 "log": {"quiet": True, "plots": False}})
            for lr in (0.001, 5.0)]
    good, bad = train_members(cfgs)
    with pytest.raises(TrainingError, match="training diverged") as solo_error:
        mlplab.train(copy.deepcopy(cfgs[1]), save=False)
    assert isinstance(bad, TrainingError) and str(bad) == str(solo_error.value)
    assert not isinstance(good, TrainingError)
    _assert_member_is_solo(good, mlplab.train(copy.deepcopy(cfgs[0]), save=False))


def _interrupting(run: Callable[..., None], at: int) -> Callable[..., None]:
    """A group's ``run`` that raises Ctrl-C once its members reach epoch ``at``."""

    def interrupted(self: Any, runner: Any, n: int) -> None:
        epoch = next(st.epoch for st in self.states if not st.stop)
        if min(n, at - epoch) > 0:
            run(self, runner, min(n, at - epoch))
        if epoch + n >= at:
            raise KeyboardInterrupt

    return interrupted


def test_stacked_members_stop_at_ctrl_c_as_solo_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C during a segment stops a stack where it stops each solo run: stop reason,
    last row at that epoch, the same weights."""
    import mlplab
    from mlplab.training.loop import Solo
    from mlplab.training.runners.stacked import train_members
    from mlplab.training.runners.stacked_group import MemberGroup

    monkeypatch.setattr(Solo, "run", _interrupting(Solo.run, 5))
    monkeypatch.setattr(MemberGroup, "run", _interrupting(MemberGroup.run, 5))
    cfgs = _member_cfgs({})
    stacked = train_members(cfgs)
    for cfg, member in zip(cfgs, stacked, strict=True):
        assert member.info["stop_reason"] == "interrupted at epoch 5"
        assert [r["epoch"] for r in member.history] == [3, 5]
        _assert_member_is_solo(member, mlplab.train(copy.deepcopy(cfg), save=False))


class BatchRecorder(Callback):
    """Records each on_batch_end: (epoch, batch index, sum of the weights then)."""

    batch_end = True

    def __init__(self) -> None:
        self.calls: list[tuple[int, int, float]] = []

    def on_batch_end(self, state: Any, batch_index: int) -> None:
        total = float(sum(p.detach().sum() for p in state.model.parameters()))
        self.calls.append((state.epoch, batch_index, total))


@pytest.mark.parametrize("name", list(RUNNERS))
def test_batch_end_seam_matches_eager_or_is_refused(name: str, gloo: None) -> None:
    """A callback's on_batch_end is called after every step with the weights of that step by
    the runners that declare it, and refused up front by the others (never skipped)."""
    make, how, supports = RUNNERS[name]
    data = _data(False)
    runner, cfg = make(data, _cfg({}, batch_size=16))  # 48 rows: 3 batches an epoch
    a, b = BatchRecorder(), BatchRecorder()
    if support.BATCH_END not in supports:
        with pytest.raises(ConfigError, match=r"does not support callback\.on_batch_end"):
            _train(data, cfg, runner, [b])
        assert b.calls == []
        return
    ref = _train(data, cfg, eager_runner, [a])
    got = _train(data, cfg, runner, [b])
    assert [c[:2] for c in a.calls] == [c[:2] for c in b.calls]
    assert [c[:2] for c in a.calls[:4]] == [(0, 0), (0, 1), (0, 2), (1, 0)]
    assert len(a.calls) == 3 * EPOCHS
    np.testing.assert_allclose([c[2] for c in b.calls], [c[2] for c in a.calls], atol=1e-4)
    _assert_matches(ref, got, how)


def test_fast_auto_leaves_a_batch_callback_to_the_eager_runner() -> None:
    """train.fast=auto never picks a runner that would skip a batch callback."""
    data = _data(False)
    rec = BatchRecorder()
    state = _train(data, _cfg({}, batch_size=16, fast="auto"), None, [rec])
    assert state.runner_name == "eager" and len(rec.calls) == 3 * EPOCHS
    assert _train(data, _cfg({}, batch_size=16, fast="auto"), None).runner_name == "fast"
