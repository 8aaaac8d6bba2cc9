"""scikit-learn's estimator checks on the defaults, tanh units and a module= of the user's
(tests/sklearn/conftest.py holds the settings, the parametrization and the expected
failures)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

CHECK_VARIANTS = ["defaults", "tanh", "module"]


def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
