"""The playground's frame scores are the training loop's: one definition (TaskSpec.score)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mlplab import registry
from mlplab.config import RunConfig
from mlplab.models import build_model
from mlplab.pipeline import model_spec, prepare
from mlplab.training.loop import fit
from mlplab.web.limits import Limits
from mlplab.web.messages import data_message, frame_message


def _data(kind: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(160, 2)).astype(np.float32)
    if kind == "binary":
        return X, (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
    if kind == "multiclass":
        return X, np.digitize(X[:, 0], [-0.5, 0.5])
    if kind == "counts":
        return X, rng.poisson(np.exp(0.6 * X[:, 0] + 0.4)).astype(np.float64)
    return X, 3.0 * X[:, 0] - X[:, 1] + 10.0  # values far from 0: R² needs the right units


# every loss of the registry, with a task and head it trains (the test fails if one is added
# to the registry without a row here)
SETUPS = {
    "bce_logits": ("binary", {}),
    "bce": ("binary", {"model": {"output": "sigmoid"}}),
    "cross_entropy": ("multiclass", {"task": "multiclass"}),
    "nll": ("multiclass", {"task": "multiclass", "model": {"output": "softmax"}}),
    "mse": ("values", {"task": "regression"}),
    "l1": ("values", {"task": "regression"}),
    "poisson": ("counts", {"task": "regression"}),
}


def test_every_registry_loss_has_a_setup() -> None:
    assert set(SETUPS) == set(registry.LOSSES)


@pytest.mark.parametrize("loss", sorted(SETUPS))
def test_frame_score_equals_the_history_rows(loss: str) -> None:
    """Regression (issue 29): the playground computed R² itself on raw outputs, -0.504 for a
    poisson head (log-rates) where the loop's history said 0.99998."""
    kind, extra = SETUPS[loss]
    cfg = RunConfig.from_dict({**extra, "loss": loss, "model": {"hidden": [8],
                               **extra.get("model", {})},
                               "train": {"epochs": 200, "eval_every": 200,
                                         "early_stopping": "off"},
                               "log": {"quiet": True, "plots": False}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nll on a softmax warns
        p = prepare(cfg, _data(kind))
    model = build_model(model_spec(p.cfg, p.n_features, p.task), seed=0)
    tensors = p.tensors("cpu")
    state = fit(model, p.task, tensors, p.cfg)
    row = state.history[-1]
    view, value_range, _ = data_message(p.cfg, p, None, None, Limits())
    frame = frame_message(model, p, tensors, view, value_range, Limits(), False)
    name = p.task.score_name
    assert frame["train_score"] == pytest.approx(row[f"train_{name}"], abs=1e-6)
    assert frame["test_score"] == pytest.approx(row[f"test_{name}"], abs=1e-6)
    assert frame["test_loss"] == pytest.approx(row["test_loss"], abs=1e-6)
    if loss == "poisson":  # a trained count model explains the counts
        assert row["test_r2"] > 0.3
