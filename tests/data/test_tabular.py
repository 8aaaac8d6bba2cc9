"""Files -> tables, task inference, missing values, and the fitted encoders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

from mlplab.data import Preprocessor, Table, TargetEncoder, clean_missing, infer_task, read_file
from mlplab.data.tabular import read_frame
from mlplab.errors import DataError, MlplabWarning

# --- reading files ---------------------------------------------------------------------------


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")
    return p


def test_read_csv(tiny_csv: Path) -> None:
    t = read_file(tiny_csv, "label", None)
    assert isinstance(t, Table) and t.kind == "file" and t.source == str(tiny_csv)
    assert list(t.X.columns) == ["x1", "x2", "color"] and len(t.X) == 120
    assert set(t.y["label"]) == {"yes", "no"}
    t = read_file(tiny_csv, "label", ["x2", "x1"])
    assert list(t.X.columns) == ["x2", "x1"]


@pytest.mark.parametrize("name,text", [
    ("d.tsv", "a\tb\tlabel\n1\t2\tx\n3\t4\ty\n"),
    ("d.txt", "a;b;label\n1;2;x\n3;4;y\n"),
    ("d.csv", "a;b;label\n1;2;x\n3;4;y\n"),  # European CSV: separator sniffed
    ("noext", "a,b,label\n1,2,x\n3,4,y\n"),
])
def test_separators_are_found(tmp_path: Path, name: str, text: str) -> None:
    t = read_file(_write(tmp_path, name, text), "label", None)
    assert list(t.X.columns) == ["a", "b"] and t.X["a"].tolist() == [1, 3]


def test_parquet_round_trip(tmp_path: Path) -> None:
    df = pd.DataFrame({"a": [1.5, 2.5], "c": ["u", "v"], "label": [0, 1]})
    p = tmp_path / "d.parquet"
    df.to_parquet(p)
    t = read_file(p, "label", None)
    pd.testing.assert_frame_equal(t.X, df[["a", "c"]], check_dtype=False)


def test_reading_never_executes_cell_text(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    code = f"__import__('os').system('touch {marker}')"
    t = read_file(_write(tmp_path, "x.csv", f'a,label\n"{code}",1\n"=1+1",0\n'), "label", None)
    assert t.X["a"].tolist() == [code, "=1+1"] and not marker.exists()


@pytest.mark.parametrize("name,content,match", [
    ("empty.csv", "", "is empty"),
    ("blank.csv", "\n\n  \n", "is empty"),
    ("header.csv", "a,b,label\n", "has a header but no rows"),
    ("bin.csv", bytes(range(256)) * 4, "is not a text table"),
    ("latin.csv", b"\x80\x81\x82\x01\x02\xff\xfe" * 50, "is not a text table"),
    ("ragged.csv", "a,b,label\n1,2,x\n3,4,y,9\n", r"wrong number of fields: found line 3 has 4 "
     r"fields, the header has 3"),
    ("bad.parquet", "a,b\n1,2\n", "is not a readable Parquet file"),
])
def test_bad_files_raise_data_error(tmp_path: Path, name: str, content: str | bytes,
                                    match: str) -> None:
    with pytest.raises(DataError, match=match):
        read_file(_write(tmp_path, name, content), "label", None)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"file '.*nope\.csv' not found"):
        read_file(tmp_path / "nope.csv", "label", None)
    with pytest.raises(DataError, match="is a directory"):
        read_frame(tmp_path)


def test_latin1_text_still_reads(tmp_path: Path) -> None:
    p = _write(tmp_path, "l.csv", "name,label\ncaf\xe9,1\nthe,0\n".encode("latin-1"))
    assert read_file(p, "label", None).X["name"].tolist() == ["caf\xe9", "the"]


@pytest.mark.parametrize("target,features,match", [
    (None, None, r"no target column given \(hint: --target COL \(columns: x1, x2, color, "
     r"label\)\)"),
    ("lable", None, r"unknown target column 'lable'.*did you mean 'label'"),
    ("label", ["x1", "colour"], r"unknown feature column 'colour'.*did you mean 'color'"),
    ("label", ["x1", "label"], "column 'label' is both the target and a feature"),
    (["label", "x1", "x2", "color"], None, "no feature columns left"),
])
def test_bad_columns_raise_data_error(tiny_csv: Path, target, features, match: str) -> None:
    with pytest.raises(DataError, match=match):
        read_file(tiny_csv, target, features)


# --- task inference and missing values -------------------------------------------------------


@pytest.mark.parametrize("values,task", [
    (["yes", "no", "yes"], "binary"),
    ([True, False, True], "binary"),
    ([0, 1, 1], "binary"),
    (["a", "b", "c"], "multiclass"),
    ([1, 2, 3, 2], "multiclass"),
    ([0.0, 1.0, 2.0], "multiclass"),
    ([0.5, 1.0, 2.0], "regression"),
    (list(range(21)), "regression"),
])
def test_infer_task_single_column(values: list, task: str) -> None:
    assert infer_task(pd.DataFrame({"t": values})) == task


def test_infer_task_several_columns() -> None:
    assert infer_task(pd.DataFrame({"a": [0, 1], "b": [1, 1]})) == "multilabel"
    with pytest.raises(DataError, match="several target columns need 0/1 values"):
        infer_task(pd.DataFrame({"a": [0, 2], "b": [1, 1]}))


def _table(X: dict, y: dict) -> Table:
    return Table(pd.DataFrame(X), pd.DataFrame(y), "memory", "memory")


def test_clean_missing_strategies() -> None:
    t = _table({"a": [1.0, None, 3.0, 4.0], "c": ["u", "v", None, "u"]}, {"y": [0, 1, 0, None]})
    with pytest.raises(DataError, match=r"^missing values in 3 columns: a \(1\), c \(1\), "
                       r"y \(1\) \(hint: --impute mean\|median\|most_frequent\|drop\)$"):
        clean_missing(t, "error")
    assert clean_missing(t, "drop").X["a"].tolist() == [1.0]
    with pytest.warns(MlplabWarning, match="dropped 1 rows whose target is missing"):
        kept = clean_missing(t, "mean")
    assert len(kept.X) == 3 and kept.X["a"].isna().sum() == 1  # features: imputed later
    clean = _table({"a": [1.0]}, {"y": [0]})
    assert clean_missing(clean, "error") is clean


# --- Preprocessor ----------------------------------------------------------------------------


def _mixed(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"num": rng.normal(5, 2, n), "cat": rng.choice(["a", "b", "c"], n),
                         "flag": rng.random(n) > 0.5, "txt": rng.integers(0, 9, n).astype(str)})


@pytest.mark.parametrize("scale,ref", [("standard", StandardScaler), ("minmax", MinMaxScaler)])
def test_preprocessor_equals_sklearn(scale: str, ref) -> None:
    train, test = _mixed(80, 0), _mixed(30, 1)
    pre = Preprocessor.fit(train, scale=scale)
    assert pre.numeric == ["num", "flag", "txt"]  # bool and numeric text count as numeric
    assert pre.categorical == {"cat": ["a", "b", "c"]}
    assert pre.feature_names_out == ["num", "cat=a", "cat=b", "cat=c", "flag", "txt"]
    num = ["num", "flag", "txt"]
    scaler = ref().fit(train[num].astype(float))
    onehot = OneHotEncoder(sparse_output=False).fit(train[["cat"]])
    for frame in (train, test):
        got = pre.transform(frame)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got[:, [0, 4, 5]], scaler.transform(frame[num].astype(float)),
                                   rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(got[:, 1:4], onehot.transform(frame[["cat"]]))


def test_preprocessor_is_fitted_on_train_rows_only() -> None:
    X = _mixed(100, 0)
    train = X.iloc[:70]
    pre_a = Preprocessor.fit(train)
    X_shifted = X.copy()
    X_shifted.loc[70:, "num"] += 1000.0  # test rows change...
    pre_b = Preprocessor.fit(X_shifted.iloc[:70])
    assert pre_a.center == pre_b.center  # ...the fitted statistics do not
    assert pre_a.center["num"] == pytest.approx(train["num"].mean())
    assert pre_a.spread["num"] == pytest.approx(train["num"].std(ddof=0))


def test_preprocessor_json_round_trip_gives_identical_transform() -> None:
    X = _mixed(50, 0)
    X.loc[3, "num"] = np.nan
    X.loc[4, "cat"] = None
    pre = Preprocessor.fit(X, impute="median")
    again = Preprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    np.testing.assert_array_equal(pre.transform(X), again.transform(X))
    assert again.feature_names_out == pre.feature_names_out


def test_imputation_values_come_from_train() -> None:
    X = pd.DataFrame({"n": [1.0, 2.0, 10.0, np.nan], "c": ["a", "b", "b", None]})
    for impute, fill in [("mean", 13 / 3), ("median", 2.0), ("most_frequent", 1.0)]:
        pre = Preprocessor.fit(X, scale="none", impute=impute)
        assert pre.fill["n"] == pytest.approx(fill) and pre.fill["c"] == "b"
        out = pre.transform(X)
        assert out[3, 0] == pytest.approx(fill) and out[3].tolist()[1:] == [0.0, 1.0]


def test_transform_validates_input() -> None:
    pre = Preprocessor.fit(pd.DataFrame({"n": [1.0, 2.0], "c": ["a", "b"]}))
    with pytest.raises(DataError, match="missing input column: c"):
        pre.transform(pd.DataFrame({"n": [1.0]}))
    with pytest.raises(DataError, match=r"column 'n' should be numeric: found text "
                       r"'oops' \(1 rows\) \(hint: the model learned numbers here"):
        pre.transform(pd.DataFrame({"n": ["3", "oops"], "c": ["a", "a"]}))
    with pytest.raises(DataError, match="non-finite value in column 'n'"):
        pre.transform(pd.DataFrame({"n": [np.inf], "c": ["a"]}))
    with pytest.raises(DataError, match=r"missing values in column 'n' \(1\)"):
        pre.transform(pd.DataFrame({"n": [np.nan], "c": ["a"]}))
    out = pre.transform(pd.DataFrame({"c": ["zzz"], "n": [1.5], "extra": [0]}))
    assert out[0, 1:].tolist() == [0.0, 0.0]  # unseen category: all-zero one-hot


def test_constant_column_and_id_column() -> None:
    X = pd.DataFrame({"k": [3.0] * 30, "id": [f"row{i}" for i in range(30)]})
    with pytest.warns(MlplabWarning, match="column 'id' has 30 distinct values"):
        pre = Preprocessor.fit(X)
    assert pre.spread["k"] == 1.0 and "id" in pre.categorical
    assert (pre.transform(X)[:, 0] == 0).all()


# --- TargetEncoder ---------------------------------------------------------------------------


def test_target_encoder_classes_round_trip() -> None:
    y = pd.DataFrame({"sp": ["Gentoo", "Adelie", "Chinstrap", "Adelie"]})
    enc = TargetEncoder.fit(y)
    assert (enc.task, enc.classes, enc.target_names) == ("multiclass",
                                                          ["Adelie", "Chinstrap", "Gentoo"],
                                                          ["sp"])
    idx = enc.transform(y)
    assert idx.dtype == np.int64 and idx.tolist() == [2, 0, 1, 0]
    assert enc.inverse(idx).tolist() == y["sp"].tolist()
    again = TargetEncoder.from_dict(json.loads(json.dumps(enc.to_dict())))
    np.testing.assert_array_equal(again.transform(y), idx)
    with pytest.raises(DataError, match="unknown class 'Emperor' in target 'sp'"):
        enc.transform(pd.DataFrame({"sp": ["Emperor"]}))


def test_target_encoder_integer_labels() -> None:
    enc = TargetEncoder.fit(pd.DataFrame({"y": [1.0, 0.0, 1.0]}))
    assert enc.task == "binary" and enc.classes == [0, 1]
    assert enc.inverse(np.array([1, 0])).dtype == np.int64
    assert enc.transform(pd.DataFrame({"y": [1, 0]})).tolist() == [1, 0]


def test_target_encoder_regression_and_multilabel() -> None:
    reg = TargetEncoder.fit(pd.DataFrame({"v": [0.5, 1.7, 2.2]}))
    assert reg.task == "regression" and reg.classes == []
    out = reg.transform(pd.DataFrame({"v": [0.5, 1.0]}))
    assert out.dtype == np.float32 and out.shape == (2, 1)
    ml = TargetEncoder.fit(pd.DataFrame({"a": [0, 1, 1], "b": [True, False, True]}))
    assert ml.task == "multilabel" and ml.classes == ["a", "b"]
    assert ml.transform(pd.DataFrame({"a": [1], "b": [0]})).tolist() == [[1.0, 0.0]]


@pytest.mark.parametrize("y,task,match", [
    ({"y": ["a", "a"]}, "auto", "target 'y' has a single class"),
    ({"y": ["a", "b"]}, "regression", "regression target 'y' is not numeric"),
    ({"a": [0, 2], "b": [1, 0]}, "multilabel", "multilabel targets must be 0/1"),
    ({"y": ["a", "b", "c"]}, "binary", "task binary needs exactly 2 classes"),
    ({"y": ["a", None]}, "auto", "target has missing values"),
])
def test_target_encoder_errors(y: dict, task: str, match: str) -> None:
    with pytest.raises(DataError, match=match):
        TargetEncoder.fit(pd.DataFrame(y), task)
