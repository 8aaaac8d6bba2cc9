"""Run directories written by an earlier release still load and predict the same.

The fixtures under ``tests/fixtures/runs-0.1.0`` were written by mlplab 0.1.0 (a penguins
classifier with categoricals and median imputation, and a moons classifier), together with
20 raw rows each and the probabilities 0.1.0 predicted for them.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlplab

FIXTURES = Path(__file__).parent / "fixtures" / "runs-0.1.0"


@pytest.mark.parametrize("name", ["penguins", "moons"])
def test_a_0_1_0_run_directory_loads_and_predicts_as_it_did(name: str) -> None:
    """Guards the run-directory contract: format changes must keep old runs usable."""
    run = mlplab.load(FIXTURES / name)
    rows = pd.read_csv(FIXTURES / f"{name}-rows.csv")
    expected = np.load(FIXTURES / f"{name}-proba.npy")
    got = run.predict_proba(rows)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    assert (got.argmax(1) == expected.argmax(1)).all()
