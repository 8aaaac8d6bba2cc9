"""scikit-learn's estimator checks on early_stopping=True (tests/sklearn/conftest.py
holds the settings, the parametrization and the expected failures)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

CHECK_VARIANTS = ["early_stopping"]


def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
