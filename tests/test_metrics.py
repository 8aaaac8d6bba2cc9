"""Metrics equal scikit-learn's and hand calculations."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.metrics as skm

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
