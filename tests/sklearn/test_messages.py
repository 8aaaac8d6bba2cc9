"""Errors an estimator user sees name the estimator's parameters (``loss=``, ``module=``),
never ``mlplab train``'s flags (issue 25): the task layer's hints are rephrased."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from mlplab import MLPClassifier, MLPRegressor
from mlplab.errors import ConfigError, DataError

X = np.random.default_rng(0).normal(size=(40, 3))
Y_BIN = (X[:, 0] > 0).astype(int)


class Sigmoid(nn.Module):
    def __init__(self, in_features: int, n_outputs: int) -> None:
        super().__init__()
        self.lin = nn.Linear(in_features, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.lin(x))


class Softmax(Sigmoid):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.lin(x), dim=1)


def _message(est, y, error=ConfigError) -> str:
    with pytest.raises(error) as info:
        est.fit(X, y)
    text = str(info.value)
    assert "--" not in text, text  # no CLI flag
    return text


def test_a_refused_loss_names_the_loss_parameter():
    """Regression: 'use --loss bce_logits, or --output sigmoid with bce' reached
    MLPClassifier(loss='bce')."""
    text = _message(MLPClassifier(loss="bce", max_iter=1), Y_BIN)
    assert "loss='bce_logits'" in text and "a module= whose forward ends in a sigmoid and " \
        "loss='bce'" in text


def test_a_module_output_mismatch_names_the_module_output():
    """Regression: 'use --output logits' reached a regressor whose module= ends in a sigmoid."""
    text = _message(MLPRegressor(module=Sigmoid, max_iter=1), X[:, 1])
    assert "a module= whose forward returns raw logits" in text


def test_softmax_module_with_cross_entropy_names_loss_and_module():
    text = _message(MLPClassifier(module=Softmax, loss="cross_entropy", max_iter=1),
                    np.arange(40) % 3)
    assert "loss='nll'" in text and "loss='cross_entropy'" in text and "module=" in text


def test_regressor_losses_use_the_regressor_names():
    """Negative Poisson targets: the hint names loss='squared_error', not --set/--loss mse."""
    text = _message(MLPRegressor(loss="poisson", max_iter=1), X[:, 0], DataError)
    assert "loss='squared_error'" in text and "scale_target" not in text
