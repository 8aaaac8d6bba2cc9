"""Categorical inputs folded out of the first layer: category codes add weight rows.

References: the run's own model (plain PyTorch modules) on the preprocessor's one-hot
``transform`` of the same rows (equal within float tolerance: the first matrix product is split
into a smaller product plus added rows, a different float32 summation order), and the same
rows predicted alone or in another order (equal bit for bit: every row meets the same
operations on the same fixed-size block).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

import mlplab
from mlplab.errors import DataError, MlplabWarning
from mlplab.runs.run import PREDICT_CHUNK

COLORS = ["red", "green", "blue", "teal"]


def frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "x1": rng.normal(10.0, 3.0, n),
        "color": rng.choice(COLORS, n),
        "day": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 400, n), "D"),
        "size": rng.choice(["S", "M", "L"], n),
        "x2": rng.normal(size=n),
    })


def train(scale: str, columns: list[str] | None = None, impute: str = "most_frequent"
          ) -> mlplab.Run:
    data = frame(300, 0)
    y = ((data["color"] == "red") ^ (data["size"] == "S") ^ (data["x1"] > 10)).astype(int)
    data = data if columns is None else data[columns]
    return mlplab.train({"data": {"target": "y", "scale": scale, "impute": impute},
                         "model": {"hidden": [8, 8]},
                         "train": {"epochs": 20, "early_stopping": "off"},
                         "log": {"quiet": True}}, data=data.assign(y=y), save=False)


def unfolded(run: mlplab.Run, X: pd.DataFrame) -> np.ndarray:
    with torch.inference_mode():
        feats = torch.as_tensor(run.preprocessor.transform(X))
        return run.task.proba(run.model(feats)).numpy()


def folded(run: mlplab.Run, X: pd.DataFrame) -> np.ndarray:
    p = run.predictor()
    assert p.one_hot is not None
    return p.predict_frame(X, head=run.task.proba).numpy()


def odd_rows(n: int = PREDICT_CHUNK + 37) -> pd.DataFrame:
    """New rows with unseen and missing categories."""
    X = frame(n, 1)
    X.loc[::7, "color"] = "purple"  # unseen: adds no weight row
    X.loc[3::11, "color"] = None  # missing: the training fill value's category
    X.loc[5::13, "size"] = np.nan
    return X


@pytest.mark.parametrize("scale", ["standard", "robust", "minmax", "none"])
def test_folded_one_hot_equals_the_model_on_the_one_hot_matrix(scale: str) -> None:
    run = train(scale)
    X = odd_rows()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        got = folded(run, X)
        ref = unfolded(run, X)
    assert got.dtype == np.float32 and got.shape == (len(X), 2)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=2e-6)
    expect = "rows with categories not seen in training (encoded as none of the known " \
        f"ones): 'color': {int((X['color'] == 'purple').sum())} ('purple')"
    assert [str(w.message) for w in seen] == [expect, expect]  # folded, then transform


@pytest.mark.filterwarnings("ignore::mlplab.errors.MlplabWarning")
def test_the_first_layer_adds_the_weight_row_of_the_category_by_hand() -> None:
    run = train("standard", ["color", "x1"])
    first = run.model.net[0]
    W, b = first.weight.detach().double(), first.bias.detach().double()  # (8, 5): 4 colors, x1
    pre = run.preprocessor
    X = pd.DataFrame({"color": ["teal", "blue", "purple"], "x1": [10.0, 4.0, 20.0]})
    x1 = (X["x1"].to_numpy() - pre.center["x1"]) / pre.spread["x1"]
    cats = pre.categorical["color"]  # sorted: blue, green, red, teal
    rows = [W[:, cats.index("teal")], W[:, cats.index("blue")], torch.zeros(8)]
    expect = torch.stack([b + W[:, 4] * x1[i] + rows[i] for i in range(3)])
    enc = torch.from_numpy(run.predictor().one_hot.encode(X))  # type: ignore[union-attr]
    got = run.predictor().one_hot.forward(enc, {})  # type: ignore[union-attr]
    np.testing.assert_allclose(got.double(), expect, rtol=1e-5, atol=1e-6)


def test_only_categorical_inputs() -> None:
    run = train("standard", ["color", "size"])
    assert run.predictor().one_hot is not None and run.predictor().one_hot.d == 0
    X = odd_rows(50)[["color", "size"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MlplabWarning)
        np.testing.assert_allclose(folded(run, X), unfolded(run, X), rtol=1e-5, atol=2e-6)


@pytest.mark.filterwarnings("ignore::mlplab.errors.MlplabWarning")
def test_a_row_is_the_same_bits_whatever_comes_with_it() -> None:
    run = train("standard")
    X = odd_rows()
    got = folded(run, X)
    picks = [0, 3, 5, 7, PREDICT_CHUNK - 1, PREDICT_CHUNK, len(X) - 1]  # unseen, missing too
    alone = np.vstack([folded(run, X.iloc[[i]]) for i in picks])
    np.testing.assert_array_equal(alone, got[picks])
    perm = np.random.default_rng(2).permutation(len(X))
    np.testing.assert_array_equal(folded(run, X.iloc[perm]), got[perm])
    np.testing.assert_array_equal(folded(run, X.iloc[1:]), got[1:])  # every row shifts
    np.testing.assert_array_equal(folded(run, X[list(reversed(X.columns))]), got)  # by name
    p = run.predictor()
    threaded = p.predict_frame(X, head=run.task.proba, workers=3).numpy()
    np.testing.assert_array_equal(threaded, got)


def test_refusals_are_the_preprocessors_own() -> None:
    run = train("standard", impute="error")
    X = frame(20, 1)
    X.loc[2, "color"] = None
    with pytest.raises(DataError, match="missing values in column 'color' \\(1\\)"):
        run.preprocessor.transform(X)
    with pytest.raises(DataError, match="missing values in column 'color' \\(1\\)"):
        folded(run, X)
    with pytest.raises(DataError, match="missing input column: size"):
        folded(run, X.drop(columns=["size"]))
    X.loc[2, "color"], X.loc[4, "x1"] = "red", np.inf
    with pytest.raises(DataError, match="non-finite value in column 'x1'"):
        folded(run, X)


def test_predictions_never_change_the_model() -> None:
    run = train("standard")
    before = [t.clone() for t in run.model.state_dict().values()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MlplabWarning)
        folded(run, odd_rows(100))
    for a, b in zip(before, run.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
