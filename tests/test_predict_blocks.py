"""Run's prediction of a plain number array: scaled block by block inside the forward pass.

The reference is the preprocessor's own whole-array transform followed by the model: the
block path does the same float32 operations, so the probabilities are equal bit for bit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import mlplab
from mlplab.errors import DataError
from mlplab.runs.run import PREDICT_CHUNK


@pytest.fixture(scope="module")
def run() -> mlplab.Run:
    rng = np.random.default_rng(0)
    X = rng.normal(5.0, 3.0, (300, 4))
    frame = pd.DataFrame(X, columns=list("abcd")).assign(y=(X[:, 0] > 5).astype(int))
    frame.loc[3, "b"] = np.nan  # trains a fill value for 'b'
    return mlplab.train({"data": {"target": "y", "impute": "median"},
                         "model": {"hidden": [8, 8]}, "train": {"epochs": 30},
                         "log": {"quiet": True}}, data=frame, save=False)


def reference(run: mlplab.Run, X: np.ndarray) -> np.ndarray:
    """The whole-array transform, then the model and the task's probabilities."""
    with torch.inference_mode():
        feats = torch.as_tensor(run.preprocessor.transform_array(X))
        return run.task.proba(run.model(feats)).numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_blocks_equal_the_whole_array_transform(run: mlplab.Run, dtype: type) -> None:
    X = np.random.default_rng(1).normal(5.0, 3.0, (PREDICT_CHUNK + 37, 4)).astype(dtype)
    got = run.predict_proba(X)
    # each block of rows, the last one zero-padded after scaling, through the model at once
    tail = np.zeros((PREDICT_CHUNK, 4))
    tail[:37] = run.preprocessor.transform_array(X[PREDICT_CHUNK:])
    with torch.inference_mode():
        tail_proba = run.task.proba(run.model(torch.as_tensor(tail, dtype=torch.float32)))
    np.testing.assert_array_equal(got[:PREDICT_CHUNK], reference(run, X[:PREDICT_CHUNK]))
    np.testing.assert_array_equal(got[PREDICT_CHUNK:], tail_proba[:37].numpy())
    # a tensor and a read-only array take the same path / the features() path: same answers
    np.testing.assert_array_equal(run.predict_proba(torch.as_tensor(X)), got)
    ro = X.copy()
    ro.flags.writeable = False
    np.testing.assert_array_equal(run.predict_proba(ro), got)
    labels = run.predict(pd.DataFrame(X, columns=list("abcd")))  # the column-by-column path
    assert (run.predict(X) == labels).mean() > 0.999  # float64 vs float32 scaling: ~1e-7


def test_a_missing_value_is_filled_and_inf_refused(run: mlplab.Run) -> None:
    X = np.random.default_rng(2).normal(5.0, 3.0, (10, 4))
    filled = X.copy()
    filled[4, 1] = run.preprocessor.fill["b"]
    X[4, 1] = np.nan
    np.testing.assert_array_equal(run.predict_proba(X), run.predict_proba(filled))
    X[4, 1] = np.inf
    with pytest.raises(DataError, match="non-finite"):
        run.predict_proba(X)
    with pytest.raises(DataError, match="wrong number of features"):
        run.predict_proba(X[:, :3])
