"""Metrics equal scikit-learn's and hand calculations."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.metrics as skm

from mlplab import metrics
from mlplab.metrics import classification_metrics, regression_metrics


def test_binary_metrics_by_hand():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    p1 = np.array([0.9, 0.8, 0.3, 0.2, 0.6, 0.1, 0.4, 0.7])
    m = classification_metrics(y, np.c_[1 - p1, p1], task="binary")
    # predictions at 0.5: 1 1 0 0 1 0 0 1 -> TP=3, FN=1, FP=1, TN=3
    assert m["accuracy"] == pytest.approx(6 / 8)
    assert m["precision"] == pytest.approx(3 / 4)
    assert m["recall"] == pytest.approx(3 / 4)
    assert m["f1"] == pytest.approx(3 / 4)
    assert m["confusion_matrix"] == [[3, 1], [1, 3]]
    # AUC = fraction of (pos, neg) pairs ranked right: 14 of 16
    assert m["roc_auc"] == pytest.approx(14 / 16)
    ll = -np.mean(y * np.log(p1) + (1 - y) * np.log(1 - p1))
    assert m["log_loss"] == pytest.approx(ll)


def test_multiclass_metrics_equal_sklearn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, size=200)
    p = rng.dirichlet(np.ones(4), size=200)
    m = classification_metrics(y, p, task="multiclass")
    pred = p.argmax(1)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p, multi_class="ovr"))
    assert m["confusion_matrix"] == skm.confusion_matrix(y, pred).tolist()


def test_threshold_changes_binary_predictions():
    y = np.array([0, 1])
    p1 = np.array([0.4, 0.6])
    assert classification_metrics(y, np.c_[1 - p1, p1], task="binary",
                                  threshold=0.7)["confusion_matrix"] == [[1, 0], [1, 0]]


def test_single_class_roc_auc_is_none_not_an_error():
    y = np.array([1, 1, 1])
    p1 = np.array([0.9, 0.8, 0.7])
    assert classification_metrics(y, np.c_[1 - p1, p1], task="binary")["roc_auc"] is None


def test_regression_metrics_by_hand():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    pred = np.array([1.5, 2.0, 2.5, 4.0])
    m = regression_metrics(y, pred)
    assert m["mae"] == pytest.approx(0.25)
    assert m["rmse"] == pytest.approx(np.sqrt(0.125))
    assert m["r2"] == pytest.approx(1 - 0.5 / 5.0)


def test_binary_metrics_carry_macro_averages_beside_the_positive_class():
    y = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    p1 = np.array([0.1, 0.2, 0.7, 0.3, 0.1, 0.2, 0.9, 0.4])
    m = classification_metrics(y, np.column_stack([1 - p1, p1]), task="binary")
    pred = (p1 >= 0.5).astype(int)
    assert m["recall"] == pytest.approx(skm.recall_score(y, pred))  # class 1: 1 of 2
    assert m["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m["precision_macro"] == pytest.approx(skm.precision_score(y, pred, average="macro"))
    assert m["recall_macro"] == pytest.approx(skm.recall_score(y, pred, average="macro"))


def test_macro_scores_average_every_class_even_when_a_split_lacks_one():
    """Regression (issue 15): train and test macro scores averaged different label sets."""
    y = np.array([0, 0, 1, 1])  # class 2 exists in training but not in this split
    proba = np.array([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1]])
    m = classification_metrics(y, proba, task="multiclass")
    pred = proba.argmax(axis=1)
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro", labels=[0, 1, 2],
                                                 zero_division=0))
    assert m["f1"] != pytest.approx(skm.f1_score(y, pred, average="macro"))


# --- the batched metrics of K sweep members equal the scikit-learn path, member by member ---


def _same(batch: dict, ref: dict) -> None:
    assert batch.keys() == ref.keys()
    for key, want in ref.items():
        got = batch[key]
        if want is None or isinstance(want, list | int):
            assert got == want, key
        else:
            assert got == pytest.approx(want, rel=1e-12, abs=1e-12), key


def _members(rng: np.random.Generator, K: int, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """K members' labels and probabilities, with the edge cases a sweep meets: ties (scores
    rounded), one class in y, one class predicted, a class never present."""
    y = rng.integers(0, k, size=(K, n))
    y[1] = 0  # one class in the labels
    if k > 2:
        y[2] = rng.integers(0, k - 1, size=n)  # the last class never occurs
    p = rng.dirichlet(np.ones(k), size=(K, n)).round(1) + 1e-3  # ties in the scores
    p /= p.sum(-1, keepdims=True)
    p[3] = np.eye(k)[0] * 0.9 + 0.1 / k  # one class predicted for every row
    return y, p


@pytest.mark.parametrize("k", [2, 4])
@pytest.mark.parametrize("threshold", [0.5, 0.3])
def test_batched_classification_metrics_equal_sklearns(k: int, threshold: float) -> None:
    rng = np.random.default_rng(k)
    y, p = _members(rng, K=6, n=40, k=k)
    task = "binary" if k == 2 else "multiclass"
    batch = metrics.classification_metrics_batch(y, p, task=task, threshold=threshold,
                                                 n_classes=k)
    for yk, pk, got in zip(y, p, batch, strict=True):
        _same(got, classification_metrics(yk, pk, task=task, threshold=threshold, n_classes=k))
    assert batch[1]["roc_auc"] is None and batch[0]["roc_auc"] is not None


def test_batched_multilabel_metrics_equal_sklearns() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, size=(4, 30, 3))
    y[1, :, 2] = 1  # a label with one class: ROC AUC undefined
    p = rng.random((4, 30, 3)).round(1)
    batch = metrics.classification_metrics_batch(y, p, task="multilabel")
    for yk, pk, got in zip(y, p, batch, strict=True):
        _same(got, classification_metrics(yk, pk, task="multilabel"))
    assert batch[1]["roc_auc"] is None


@pytest.mark.parametrize("t", [1, 2])
def test_batched_regression_metrics_equal_sklearns(t: int) -> None:
    rng = np.random.default_rng(t)
    y = rng.normal(size=(4, 25, t))
    pred = y + rng.normal(scale=0.5, size=y.shape)
    y[1] = 2.0  # a constant target, predicted wrongly
    y[2], pred[2] = 3.0, 3.0  # a constant target, predicted exactly
    for yk, pk, got in zip(y, pred, metrics.regression_metrics_batch(y, pred), strict=True):
        _same(got, regression_metrics(yk, pk))
    assert metrics.regression_metrics_batch(y[:, :1], pred[:, :1])[0]["r2"] is None  # one row
