"""alpha and the loss scale: one SGD step from the same weights equals scikit-learn's, for
every task (issue 25). scikit-learn's loss is the sum over outputs of the per-output loss
(half squared error for regression), averaged over rows, plus alpha / (2 n) * ||W||^2;
mlplab.train's mean-over-outputs convention stays as it is (the estimator rescales)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_multilabel_classification, make_regression
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor

from mlplab.sklearn.estimator import MLPClassifier, MLPRegressor

# one full-batch step of plain SGD: the update is -lr * gradient, nothing else
STEP = {"hidden_layer_sizes": (7,), "solver": "sgd", "momentum": 0.0, "batch_size": 60,
        "shuffle": False, "learning_rate_init": 0.05, "random_state": 3, "alpha": 0.5}


def _task(name):
    if name == "binary":
        X, y = make_classification(60, 6, n_classes=2, random_state=0)
    elif name == "multiclass":
        X, y = make_classification(60, 6, n_informative=4, n_classes=4, random_state=0)
    elif name == "multilabel":
        X, y = make_multilabel_classification(60, 6, n_classes=5, random_state=0)
    else:
        X, y = make_regression(60, 6, n_targets=int(name[-1]), noise=1.0, random_state=0)
        y = y / y.std()
    return X / np.abs(X).max(), y


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel", "regression1",
                                  "regression5"])
def test_one_sgd_step_equals_scikit_learns(task):
    """Same initial weights (Glorot from the same random_state, checked), one partial_fit:
    weights and loss_ equal scikit-learn's, so the data term, its sum over outputs and the
    L2 term alpha / (2 n) * ||W||^2 all have scikit-learn's scale."""
    X, y = _task(task)
    if task.startswith("regression"):
        ours, ref = MLPRegressor(**STEP), SkRegressor(**STEP)
        kw = {}
    else:
        ours, ref = MLPClassifier(**STEP), SkClassifier(**STEP)
        kw = {"classes": np.unique(y) if y.ndim == 1 else np.arange(y.shape[1])}
    ours.partial_fit(X, y, **kw)
    ref.partial_fit(X, y, **kw)
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_,
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    if task != "regression5":
        # loss_: scikit-learn's objective, its L2 term from the weights before the step (ours
        # after it, a difference of one step's change in ||W||^2); for several targets
        # scikit-learn reports the mean over targets where its gradient sums them
        np.testing.assert_allclose(ours.loss_, ref.loss_, rtol=1e-3)
