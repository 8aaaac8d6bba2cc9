"""The estimators train in X's float dtype, as scikit-learn does (issue 25): float64 X gives
float64 weights and predictions, float32 X float32, on the fused runner both; the dtype
survives pickling, ``mlplab.save`` and warm starts."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification

from mlplab import MLPClassifier, MLPRegressor, load_estimator, save
from mlplab.sklearn.estimator import MLPClassifier as _Clf

X64, Y = make_classification(120, 6, random_state=0)
X32 = X64.astype(np.float32)


def _fit(est, X, y=Y, **kw):
    return est.set_params(max_iter=5, random_state=0, **kw).fit(X, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_weights_and_predictions_in_x_dtype(cls, dtype, solver):
    est = _fit(cls(hidden_layer_sizes=(8,)), X64.astype(dtype), solver=solver)
    assert {a.dtype for a in [*est.coefs_, *est.intercepts_]} == {np.dtype(dtype)}
    if cls is MLPRegressor:
        assert est.predict(X64.astype(dtype)).dtype == dtype
    if solver != "lbfgs":  # default float64 fits train on the fused runner, as float32 ones
        assert est._runner == "fast"


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_float64_weights_are_scikit_learns_initial_weights_exactly():
    """Glorot weights drawn in float64 are not rounded to float32 on the way in."""
    from sklearn.neural_network import MLPClassifier as SkClf

    ours = _fit(MLPClassifier((5,), solver="sgd", learning_rate_init=1e-12), X64)
    sk = SkClf((5,), solver="sgd", learning_rate_init=1e-12, max_iter=1, random_state=0)
    sk.partial_fit(X64, Y, classes=[0, 1])  # one tiny step: the weights barely move
    np.testing.assert_allclose(ours.coefs_[0], sk.coefs_[0], rtol=0, atol=1e-9)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_dtype_survives_pickle_save_and_warm_start(tmp_path):
    est = _fit(MLPRegressor(hidden_layer_sizes=(8,)), X64, Y.astype(float))
    again = pickle.loads(pickle.dumps(est))
    assert again.coefs_[0].dtype == np.float64
    np.testing.assert_array_equal(again.predict(X64), est.predict(X64))
    loaded = load_estimator(save(est, tmp_path / "reg"))
    assert loaded.coefs_[0].dtype == np.float64
    np.testing.assert_array_equal(loaded.predict(X64), est.predict(X64))
    # a warm start or partial_fit keeps the weights' dtype whatever X's
    est32 = _fit(MLPRegressor(hidden_layer_sizes=(8,)), X32, Y.astype(float))
    est32.partial_fit(X64, Y.astype(float))
    assert est32.coefs_[0].dtype == np.float32


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_coefs_assignment_keeps_the_layer_dtype():
    est = _fit(_Clf((4,)), X64)
    est.coefs_[0] = np.zeros((6, 4), dtype=np.float32)
    assert est.coefs_[0].dtype == np.float64 and not est.coefs_[0].any()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_module_trains_in_its_own_dtype():
    """module= keeps the dtype of the module it builds (torch's float32 by default)."""

    class Net(torch.nn.Module):
        def __init__(self, in_features: int, n_outputs: int) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(in_features, n_outputs)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lin(x)

    est = _fit(MLPClassifier(module=Net), X64)
    assert est.coefs_[0].dtype == np.float32 and est.predict(X64).shape == (120,)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_values_beyond_float32_train_in_float64_like_scikit_learn():
    """Regression: X of 1e39 (finite in float64) raised 'non-finite weights' while mlplab
    trained in float32; now it trains in float64 and scores as scikit-learn's MLP."""
    from sklearn.neural_network import MLPClassifier as SkClf

    rng = np.random.RandomState(0)
    X = rng.normal(size=(50, 3)) * 1e39
    y = (X[:, 0] > 0).astype(int)
    ours = MLPClassifier(random_state=0, max_iter=20).fit(X, y)
    sk = SkClf(random_state=0, max_iter=20).fit(X, y)
    assert ours.score(X, y) == pytest.approx(sk.score(X, y), abs=0.05)
    # a model that trains in float32 (first fitted on float32 X) still says why it cannot
    est = MLPClassifier(random_state=0, max_iter=2).fit(X32, Y)
    with pytest.raises(ValueError, match="beyond float32's range, and this model trains in "
                                         "float32"):
        est.partial_fit(X[:, :1].repeat(6, axis=1), y)
