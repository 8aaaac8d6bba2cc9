"""module=: the user's own nn.Module behind the estimators (issue 25): built from a class with
module__* parameters or copied from an instance, its output kind read from forward, usable in
GridSearchCV and a Pipeline, picklable."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from mlplab.sklearn.estimator import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class Net(nn.Module):
    def __init__(self, in_features: int, n_outputs: int, hidden: int = 8) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(),
                                  nn.Linear(hidden, n_outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class SigmoidNet(Net):
    """Ends in a sigmoid: trained with BCELoss and decoded as probabilities, not logits."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.body(x))


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(300, 6, random_state=0)
    return StandardScaler().fit_transform(X), y


def test_grid_search_over_a_module_parameter(data):
    X, y = data
    grid = GridSearchCV(MLPClassifier(module=Net, max_iter=40, learning_rate_init=0.01,
                                      random_state=0), {"module__hidden": [1, 32]}, cv=2)
    grid.fit(X, y)
    assert grid.best_params_ == {"module__hidden": 32}
    assert grid.best_estimator_.model_.body[0].out_features == 32
    assert grid.best_score_ > 0.85


def test_pipeline_and_pickle(data):
    X, y = data
    pipe = make_pipeline(StandardScaler(), MLPRegressor(module=Net, module__hidden=16,
                                                        max_iter=100, learning_rate_init=0.01,
                                                        random_state=0))
    Xr, yr = make_regression(200, 6, noise=1.0, random_state=0)
    yr = yr / yr.std()
    pipe.fit(Xr, yr)
    assert pipe.score(Xr, yr) > 0.9
    again = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(again.predict(Xr), pipe.predict(Xr))


def test_a_sigmoid_in_forward_is_read_and_decoded(data):
    X, y = data
    logits = MLPClassifier(module=Net, max_iter=50, learning_rate_init=0.01,
                           random_state=0).fit(X, y)
    probs = MLPClassifier(module=SigmoidNet, max_iter=50, learning_rate_init=0.01,
                          random_state=0).fit(X, y)
    assert (logits.task_.output, logits.task_.loss) == ("logits", "bce_logits")
    assert (probs.task_.output, probs.task_.loss) == ("sigmoid", "bce")
    p = probs.predict_proba(X)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    # same weights at the start (same seed), same loss in another form: same predictions
    np.testing.assert_allclose(p, logits.predict_proba(X), atol=1e-3)
    assert probs.score(X, y) > 0.9


def test_an_instance_is_copied_not_trained_and_clones(data):
    X, y = data
    net = Net(6, 1)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    est = MLPClassifier(module=net, max_iter=20, random_state=0)
    est.fit(X, y)
    assert est.model_ is not net
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())
    copy = clone(est)
    assert copy.module is not net and isinstance(copy.module, Net)
    assert copy.get_params()["max_iter"] == 20


def test_module_parameters_round_trip_and_are_refused_for_an_instance(data):
    X, y = data
    est = MLPClassifier(module=Net, module__hidden=4)
    assert est.get_params()["module__hidden"] == 4
    assert clone(est.set_params(module__hidden=5)).module__hidden == 5
    with pytest.raises(ValueError, match="module__\\* parameters are for a module class"):
        MLPClassifier(module=Net(6, 1), module__hidden=4).fit(X, y)
    with pytest.raises(TypeError, match="unexpected parameters \\['hiden'\\]"):
        MLPClassifier(module=Net, hiden=4).fit(X, y)
