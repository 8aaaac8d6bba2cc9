"""Curves and matrices carry scikit-learn's numbers."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from mlplab.inspect.plots import (
    calibration_figure,
    confusion_figure,
    learning_curves,
    residuals_figure,
    roc_pr_figure,
)


@pytest.fixture
def scores():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, size=150)
    logits = rng.normal(size=(150, 3)) + 1.5 * np.eye(3)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, proba


def test_confusion_counts_equal_sklearns(scores):
    y, proba = scores
    pred = proba.argmax(axis=1)
    fig = confusion_figure(y, pred, ["a", "b", "c"])
    counts = np.array([int(t.get_text()) for t in fig.axes[0].texts]).reshape(3, 3)
    np.testing.assert_array_equal(counts, skm.confusion_matrix(y, pred))
    norm = np.array([float(t.get_text()) for t in fig.axes[1].texts]).reshape(3, 3)
    np.testing.assert_allclose(norm, skm.confusion_matrix(y, pred, normalize="true"), atol=5e-3)


def test_roc_and_pr_legends_hold_sklearns_auc_per_class(scores):
    y, proba = scores
    fig = roc_pr_figure(y, proba, ["a", "b", "c"], "multiclass")
    roc_labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    for j, label in enumerate(roc_labels[:3]):
        auc = float(re.search(r"AUC ([\d.]+)", label).group(1))
        assert auc == pytest.approx(skm.roc_auc_score(y == j, proba[:, j]), abs=5e-4)
    pr_labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    ap = float(re.search(r"AP ([\d.]+)", pr_labels[1]).group(1))
    assert ap == pytest.approx(skm.average_precision_score(y == 1, proba[:, 1]), abs=5e-4)
    assert "one-vs-rest" in fig.axes[0].get_title()


def test_binary_roc_has_one_curve_and_calibration_matches_sklearn():
    rng = np.random.default_rng(2)
    p1 = rng.uniform(size=200)
    y = (rng.uniform(size=200) < p1).astype(int)
    proba = np.column_stack([1 - p1, p1])
    fig = roc_pr_figure(y, proba, ["neg", "pos"], "binary")
    assert len(fig.axes[0].lines) == 2  # the curve and the chance diagonal
    fpr, tpr, _ = skm.roc_curve(y, p1)
    np.testing.assert_allclose(fig.axes[0].lines[0].get_xydata(), np.column_stack([fpr, tpr]))
    fig = calibration_figure(y, proba)
    frac, mean_pred = calibration_curve(y, p1, n_bins=10)
    np.testing.assert_allclose(fig.axes[0].lines[1].get_xydata(),
                               np.column_stack([mean_pred, frac]))


def test_learning_curves_plot_the_history_and_the_lr():
    hist = [{"epoch": e, "train_loss": 1.0 / e, "test_loss": 1.1 / e, "train_accuracy": 0.8,
             "test_accuracy": 0.7, "lr": 0.1 * 0.5 ** (e // 5)} for e in range(1, 21)]
    fig = learning_curves(hist)
    loss_ax, score_ax, lr_ax = fig.axes
    np.testing.assert_allclose(loss_ax.lines[0].get_ydata(), [r["train_loss"] for r in hist])
    np.testing.assert_allclose(lr_ax.lines[0].get_ydata(), [r["lr"] for r in hist])
    assert lr_ax.get_ylabel() == "learning rate"
    assert [ln.get_label() for ln in score_ax.lines] == ["train", "test"]


def test_residuals_are_true_minus_predicted():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    pred = np.array([1.5, 2.0, 2.0, 4.5])
    fig = residuals_figure(y, pred, "target")
    offsets = fig.axes[1].collections[0].get_offsets()
    np.testing.assert_allclose(offsets[:, 1], y - pred)
    assert "R² " + f"{skm.r2_score(y, pred):.3f}" in fig.axes[0].get_title()


def _score_axis(fig):
    return fig.axes[1]  # loss on the left, the score on the right


@pytest.mark.parametrize("split", ["val", "test"])
def test_the_accuracy_axis_fits_held_out_curves_below_the_training_curve(split) -> None:
    """Regression (issue 28): the accuracy axis was fitted to the training accuracy alone, so
    a held-out curve lower than it was cut off."""
    h = [{"epoch": e, "train_accuracy": 0.99, f"{split}_accuracy": a}
         for e, a in ((1, 0.55), (2, 0.7), (3, 0.8))]
    lo, hi = _score_axis(learning_curves(h)).get_ylim()
    assert lo <= 0.55 and hi >= 0.99


def test_plot_history_draws_a_test_accuracy_given_in_percent() -> None:
    """Regression (issue 28): plot_history({"test_acc": [50, 60, 70]}) drew its line outside
    the axis (fitted to a training accuracy that was not there)."""
    import mlplab

    ax = _score_axis(mlplab.plot_history({"test_acc": [50, 60, 70]}))
    lo, hi = ax.get_ylim()
    (line,) = ax.get_lines()
    y = np.asarray(line.get_ydata(), dtype=float)
    np.testing.assert_allclose(y, [0.5, 0.6, 0.7])
    assert lo <= y.min() and y.max() <= hi


def test_learning_curves_read_percent_accuracy_as_fractions() -> None:
    """A history written in percent is drawn as fractions, inside the axis."""
    h = [{"epoch": e, "train_accuracy": a, "test_accuracy": a - 5} for e, a in ((1, 60), (2, 90))]
    ax = _score_axis(learning_curves(h))
    lo, hi = ax.get_ylim()
    ys = np.concatenate([np.asarray(ln.get_ydata(), dtype=float) for ln in ax.get_lines()])
    assert ys.max() <= 1 and lo <= ys.min() and ys.max() <= hi
