"""The scaling folded into the first layer: equal to scaling the input, and only where linear.

Reference: the run's own model (plain PyTorch modules) on the preprocessor's transform of the
same rows. Folding reorders float32 arithmetic, so equality is within float tolerance; the
non-linear robust scaling (smooth clip) is never folded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import mlplab
from mlplab.errors import DataError
from mlplab.runs.predictor import Predictor, fold_scaling


def train(scale: str, **model: object) -> mlplab.Run:
    rng = np.random.default_rng(0)
    X = rng.normal([100.0, -3.0, 0.5], [20.0, 0.1, 2.0], (400, 3))
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(
        y=((X[:, 0] - 100) / 20 + X[:, 2] > 0).astype(int))
    return mlplab.train({"data": {"target": "y", "scale": scale},
                         "model": {"hidden": [16, 8], **model}, "train": {"epochs": 20},
                         "log": {"quiet": True}}, data=frame, save=False)


def model_on_transform(run: mlplab.Run, X: np.ndarray | pd.DataFrame) -> np.ndarray:
    feats = run.preprocessor.transform(X) if isinstance(X, pd.DataFrame) else \
        run.preprocessor.transform_array(X)
    with torch.inference_mode():
        return run.task.proba(run.model(torch.as_tensor(feats))).numpy()


def rows(n: int = 5000) -> np.ndarray:
    return np.random.default_rng(1).normal([100.0, -3.0, 0.5], [30.0, 0.2, 3.0], (n, 3))


@pytest.mark.parametrize("scale", ["standard", "minmax", "none"])
def test_linear_scaling_is_folded_and_equals_scaling_the_input(scale: str) -> None:
    run = train(scale)
    assert run.predictor().folded
    X = rows()
    np.testing.assert_allclose(run.predict_proba(X), model_on_transform(run, X),
                               rtol=1e-5, atol=1e-5)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])  # a numeric frame takes the same path
    np.testing.assert_array_equal(run.predict_proba(frame), run.predict_proba(X))


def test_the_folded_layer_is_the_scaled_layer_by_hand() -> None:
    run = train("standard")
    lin = run.model.linears()[0]
    pre = run.preprocessor
    c = np.array([pre.center[k] for k in pre.input_columns])
    s = np.array([pre.spread[k] for k in pre.input_columns])
    w = lin.weight.detach().double().numpy()  # (16, 3)
    x = rows(7)
    by_hand = ((x - c) / s) @ w.T + lin.bias.detach().double().numpy()
    f = fold_scaling(run.predictor().steps[0], c, s)  # type: ignore[arg-type]
    folded = torch.addmm(f.bias, torch.as_tensor(x, dtype=torch.float32), f.weight_t)
    np.testing.assert_allclose(folded.numpy(), by_hand, rtol=1e-5, atol=1e-4)


def test_a_missing_value_without_a_fill_value_is_refused_with_its_count() -> None:
    run = train("standard")  # impute 'error': no fill values
    X = rows(5000)
    X[[2, 4500], 1] = np.nan
    with pytest.raises(DataError, match=r"missing values in column 'b' \(2\)"):
        run.predict_proba(X)


def test_robust_scaling_clips_so_it_is_not_folded() -> None:
    run = train("robust")
    assert run.preprocessor.clip and not run.predictor().folded
    X = rows()
    X[0, 0] = 1e6  # far beyond the clip: a folded layer would be wildly off here
    np.testing.assert_allclose(run.predict_proba(X), model_on_transform(run, X),
                               rtol=1e-5, atol=1e-6)


def test_categorical_inputs_and_crosses_take_the_model_as_it_is(tiny_csv) -> None:
    frame = pd.read_csv(tiny_csv)
    run = mlplab.train({"data": {"target": "label"}, "model": {"hidden": [6]},
                        "train": {"epochs": 10}, "log": {"quiet": True}}, data=frame,
                       save=False)
    assert not run.predictor().folded  # one-hot inputs come from features()
    X = frame.drop(columns=["label"])
    np.testing.assert_allclose(run.predict_proba(X), model_on_transform(run, X),
                               rtol=1e-5, atol=1e-6)
    crossed = train("standard", crosses=["x1*x2"])
    assert not crossed.predictor().folded  # crosses multiply scaled inputs: not linear
    np.testing.assert_allclose(crossed.predict_proba(rows()),
                               model_on_transform(crossed, rows()), rtol=1e-5, atol=1e-6)


def test_weights_changed_after_loading_are_used(tmp_path) -> None:
    run = train("standard")
    loaded = mlplab.load(run.save(tmp_path / "r"))
    X = rows(300)
    np.testing.assert_array_equal(loaded.predict_proba(X), run.predict_proba(X))
    with torch.no_grad():
        loaded.model.linears()[0].weight.mul_(-1.0)  # e.g. training continued in place
    np.testing.assert_allclose(loaded.predict_proba(X), model_on_transform(loaded, X),
                               rtol=1e-5, atol=1e-5)
    assert not np.allclose(loaded.predict_proba(X), run.predict_proba(X))


def test_a_predictor_on_features_equals_the_model() -> None:
    run = train("standard", activation="tanh", dropout=0.2)
    p = Predictor(run.model, run.preprocessor, chunk=64)
    feats = torch.as_tensor(run.preprocessor.transform_array(rows(100)))
    with torch.inference_mode():
        np.testing.assert_allclose(p.predict(feats, raw=False).numpy(),
                                   run.model(feats).numpy(), rtol=1e-5, atol=1e-6)
