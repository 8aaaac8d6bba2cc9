"""Which runner trains the estimators, and that the choice never changes what they learn.

The engine picks its fused runner (no autograd, no ``torch.optim`` Python per step) wherever it
is bitwise equal to the eager steps; the estimators build their optimizer so that it can (one
parameter group in the model's order, torch's foreach kernels), and keep torch's fused CPU
kernel for the runs the eager runner trains (sample weights, dropout, sparse rows).
``train.fast='off'`` is the plain eager reference.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import make_classification, make_regression

from mlplab.sklearn.estimator import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

X, Y = make_classification(450, n_features=10, n_informative=5, n_classes=3, random_state=0)
XR, YR = make_regression(450, n_features=10, noise=5.0, random_state=0)

CASES = {
    "multiclass adam": (MLPClassifier, X, Y, {}),
    "binary sgd nesterov": (MLPClassifier, X, (Y > 0).astype(int),
                            {"solver": "sgd", "learning_rate_init": 0.05}),
    "regressor two layers": (MLPRegressor, XR, YR / 100, {"hidden_layer_sizes": (16, 8)}),
    "early stopping": (MLPClassifier, X, Y, {"early_stopping": True, "n_iter_no_change": 3}),
}


def _fit(cls, X, y, fast: str, **kw):  # type: ignore[no-untyped-def]
    return cls(max_iter=12, batch_size=64, random_state=0, config={"train.fast": fast},
               **kw).fit(X, y)


@pytest.mark.parametrize("alpha", [0.0, 0.01])
@pytest.mark.parametrize("case", CASES)
def test_the_fused_runner_trains_the_estimator_bit_for_bit_as_eager_steps(case: str,
                                                                         alpha: float) -> None:
    cls, Xc, yc, kw = CASES[case]
    fast = _fit(cls, Xc, yc, "auto", alpha=alpha, **kw)
    eager = _fit(cls, Xc, yc, "off", alpha=alpha, **kw)
    assert (fast._runner, eager._runner) == ("fast", "eager")
    for p, q in zip(fast.model_.parameters(), eager.model_.parameters(), strict=True):
        assert torch.equal(p, q)
    assert fast.loss_curve_ == eager.loss_curve_ and fast.n_iter_ == eager.n_iter_
    assert fast.validation_scores_ == eager.validation_scores_


def test_runs_the_fused_runner_cannot_take_use_torchs_fused_kernel() -> None:
    weighted = MLPClassifier(max_iter=2, alpha=0.0, random_state=0).fit(
        X, Y, sample_weight=np.linspace(0.5, 2.0, len(Y)))
    dropout = MLPClassifier(max_iter=2, alpha=0.0, dropout=0.1, random_state=0).fit(X, Y)
    sparse = MLPClassifier(max_iter=2, alpha=0.0, random_state=0).fit(sp.csr_matrix(X), Y)
    plain = MLPClassifier(max_iter=2, alpha=0.0, random_state=0).fit(X, Y)
    for est in (weighted, dropout, sparse):
        assert est._runner != "fast"
        assert all(g["fused"] for g in est._optimizer.param_groups)
    assert plain._runner == "fast" and not plain._optimizer.param_groups[0]["fused"]
