"""Tables as practitioners have them (issue 15): codes, dates, stray tokens, IDs, prices, rare
classes, odd names and encodings. Each either trains right or refuses in one clean line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from sklearn.linear_model import LinearRegression

import mlplab
from mlplab.cli.main import main
from mlplab.errors import DataError

QUICK = {"model": {"hidden": [8]}, "train": {"epochs": 40}, "log": {"quiet": True}}
FAST = ["--epochs", "30", "--quiet", "--set", "log.plots=false"]


def cfg(**data):
    return {**QUICK, "data": {"source": "memory", **data}}


def messy_frame(n: int = 160, seed: int = 0) -> pd.DataFrame:
    """Numbers, text codes that look like integers, dates, bools, tokens and gaps."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    code = rng.choice(["1", "2", "3", "x"], size=n)
    when = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    size = np.round(rng.normal(10, 3, n), 2).astype(object)
    size[rng.choice(n, 6, replace=False)] = "?"
    color = rng.choice(["red", "green", None], size=n, p=[0.45, 0.45, 0.1])
    flag = rng.random(n) > 0.5
    score = x + (code == "x") + 0.5 * flag + (when.month.to_numpy() > 6)
    label = np.where(score > np.median(score), "yes", "no")
    return pd.DataFrame({"x": x, "code": code, "when": when.strftime("%Y-%m-%d"),
                         "size": size, "color": color, "flag": flag, "label": label})


@pytest.fixture(scope="module")
def messy_run():
    frame = messy_frame()
    run = mlplab.train(cfg(target="label", na_values=["?"], impute="median"), data=frame,
                       save=False)
    return run, frame.drop(columns=["label"])


def test_a_rows_prediction_never_depends_on_the_other_rows(messy_run) -> None:
    """Regression (issue 15, item 1): the same row got probabilities up to 0.46 apart
    depending on which other rows were in its file."""
    run, X = messy_run
    features = run.features(X).numpy()
    one_by_one = np.vstack([run.features(X.iloc[[i]]).numpy() for i in range(len(X))])
    np.testing.assert_array_equal(features, one_by_one)  # the data layer: bit for bit
    # the network: every row goes through products of one shape (Run._forward pads), so the
    # probabilities are identical too, not just close
    proba = np.vstack([run.predict_proba(X.iloc[[i]]) for i in range(len(X))])
    np.testing.assert_array_equal(run.predict_proba(X), proba)
    np.testing.assert_array_equal(run.predict_proba(X.iloc[::-1]), proba[::-1])
    labels = np.concatenate([run.predict(X.iloc[[i]]) for i in range(len(X))])
    np.testing.assert_array_equal(run.predict(X), labels)
    # rows without an 'x' code, read back from a CSV where pandas makes the codes integers
    plain = X[X["code"] != "x"].reset_index(drop=True)
    reread = plain.assign(code=plain["code"].astype(int),
                          when=pd.to_datetime(plain["when"]))  # as from Parquet
    np.testing.assert_array_equal(run.predict_proba(reread), run.predict_proba(plain))


def test_messy_kinds_are_inferred_as_documented(messy_run) -> None:
    run, _ = messy_run
    pre = run.preprocessor
    assert sorted(pre.categorical) == ["code", "color"]
    assert pre.categorical["code"] == ["1", "2", "3", "x"]
    assert list(pre.dates) == ["when"] and pre.numeric == ["x", "size", "flag"]


def test_predict_does_not_touch_the_callers_frame(messy_run) -> None:
    """Regression: run.predict(df) renamed the caller's columns in place."""
    run, X = messy_run
    before = X.copy()
    run.predict(X)
    run.predict_frame(X)
    pd.testing.assert_frame_equal(X, before)


