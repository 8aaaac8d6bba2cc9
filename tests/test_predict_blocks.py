"""Run's prediction of rows: a row's output is the same bits whatever rows come with it.

Every row goes through blocks of PREDICT_CHUNK rows, copied into one aligned buffer and the last
block zero-padded, so its arithmetic never depends on its neighbours, its position, the input's
container (float32 / float64 array, tensor, read-only array, DataFrame) or a missing value in
another row. The references are independent: the model itself on the preprocessor's own
whole-array transform (equal within float tolerance, since the scaling is folded into the first
layer), and the same rows predicted alone (equal bit for bit).
"""

from __future__ import annotations

import threading

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
def test_blocks_equal_the_model_on_the_whole_array_transform(run: mlplab.Run,
                                                             dtype: type) -> None:
    X = np.random.default_rng(1).normal(5.0, 3.0, (PREDICT_CHUNK + 37, 4)).astype(dtype)
    got = run.predict_proba(X)
    assert got.dtype == np.float32 and got.shape == (len(X), 2)
    np.testing.assert_allclose(got, reference(run, X), rtol=1e-5, atol=2e-6)


def test_a_row_is_the_same_bits_whatever_comes_with_it(run: mlplab.Run) -> None:
    X = np.random.default_rng(1).normal(5.0, 3.0, (PREDICT_CHUNK + 37, 4)).astype(np.float32)
    got = run.predict_proba(X)
    alone = np.vstack([run.predict_proba(X[i]) for i in (0, 5, PREDICT_CHUNK - 1,
                                                         PREDICT_CHUNK, len(X) - 1)])
    np.testing.assert_array_equal(alone, got[[0, 5, PREDICT_CHUNK - 1, PREDICT_CHUNK, -1]])
    perm = np.random.default_rng(2).permutation(len(X))
    np.testing.assert_array_equal(run.predict_proba(X[perm]), got[perm])
    np.testing.assert_array_equal(run.predict_proba(X[1:]), got[1:])  # every row shifts
    # the container does not matter: float64, tensor, read-only, strided, DataFrame
    np.testing.assert_array_equal(run.predict_proba(X.astype(np.float64)), got)
    np.testing.assert_array_equal(run.predict_proba(torch.as_tensor(X)), got)
    ro = X.copy()
    ro.flags.writeable = False
    np.testing.assert_array_equal(run.predict_proba(ro), got)
    np.testing.assert_array_equal(run.predict_proba(np.asfortranarray(X)), got)
    frame = pd.DataFrame(X, columns=list("abcd"))
    np.testing.assert_array_equal(run.predict_proba(frame), got)
    np.testing.assert_array_equal(run.predict_proba(frame[list("dcba")]), got)  # by name
    labels = run.predict(X)
    np.testing.assert_array_equal(labels, (got[:, 1] >= run.task.threshold).astype(int))


def test_predict_frame_is_one_pass_with_the_same_numbers(run: mlplab.Run) -> None:
    X = pd.DataFrame(np.random.default_rng(3).normal(5.0, 3.0, (50, 4)), columns=list("abcd"))
    out = run.predict_frame(X)
    proba = run.predict_proba(X)
    np.testing.assert_array_equal(out[["proba_0", "proba_1"]].to_numpy(), proba)
    np.testing.assert_array_equal(out["predicted_y"].to_numpy(), run.predict(X))
    pd.testing.assert_frame_equal(out[list("abcd")], X)


def test_a_missing_value_is_filled_and_inf_refused(run: mlplab.Run) -> None:
    X = np.random.default_rng(2).normal(5.0, 3.0, (10, 4))
    filled = X.copy()
    filled[4, 1] = run.preprocessor.fill["b"]
    clean = run.predict_proba(X)
    X[4, 1] = np.nan
    got = run.predict_proba(X)
    np.testing.assert_array_equal(got, run.predict_proba(filled))
    np.testing.assert_array_equal(np.delete(got, 4, 0), np.delete(clean, 4, 0))  # others
    X[4, 1] = np.inf
    with pytest.raises(DataError, match="non-finite value in column 'b'"):
        run.predict_proba(X)
    with pytest.raises(DataError, match="wrong number of features"):
        run.predict_proba(X[:, :3])


def test_prediction_never_changes_the_model_and_threads_agree(run: mlplab.Run) -> None:
    X = np.random.default_rng(4).normal(5.0, 3.0, (3 * PREDICT_CHUNK, 4)).astype(np.float32)
    before = {k: (v.clone(), v._version) for k, v in run.model.state_dict().items()}
    want = run.predict_proba(X)
    results: list[np.ndarray] = []
    workers = [threading.Thread(target=lambda: results.append(run.predict_proba(X)))
               for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(results) == 4
    for r in results:
        np.testing.assert_array_equal(r, want)
    for k, v in run.model.state_dict().items():
        assert torch.equal(v, before[k][0]) and v._version == before[k][1], k
    assert not run.model.training


def test_blocks_shared_by_threads_are_the_same_bits(run: mlplab.Run) -> None:
    X = np.random.default_rng(5).normal(5.0, 3.0, (5 * PREDICT_CHUNK + 3, 4))
    p, head = run.predictor(), run.task.proba
    with torch.inference_mode():
        one = p.predict(X, raw=True, head=head, workers=1)
        three = p.predict(X, raw=True, head=head, workers=3)
    torch.testing.assert_close(three, one, rtol=0, atol=0)
    X[4 * PREDICT_CHUNK + 1, 2] = np.inf  # in a block a helper thread may take
    with pytest.raises(DataError, match="non-finite value in column 'c'"):
        p.predict(X, raw=True, head=head, workers=3)


def test_a_frame_takes_one_path_whatever_dtypes_pandas_chose(run: mlplab.Run) -> None:
    """Regression: a numeric frame went folded while the same rows with one text token in a
    column went through the whole-frame transform, so a row's probabilities changed in the
    7th digit with another row's '?' (or a CSV chunk's dtypes)."""
    X = pd.DataFrame(np.random.default_rng(6).normal(5.0, 3.0, (20, 4)), columns=list("abcd"))
    want = run.predict_proba(X)
    texty = X.astype(object)
    texty.loc[7, "b"] = None  # filled with the training median, as NaN is
    texty["c"] = texty["c"].map(repr)  # numbers written as text
    got = run.predict_proba(texty)
    np.testing.assert_array_equal(np.delete(got, 7, 0), np.delete(want, 7, 0))
    filled = X.copy()
    filled.loc[7, "b"] = run.preprocessor.fill["b"]
    np.testing.assert_array_equal(got[7], run.predict_proba(filled)[7])
    texty.loc[3, "a"] = "n/a"
    with pytest.raises(DataError, match="column 'a'"):
        run.predict_proba(texty)
