"""The data step of a generated script rebuilds mlplab's own table, row for row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from mlplab import registry
from mlplab.config import RunConfig
from mlplab.data import clean_missing, load_table
from mlplab.export.datacode import data_code


def _frame(cfg: RunConfig) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(frame from the generated code, mlplab's X, mlplab's y)."""
    table = clean_missing(load_table(cfg.data, cfg.seed), cfg.data.impute)
    feats, targets = [str(c) for c in table.X.columns], [str(c) for c in table.y.columns]
    kind = registry.DATASETS.get(cfg.data.source)
    n_classes = None if kind is not None and kind.task == "regression" else \
        int(table.y.iloc[:, 0].nunique())
    code = data_code(cfg, feats, targets, n_classes=n_classes)
    ns: dict = {"np": np, "pd": pd, "torch": torch, "SEED": cfg.seed}
    exec(compile(code, "<data>", "exec"), ns)  # our generated code
    return ns["frame"], table.X, table.y


SYNTHETIC = [name for name, d in registry.DATASETS.items() if d.kind == "synthetic"]


@pytest.mark.parametrize("name", SYNTHETIC)
def test_generators_repeat_mlplab_exactly(name: str) -> None:
    frame, X, y = _frame(RunConfig.from_dict({"seed": 3, "data": {"source": name,
                                                                  "n_samples": 101}}))
    np.testing.assert_array_equal(frame[list(X.columns)].to_numpy(), X.to_numpy())
    np.testing.assert_array_equal(frame[list(y.columns)].to_numpy(), y.to_numpy())


@pytest.mark.parametrize("data", [
    {"source": "circles", "label_noise": 0.1, "noise": 0.2},
    {"source": "moons", "imbalance": 0.1},
    {"source": "blobs", "n_classes": 5, "n_features": 3, "label_noise": 0.05},
    {"source": "disk", "noise": 0.1},
    {"source": "linear", "n_features": 3},
])
def test_generator_options_repeat_mlplab(data: dict) -> None:
    frame, X, y = _frame(RunConfig.from_dict({"seed": 7, "data": {"n_samples": 300, **data}}))
    np.testing.assert_array_equal(frame[list(X.columns)].to_numpy(), X.to_numpy())
    np.testing.assert_array_equal(frame[list(y.columns)].to_numpy(), y.to_numpy())


@pytest.mark.parametrize("name", ["iris", "breast_cancer", "digits", "penguins"])
def test_real_datasets_read_as_mlplab_reads_them(name: str) -> None:
    """Regression test (issue 17): penguins exported as a file path, not the name 'penguins'."""
    frame, X, y = _frame(RunConfig.from_dict({"data": {"source": name, "impute": "median"}}))
    pd.testing.assert_frame_equal(frame[list(X.columns)], X, check_dtype=False)
    assert frame[list(y.columns)].astype(str).equals(y.astype(str))


def test_csv_with_gaps_keeps_rows_for_imputation(tmp_path) -> None:
    """Regression test (issue 17): an upload with missing values is median-filled, not dropna'd."""
    path = tmp_path / "gaps.csv"
    pd.DataFrame({"a": [1.0, None, 3.0, 4.0], "b": ["x", "y", None, "x"],
                  "t": [0, 1, None, 1]}).to_csv(path, index=False, sep=";")
    cfg = RunConfig.from_dict({"data": {"source": str(path), "target": "t",
                                        "impute": "median"}})
    frame, X, _ = _frame(cfg)
    assert len(frame) == 3  # only the row without a target goes
    pd.testing.assert_frame_equal(frame[list(X.columns)], X, check_dtype=False)