def test_regression_targets_are_scaled_and_scored_in_their_units(tmp_path) -> None:
    """Regression (issue 15, item 2): house prices near 3e5 ended at test R^2 -3.55."""
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(400, 5)), columns=[f"f{i}" for i in range(5)])
    price = 3e5 + X.to_numpy() @ np.array([4e4, -2e4, 1e4, 3e4, 5e3]) \
        + rng.normal(0, 5e3, 400)
    frame = X.assign(price=price)
    run = mlplab.train({**cfg(target="price"), "model": {"hidden": []},
                        "optim": {"name": "adam", "lr": 0.05},
                        "train": {"epochs": 300, "early_stopping": "off"}},
                       data=frame, out=tmp_path / "r")
    test = run.metrics["test"]
    train_rows = np.ones(len(frame), bool)
    n_test = round(0.2 * len(frame))
    assert run.info["n_test"] == n_test
    pred = run.predict(X)
    assert pred.mean() == pytest.approx(price.mean(), rel=0.01)  # original units
    lin = LinearRegression().fit(X, price)
    assert test["r2"] > 0.98 * skm.r2_score(price, lin.predict(X)) > 0.9
    scaler = json.loads((tmp_path / "r" / "model.json").read_text())["target_scaler"]
    assert scaler["mean"][0] == pytest.approx(price.mean(), rel=0.01) and train_rows.all()
    assert scaler["scale"][0] == pytest.approx(price.std(), rel=0.1)
    again = mlplab.load(tmp_path / "r")
    np.testing.assert_allclose(again.predict(X), pred, rtol=1e-6)
    scored = again.evaluate(frame)
    assert scored["rmse"] == pytest.approx(skm.root_mean_squared_error(price, pred), rel=1e-5)


