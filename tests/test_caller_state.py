"""``mlplab.train`` and ``build_model`` leave the caller's torch settings as they found them."""

from __future__ import annotations

import pytest
import torch

import mlplab
from mlplab.models import ModelSpec, build_model, build_seeded
from mlplab.training.callbacks import Callback

SMALL = {"data": {"source": "moons", "n_samples": 120}, "model": {"hidden": [4]},
         "train": {"epochs": 4, "eval_every": 2}}


class Boom(Callback):
    """Raises at the first evaluation."""

    def on_eval(self, state, row):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield 2
    torch.set_num_threads(before)


def test_train_restores_thread_count(two_threads: int) -> None:
    """Regression (issue 29): train() left torch at 1 thread (2 -> 1) after it returned."""
    interop = torch.get_num_interop_threads()
    mlplab.train(SMALL, save=False, progress=False)
    assert torch.get_num_threads() == two_threads
    assert torch.get_num_interop_threads() == interop


def test_train_restores_thread_count_on_error(two_threads: int) -> None:
    """The thread count comes back when training raises, too."""
    with pytest.raises(RuntimeError, match="boom"):
        mlplab.train(SMALL, save=False, progress=False, callbacks=[Boom()])
    assert torch.get_num_threads() == two_threads


def test_build_model_with_seed_keeps_global_rng() -> None:
    """build_model(seed=...) draws repeatable weights without reseeding the global generator."""
    spec = ModelSpec(2, [5, 3], ["relu", "tanh"], 1)
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = build_model(spec, seed=7)
    assert torch.equal(torch.random.get_rng_state(), before)
    b = build_model(spec, seed=7)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_build_seeded_is_the_plain_script_order() -> None:
    """build_seeded: manual_seed then build, so the generator ends where a plain script's does."""
    spec = ModelSpec(2, [4], ["relu"], 1)
    build_seeded(spec, 3)
    after = torch.random.get_rng_state()
    torch.manual_seed(3)
    plain = [torch.nn.Linear(2, 4), torch.nn.Linear(4, 1)]
    assert torch.equal(torch.random.get_rng_state(), after)
    ours = build_model(spec, seed=3)
    assert torch.equal(ours.linears()[0].weight, plain[0].weight)
