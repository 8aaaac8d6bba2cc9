"""Real datasets, load_table dispatch and dataset_summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets as skd

from mlplab.config import DataConfig
from mlplab.data import (
    Preprocessor,
    TargetEncoder,
    clean_missing,
    dataset_summary,
    load_table,
    real,
    split_indices,
)
from mlplab.errors import DataError
from mlplab.registry import DATASETS

REAL = [n for n, d in DATASETS.items() if d.kind == "real"]


def test_every_registry_entry_has_a_loader() -> None:
    for name in REAL:
        X, y = DATASETS[name].load()()
        assert isinstance(X, pd.DataFrame) and isinstance(y, pd.DataFrame)
        assert y.shape == (len(X), 1)


def test_iris_matches_sklearn_with_species_names() -> None:
    X, y = real.iris()
    ref = skd.load_iris()
    np.testing.assert_array_equal(X.to_numpy(), ref.data)
    assert list(X.columns) == list(ref.feature_names)
    np.testing.assert_array_equal(y["species"].to_numpy(dtype=object),
                                  ref.target_names[ref.target])


def test_breast_cancer_wine_digits_labels() -> None:
    _, y = real.breast_cancer()
    assert y["diagnosis"].value_counts().to_dict() == {"benign": 357, "malignant": 212}
    X, y = real.wine()
    assert X.shape == (178, 13) and sorted(y["cultivar"].unique()) == ["class_0", "class_1",
                                                                      "class_2"]
    X, y = real.digits()
    assert X.shape == (1797, 64) and y["digit"].dtype == np.int64
    assert sorted(y["digit"].unique().tolist()) == list(range(10))


def test_penguins_is_the_palmer_csv() -> None:
    X, y = real.penguins()
    assert list(X.columns) == ["island", "bill_length_mm", "bill_depth_mm",
                               "flipper_length_mm", "body_mass_g", "sex", "year"]
    assert y["species"].value_counts().to_dict() == {"Adelie": 152, "Gentoo": 124,
                                                     "Chinstrap": 68}
    assert X.isna().sum().to_dict() == {"island": 0, "bill_length_mm": 2, "bill_depth_mm": 2,
                                        "flipper_length_mm": 2, "body_mass_g": 2, "sex": 11,
                                        "year": 0}


def test_penguins_missing_values_error_names_columns() -> None:
    t = load_table(DataConfig(source="penguins"), seed=0)
    with pytest.raises(DataError, match=r"missing values in 5 columns: bill_length_mm \(2\), "
                       r".*sex \(11\) \(hint: --impute mean\|median\|most_frequent\|drop\)"):
        clean_missing(t, "error")
    assert len(clean_missing(t, "drop").X) == 333


def test_penguins_end_to_end_preprocessing() -> None:
    t = clean_missing(load_table(DataConfig(source="penguins"), seed=0), "median")
    enc = TargetEncoder.fit(t.y)
    assert enc.task == "multiclass" and enc.classes == ["Adelie", "Chinstrap", "Gentoo"]
    y = enc.transform(t.y)
    s = split_indices(len(y), test_size=0.2, val_size=0.0, seed=0, stratify=y)
    pre = Preprocessor.fit(t.X.iloc[s.train], impute="median")
    assert set(pre.categorical) == {"island", "sex"}
    Z = pre.transform(t.X)
    assert Z.shape == (344, len(pre.feature_names_out)) and np.isfinite(Z).all()


def test_load_table_synthetic_ignores_target_and_features() -> None:
    cfg = DataConfig(source="blobs", n_samples=60, n_classes=3, n_features=4, target="zz",
                     features=["nope"])
    t = load_table(cfg, seed=1)
    assert list(t.X.columns) == ["x1", "x2", "x3", "x4"] and list(t.y.columns) == ["y"]
    assert t.kind == "synthetic" and t.source == "blobs" and len(t.X) == 60


def test_load_table_real_target_and_feature_override() -> None:
    t = load_table(DataConfig(source="penguins", target="body_mass_g",
                              features=["species", "flipper_length_mm"]), seed=0)
    assert list(t.X.columns) == ["species", "flipper_length_mm"]
    assert list(t.y.columns) == ["body_mass_g"] and t.kind == "real"
    t = load_table(DataConfig(source="iris", features=["petal length (cm)"]), seed=0)
    assert list(t.X.columns) == ["petal length (cm)"] and list(t.y.columns) == ["species"]
    with pytest.raises(DataError, match="unknown feature column 'petal'"):
        load_table(DataConfig(source="iris", features=["petal"]), seed=0)


def test_load_table_unknown_name_suggests_close_one() -> None:
    with pytest.raises(DataError, match=r"unknown dataset 'circels'.*did you mean 'circles'"):
        load_table(DataConfig(source="circels"), seed=0)


def test_load_table_reads_files(tiny_csv) -> None:
    t = load_table(DataConfig(source=str(tiny_csv), target="label"), seed=0)
    assert t.kind == "file" and list(t.X.columns) == ["x1", "x2", "color"]


@pytest.mark.parametrize("name", list(DATASETS))
def test_dataset_summary(name: str) -> None:
    s = dataset_summary(name)
    assert s["task"] == DATASETS[name].task
    assert s["rows"] == (1000 if DATASETS[name].kind == "synthetic" else len(real.__dict__[
        name]()[0]))
    assert s["features"] >= 1
    assert (s["classes"] is None) == (s["task"] == "regression")


def test_dataset_summary_unknown() -> None:
    with pytest.raises(DataError, match="did you mean 'iris'"):
        dataset_summary("irs")
