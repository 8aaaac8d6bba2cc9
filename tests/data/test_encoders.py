"""Column values, feature and target encoders: by value, not by the type a file arrived in."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from mlplab.data import Preprocessor, TargetEncoder
from mlplab.data.columns import canonical, canonical_values, infer_kind, looks_like_row_id
from mlplab.data.encoders import smooth_clip
from mlplab.errors import DataError, MlplabWarning


def test_canonical_forms_agree_across_types() -> None:
    """Regression: "1" learned from text and 1 read as an integer were different categories."""
    same = [(1, "1", 1.0, np.int64(1), " 01", np.float32(1.0)),
            (True, "true", "TRUE", np.bool_(True)),
            (2.5, "2.5", np.float32(2.5), "2.50"),
            (pd.Timestamp("2024-01-02"), np.datetime64("2024-01-02"))]
    for group in same:
        assert len({canonical(v) for v in group}) == 1, group
    assert canonical(0.1) == canonical(np.float32(0.1)) == "0.1"
    assert [canonical(v) for v in (None, np.nan, pd.NaT)] == [None, None, None]
    assert canonical_values(pd.Series(["a", None, "a"])).tolist() == ["a", None, "a"]


def test_codes_learned_as_text_match_the_same_codes_read_as_integers() -> None:
    """Regression (issue 15): a file without the 'x' rows was read as integers and every
    value became unseen, so the same row got other probabilities."""
    train = pd.DataFrame({"code": ["1", "2", "3", "x", "2", "1"]})
    pre = Preprocessor.fit(train)
    assert pre.categorical["code"] == ["1", "2", "3", "x"]
    as_text = pre.transform(pd.DataFrame({"code": ["1", "2", "3"]}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing unseen
        as_int = pre.transform(pd.DataFrame({"code": [1, 2, 3]}))
        as_float = pre.transform(pd.DataFrame({"code": [1.0, 2.0, 3.0]}))
    np.testing.assert_array_equal(as_text, as_int)
    np.testing.assert_array_equal(as_text, as_float)
    np.testing.assert_array_equal(as_text, np.eye(4, dtype=np.float32)[:3])


def test_unseen_categories_warn_once_with_counts() -> None:
    pre = Preprocessor.fit(pd.DataFrame({"c": ["a", "b", "a"], "d": ["u", "v", "u"]}))
    with pytest.warns(MlplabWarning) as record:
        out = pre.transform(pd.DataFrame({"c": ["z", "z", "a"], "d": ["u", "w", "v"]}))
    assert len(record) == 1
    assert str(record[0].message) == ("rows with categories not seen in training (encoded as "
                                      "none of the known ones): 'c': 2 ('z'); 'd': 1 ('w')")
    assert out[:2, :2].sum() == 0 and out[2, 0] == 1.0


def test_dates_become_numeric_parts_whatever_the_source_type() -> None:
    """Regression: dates learned from CSV text and predicted from datetime64 flipped labels."""
    text = pd.Series(["2023-05-27", "2023-06-01", "2024-01-15", "2022-12-31"])
    pre = Preprocessor.fit(pd.DataFrame({"when": text}))
    assert pre.dates["when"] == {"format": "%Y-%m-%d",
                                 "parts": ["days", "year", "month", "day", "weekday"]}
    assert pre.feature_names_out == ["when.days", "when.year", "when.month", "when.day",
                                     "when.weekday"]
    stamps = pd.DataFrame({"when": pd.to_datetime(text)})
    np.testing.assert_allclose(pre.transform(stamps), pre.transform(pd.DataFrame({"when": text})))
    raw = pre.transform(pd.DataFrame({"when": ["2023-05-27"]}))[0]
    days = (pd.Timestamp("2023-05-27") - pd.Timestamp("1970-01-01")).days  # hand calculation
    assert raw[0] == pytest.approx((days - pre.center["when.days"]) / pre.spread["when.days"],
                                   rel=1e-6)
    mixed = pd.DataFrame({"when": pd.Series([pd.Timestamp("2023-05-27"), "2023-06-01", None],
                                            dtype=object)})
    np.testing.assert_allclose(pre.transform(mixed.iloc[:2]), pre.transform(
        pd.DataFrame({"when": text[:2]})))
    with pytest.raises(DataError, match=r"missing values in column 'when' \(1\)"):
        pre.transform(mixed)
    with pytest.raises(DataError, match="column 'when' should hold dates"):
        pre.transform(pd.DataFrame({"when": ["soon"]}))


def test_durations_are_seconds() -> None:
    td = pd.to_timedelta(["1 days", "2 days", "3 days"])
    pre = Preprocessor.fit(pd.DataFrame({"wait": td}), scale="none")
    assert pre.durations == ["wait"]
    assert pre.transform(pd.DataFrame({"wait": td}))[:, 0].tolist() == [86400, 172800, 259200]


def test_stray_tokens_are_named_and_na_values_read_them_as_missing() -> None:
    rng = np.random.default_rng(0)
    vals = [f"{v:.3f}" for v in rng.normal(size=60)]
    vals[3] = vals[10] = "?"
    vals[7] = "n/a"
    X = pd.DataFrame({"x": vals})
    with pytest.raises(DataError, match=r"column 'x' holds numbers and a few other values: "
                       r"found '\?' \(2 rows\), 'n/a' \(1 rows\) \(hint: --na-values '\?,n/a'"):
        Preprocessor.fit(X)
    pre = Preprocessor.fit(X, na_values=["?", "n/a"], impute="median")
    assert pre.numeric == ["x"]
    seen = np.array([float(v) for v in vals if v not in ("?", "n/a")])
    assert pre.fill["x"] == pytest.approx(np.median(seen))
    # the same tokens are missing at predict time too
    out = pre.transform(pd.DataFrame({"x": ["?"]}))
    assert out[0, 0] == pytest.approx((np.median(seen) - pre.center["x"]) / pre.spread["x"])


def test_decimal_commas_are_detected_and_read_with_decimal() -> None:
    vals = [f"{i / 7:.2f}".replace(".", ",") for i in range(40)]
    with pytest.raises(DataError, match=r"decimal commas.*hint: --decimal ,"):
        Preprocessor.fit(pd.DataFrame({"x": vals}))
    pre = Preprocessor.fit(pd.DataFrame({"x": vals}), decimal=",", scale="none")
    assert pre.transform(pd.DataFrame({"x": ["1,5"]}))[0, 0] == pytest.approx(1.5)


def test_declared_kinds_override_inference() -> None:
    X = pd.DataFrame({"grade": [1, 2, 3, 1], "zip": ["01234", "2345", "01234", "9"]})
    pre = Preprocessor.fit(X, categorical=["grade"], numeric=["zip"], scale="none")
    assert pre.categorical == {"grade": ["1", "2", "3"]} and pre.numeric == ["zip"]
    assert pre.transform(X)[0].tolist() == [1, 0, 0, 1234]
    with pytest.raises(DataError, match=r"--categorical names an unknown feature column "
                       r"'grad'.*did you mean 'grade'"):
        Preprocessor.fit(X, categorical=["grad"])


def test_integer_row_ids_are_warned_about() -> None:
    assert looks_like_row_id(pd.Series(np.arange(1000, 1030)))
    with pytest.warns(MlplabWarning, match="column 'ref' holds unique integers"):
        infer_kind(pd.Series([str(i) for i in range(40)], dtype=object), "ref")  # as text
    assert not looks_like_row_id(pd.Series(np.random.default_rng(0).integers(0, 5, 40)))
    assert not looks_like_row_id(pd.Series(np.arange(30) * 1000.5))
    with pytest.warns(MlplabWarning, match=r"column 'id' holds unique integers in sequence, "
                      r"like a row ID; .*--drop id"):
        assert infer_kind(pd.Series(np.arange(50)), "id") == "numeric"


def test_robust_scaling_clips_outliers_smoothly() -> None:
    x = np.r_[np.linspace(0.0, 1.0, 41), [1e9] * 3]
    pre = Preprocessor.fit(pd.DataFrame({"x": x}), scale="robust")
    q25, med, q75 = np.quantile(x, [0.25, 0.5, 0.75])  # hand calculation
    assert (pre.center["x"], pre.spread["x"]) == pytest.approx((med, q75 - q25))
    z = (x - med) / (q75 - q25)
    expected = z / np.sqrt(1 + (z / 3) ** 2)
    np.testing.assert_allclose(pre.transform(pd.DataFrame({"x": x}))[:, 0], expected, rtol=1e-6)
    assert np.abs(pre.transform(pd.DataFrame({"x": x}))).max() <= 3.0
    np.testing.assert_allclose(pre.transform_array(x[:, None])[:, 0], expected, rtol=1e-5)
    assert smooth_clip(np.array([3.0]))[0] == pytest.approx(3 / np.sqrt(2))


def test_transform_never_mutates_the_callers_frame() -> None:
    pre = Preprocessor.fit(pd.DataFrame({"0": [1.0, 2.0], "1": ["a", "b"]}))
    frame = pd.DataFrame({0: [1.0, 3.0], 1: ["a", "b"]})
    before = frame.copy()
    pre.transform(frame)
    pd.testing.assert_frame_equal(frame, before)


def test_old_saved_categories_load_as_canonical_keys() -> None:
    """Run directories from 0.1 saved categories as their original values."""
    old = {"input_columns": ["c"], "numeric": [], "categorical": {"c": [1, 2.5, "x", True]},
           "scale": "standard", "impute": "most_frequent", "center": {}, "spread": {},
           "fill": {"c": 1}}
    pre = Preprocessor.from_dict(old)
    assert pre.categorical["c"] == ["1", "2.5", "x", "True"] and pre.fill["c"] == "1"
    assert pre.feature_names_out == ["c=1", "c=2.5", "c=x", "c=True"]
    assert pre.transform(pd.DataFrame({"c": ["1", None]}))[:, 0].tolist() == [1.0, 1.0]


# --- targets -------------------------------------------------------------------------------


@pytest.mark.parametrize(("labels", "positive"), [
    (["ok"] * 9 + ["fraud"], "fraud"),  # the minority
    (["no"] * 2 + ["yes"] * 8, "yes"),  # 'yes' even when it is the majority
    ([1] * 8 + [0] * 2, 1),
    ([True, False, False], True),
    (["b", "a", "a", "b"], "b"),  # a tie: the one that sorts last, as before
])
def test_positive_class_is_the_one_users_mean(labels, positive) -> None:
    enc = TargetEncoder.fit(pd.DataFrame({"t": labels}))
    assert enc.task == "binary" and enc.pos_label == positive and enc.classes[1] == positive
    assert enc.transform(pd.DataFrame({"t": [positive]})).tolist() == [1]


def test_pos_label_overrides_and_is_checked() -> None:
    y = pd.DataFrame({"t": [0, 0, 1]})
    assert TargetEncoder.fit(y, pos_label="0").classes == [1, 0]
    words = pd.DataFrame({"t": ["yes", "no", "no"]})
    assert TargetEncoder.fit(words, pos_label=False).pos_label == "no"  # YAML's `no`
    with pytest.raises(DataError, match="pos_label 'maybe' is not a class of the target"):
        TargetEncoder.fit(y, pos_label="maybe")


def test_class_labels_match_by_value() -> None:
    enc = TargetEncoder.fit(pd.DataFrame({"t": ["1", "2", "x"]}))
    assert enc.transform(pd.DataFrame({"t": [1, 2]})).tolist() == [0, 1]


def test_regression_targets_are_standardised_and_inverted() -> None:
    y = pd.DataFrame({"price": [100_000.0, 200_000.0, 300_000.0, 600_000.5]})
    enc = TargetEncoder.fit(y)
    enc.fit_scaler(y.iloc[:3])  # training rows only
    assert enc.scaler == {"mean": [200_000.0], "scale": [pytest.approx(np.std([1, 2, 3]) * 1e5)]}
    z = enc.transform(y)
    np.testing.assert_allclose(z[:3, 0], [-1.2247449, 0, 1.2247449], rtol=1e-6)
    np.testing.assert_allclose(enc.inverse_values(z), y.to_numpy(), rtol=1e-6)


def test_many_integer_classes_say_regression_in_one_line() -> None:
    y = pd.DataFrame({"grade": np.arange(60) % 30})
    with pytest.warns(MlplabWarning, match=r"^target 'grade' holds 30 distinct integers: "
                      r"trained as regression \(--task multiclass treats them as classes\)$"):
        assert TargetEncoder.fit(y).task == "regression"


def test_codes_are_the_one_hot_columns_indices() -> None:
    pre = Preprocessor.fit(pd.DataFrame({"c": ["b", "a", "b", None, "?"]}), impute="most_frequent",
                           na_values=["?"])
    assert pre.categorical["c"] == ["a", "b"] and pre.fill["c"] == "b"  # by hand
    X = pd.Series(["a", "z", None, "b", "?"])
    unseen: dict[str, tuple[int, list[str]]] = {}
    codes = pre.codes("c", X, unseen)
    assert codes.tolist() == [0, -1, 1, 1, 1]  # missing and the '?' token: the fill, 'b'
    assert unseen == {"c": (1, ["z"])}
    with pytest.warns(MlplabWarning, match="'c': 1 \\('z'\\)"):
        one_hot = pre.transform(X.to_frame("c"))
    assert one_hot.tolist() == [[1, 0], [0, 0], [0, 1], [0, 1], [0, 1]]
    strict = Preprocessor.fit(pd.DataFrame({"c": ["b", "a"]}))
    with pytest.raises(DataError, match="missing values in column 'c' \\(1\\)"):
        strict.codes("c", pd.Series(["a", None]))