def fraud_frame(n: int = 1200, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    amount = rng.normal(size=n)
    hour = rng.normal(size=n)
    fraud = (amount + 0.5 * hour + rng.normal(0, 0.3, n)) > 2.3  # about 1-2 %
    return pd.DataFrame({"amount": amount, "hour": hour,
                         "status": np.where(fraud, "fraud", "ok")})


def test_binary_scores_are_for_the_minority_class(tmp_path) -> None:
    """Regression (issue 15, item 3): a 99:1 table reported recall 1.0 for the majority."""
    frame = fraud_frame()
    run = mlplab.train(cfg(target="status"), data=frame, out=tmp_path / "r")
    assert run.classes == ["ok", "fraud"] and run.target_encoder.pos_label == "fraud"
    pred = run.predict(frame)
    m = run.evaluate(frame)
    y = frame["status"]
    assert m["recall"] == pytest.approx(skm.recall_score(y, pred, pos_label="fraud"))
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred, pos_label="fraud",
                                                               zero_division=0))
    assert m["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    saved = json.loads((tmp_path / "r" / "model.json").read_text())
    assert saved["pos_label"] == "fraud" and saved["target_scaler"] is None
    assert "f1_macro" in run.metrics["train"] and "f1_macro" in run.metrics["test"]


def test_pos_label_flag_and_the_line_that_names_the_class(capsys, tmp_path) -> None:
    data = tmp_path / "fraud.csv"
    fraud_frame(400).to_csv(data, index=False)
    code = main(["train", "--data", str(data), "--target", "status", "--pos-label", "ok",
                 "--out", str(tmp_path / "r"), "--epochs", "20", "--set", "log.plots=false"])
    out = capsys.readouterr().out
    assert code == 0
    assert "precision, recall and F1 are for class 'ok'; macro F1: train " in out
    assert mlplab.load(tmp_path / "r").classes == ["fraud", "ok"]


def test_integer_column_names_train_and_predict() -> None:
    """Regression: mlplab.train(cfg, data=DataFrame) with integer names raised KeyError '0'."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(80, 3)))
    frame[3] = (frame[0] > 0).astype(int)
    run = mlplab.train(cfg(target=3), data=frame, save=False)
    assert run.feature_names == ["0", "1", "2"]
    assert run.predict(frame.drop(columns=[3])).shape == (80,)


def test_drop_and_declared_categorical_through_the_api() -> None:
    rng = np.random.default_rng(3)
    n = 120
    frame = pd.DataFrame({"row": np.arange(n), "grade": rng.integers(1, 4, n),
                          "x": rng.normal(size=n)})
    frame["y"] = (frame["grade"] == 2) ^ (frame["x"] > 0)
    run = mlplab.train(cfg(target="y", drop=["row"], categorical=["grade"]), data=frame,
                       save=False)
    assert run.feature_names == ["grade", "x"]
    assert run.preprocessor.feature_names_out == ["grade=1", "grade=2", "grade=3", "x"]


def test_duplicate_column_names_are_warned_about(tmp_path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("a,a,y\n1,2,0\n3,4,1\n")
    with pytest.warns(UserWarning, match=r"has duplicate column names: 'a' \(2 times\); "
                      r"read as a, a.1"):
        t = mlplab.data.read_file(path, "y", None)
    assert list(t.X.columns) == ["a", "a.1"]


def test_a_comma_in_a_target_name_stays_whole(capsys, tmp_path) -> None:
    """Regression: --target 'progression, 1yr' was split at the comma."""
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"age": rng.normal(size=60)})
    frame["progression, 1yr"] = frame["age"] * 3 + rng.normal(size=60) * 0.1 + 0.05
    data = tmp_path / "p.csv"
    frame.to_csv(data, index=False)
    code = main(["train", "--data", str(data), "--target", "progression, 1yr",
                 "--out", str(tmp_path / "r"), *FAST])
    assert code == 0, capsys.readouterr().err
    assert mlplab.load(tmp_path / "r").target_encoder.target_names == ["progression, 1yr"]


def test_show_prints_the_models_real_input_width(capsys, tmp_path) -> None:
    """Regression: `mlplab show` printed 5 -> 100 -> 1 for a model with 10 inputs."""
    frame = messy_frame(80).drop(columns=["size"])
    data = tmp_path / "m.csv"
    frame.to_csv(data, index=False)
    assert main(["train", "--data", str(data), "--target", "label", "--hidden", "6",
                 "--impute", "most_frequent", "--out", str(tmp_path / "r"), *FAST]) == 0
    capsys.readouterr()
    assert main(["show", str(tmp_path / "r")]) == 0
    width = mlplab.load(tmp_path / "r").model.spec.in_features
    assert width == 1 + 4 + 5 + 2 + 1  # x, code one-hot, date parts, color one-hot, flag
    assert f"model    {width} -> 6 -> 1 " in capsys.readouterr().out


CHINESE = pd.DataFrame({"特征一": [0.1, 0.9, 0.2, 0.8, 0.15, 0.85] * 10,
                        "特征二": [1.0, 0.0, 0.9, 0.1, 1.1, 0.2] * 10,
                        "标签": ["猫", "狗", "猫", "狗", "猫", "狗"] * 10})


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig"])
def test_chinese_csv_in_gbk_or_with_a_bom_trains(capsys, tmp_path, encoding) -> None:
    """Regression (issue 12): a GBK CSV from Excel failed with mojibake column names."""
    data = tmp_path / "中文.csv"
    data.write_bytes(CHINESE.to_csv(index=False).encode(encoding))
    code = main(["train", "--data", str(data), "--target", "标签", "--out",
                 str(tmp_path / "r"), *FAST])
    err = capsys.readouterr().err
    assert code == 0, err
    run = mlplab.load(tmp_path / "r")
    assert run.feature_names == ["特征一", "特征二"] and sorted(run.classes) == ["狗", "猫"]
    assert ("is not UTF-8; read it as gb18030" in err) == (encoding != "utf-8-sig")


def test_predict_and_evaluate_read_gbk_rows(capsys, tmp_path) -> None:
    data = tmp_path / "train.csv"
    data.write_bytes(CHINESE.to_csv(index=False).encode("gbk"))
    assert main(["train", "--data", str(data), "--target", "标签", "--out",
                 str(tmp_path / "r"), *FAST]) == 0
    rows = tmp_path / "rows.csv"
    rows.write_bytes(CHINESE.drop(columns=["标签"]).head(4).to_csv(index=False).encode("gbk"))
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "r"), str(rows)]) == 0
    printed = capsys.readouterr().out.splitlines()
    expected = mlplab.load(tmp_path / "r").predict(CHINESE.head(4)).tolist()
    assert printed[0].endswith(",predicted_标签")
    assert [line.rsplit(",", 1)[1] for line in printed[1:]] == expected
    assert main(["evaluate", str(tmp_path / "r"), "--data", str(data), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == len(CHINESE)


def test_an_undecodable_file_says_it_is_an_encoding_problem(capsys, tmp_path) -> None:
    data = tmp_path / "gbk.csv"
    data.write_bytes(CHINESE.to_csv(index=False).encode("gbk"))
    out = tmp_path / "r"
    code = main(["train", "--data", str(data), "--target", "标签", "--encoding", "ascii",
                 "--out", str(out), *FAST])
    err = capsys.readouterr().err.strip()
    assert code == 2 and not out.exists()
    assert err.startswith(f"error: cannot decode '{data}' as ascii")
    assert "this is a text-encoding problem: pass --encoding" in err and "\n" not in err
    with pytest.raises(DataError, match="unknown text encoding 'klingon'"):
        mlplab.data.read_file(data, "标签", None, encoding="klingon")


@pytest.mark.parametrize(("extra", "message"), [
    ([], r"column 'size' holds numbers and a few other values: found '\?' \(\d rows\)"),
    (["--na-values", "?", "--categorical", "colour"],
     r"--categorical names an unknown feature column 'colour'.*did you mean 'color'"),
    (["--na-values", "?", "--pos-label", "maybe"], r"pos_label 'maybe' is not a class"),
    (["--na-values", "?", "--drop", "nope"], r"unknown --drop column 'nope'"),
])
def test_bad_tables_and_flags_are_one_error_line(capsys, tmp_path, extra, message) -> None:
    data = tmp_path / "messy.csv"
    messy_frame(80).to_csv(data, index=False)
    out = tmp_path / "r"
    code = main(["train", "--data", str(data), "--target", "label", "--impute", "median",
                 "--out", str(out), *extra, *FAST])
    lines = [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("warning")]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ")
    import re
    assert re.search(message, lines[0]), lines[0]
    assert not out.exists()


def test_robust_scale_trains_saves_and_reloads(tmp_path) -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    frame.loc[:9, "a"] = 1e9  # ten huge outliers
    frame["y"] = (frame["b"] > 0).astype(int)
    run = mlplab.train({**cfg(target="y", scale="robust")}, data=frame, out=tmp_path / "r")
    assert np.abs(run.features(frame[["a", "b"]]).numpy()).max() <= 3.0
    np.testing.assert_array_equal(mlplab.load(tmp_path / "r").predict_proba(frame),
                                  run.predict_proba(frame))


def test_scale_target_off_keeps_raw_targets() -> None:
    rng = np.random.default_rng(6)
    frame = pd.DataFrame({"x": rng.normal(size=60)})
    frame["y"] = 2.5 * frame["x"] + 0.25
    run = mlplab.train({**cfg(target="y", scale_target=False)}, data=frame, save=False)
    assert run.target_encoder.scaler is None and run.model_json()["target_scaler"] is None


def test_a_wide_table_gets_one_cheap_principal_plane(monkeypatch) -> None:
    """Regression: on 1,600 x 3,124 plotting took 43 of 53 s, the same SVD computed twice."""
    from mlplab.inspect.plots import view

    rng = np.random.default_rng(7)
    basis = np.linalg.qr(rng.normal(size=(700, 2)))[0].T  # (2, 700) the true top directions
    X = (rng.normal(size=(600, 2)) * [30.0, 20.0] @ basis
         + rng.normal(size=(600, 700)) * 0.1).astype(np.float32)
    calls = []
    real = view.randomized_svd
    monkeypatch.setattr(view, "randomized_svd",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    first = view.make_plane(X, [f"f{i}" for i in range(700)])
    again = view.make_plane(X, [f"f{i}" for i in range(700)])
    assert len(calls) == 1 and again.basis is first.basis
    assert "randomised SVD" in first.note
    # the same plane as the exact SVD's (up to sign and order within the plane)
    _, _, vt = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)
    np.testing.assert_allclose(np.abs(first.basis @ vt[:2].T).sum(axis=1), 1.0, atol=1e-3)


def test_thirty_class_roc_legend_neither_squashes_nor_warns() -> None:
    """Regression: the 30-class ROC/PR figure was squashed by its legend, and a
    constrained_layout warning leaked to stderr."""
    import warnings

    from mlplab.inspect.plots.curves import roc_pr_figure
    from mlplab.inspect.plots.style import png_bytes

    rng = np.random.default_rng(8)
    y = rng.integers(0, 30, 900)
    proba = rng.random((900, 30))
    proba[np.arange(900), y] += 0.5
    proba /= proba.sum(axis=1, keepdims=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = roc_pr_figure(y, proba, [f"class_{i}" for i in range(30)], "multiclass")
        png_bytes(fig)
    assert len(fig.legends) == 1 and len(fig.legends[0].get_texts()) == 30
    auc0 = skm.roc_auc_score(y == 0, proba[:, 0])
    assert fig.legends[0].get_texts()[0].get_text().startswith(f"class_0  AUC {auc0:.3f}")
    for ax in fig.axes:
        assert ax.get_position().height > 0.5  # the plots keep most of the figure
