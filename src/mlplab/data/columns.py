"""Column values as data, not as Python types: canonical category keys, numbers in text,
dates, and the kind of each feature column.

A value is matched by its canonical string (``canonical``): ``1``, ``1.0``, ``"1"`` and
``"01"`` are the same category, ``True`` and ``"true"`` too, so a row reads the same whether
its file happened to be parsed as integers or as text (DESIGN: data decides by value).

Example
-------
>>> [canonical(v) for v in (1, 1.0, "1", " 01", True, "true", 2.5, "x", None)]
['1', '1', '1', '1', 'True', 'True', '2.5', 'x', None]
>>> infer_kind(pd.Series(["2023-05-27", "2024-01-02"]), "when")
'date'
"""

from __future__ import annotations

import datetime as dt
import math
import re
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from mlplab.errors import DataError, MlplabWarning

NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
# a text column whose values are this share numbers, with this many distinct numbers, is
# numeric data with stray tokens ("?", "n/a"), not categories
MOSTLY_NUMBERS = 0.8
MANY_NUMBERS = 20
ROW_ID_MIN_ROWS = 20  # unique integers in at least this many rows may be a row ID
EPOCH = pd.Timestamp("1970-01-01")
# derived features of a date column: name -> values from a datetime Series (NaT -> NaN)
DATE_PARTS = {
    "days": lambda t: (t - EPOCH) / pd.Timedelta(days=1),  # days since 1970-01-01 (trend)
    "year": lambda t: t.dt.year,
    "month": lambda t: t.dt.month,
    "day": lambda t: t.dt.day,
    "weekday": lambda t: t.dt.day_of_week,  # Monday = 0
    "hour": lambda t: t.dt.hour + t.dt.minute / 60,  # only when training rows have times
}
DATE_FORMAT_PARTS = ("%Y", "%m", "%d")  # a text format must name a whole date


def json_safe(v: Any) -> Any:
    """A plain Python value (int/float/bool/str) that JSON keeps as it is.

    >>> json_safe(np.int64(3)), json_safe(pd.Timestamp("2024-01-02"))
    (3, '2024-01-02 00:00:00')
    """
    if isinstance(v, np.generic):
        v = v.item()
    return v if isinstance(v, bool | int | float | str) else str(v)


def _number_key(x: float, dtype: Any = np.float64) -> str:
    if x.is_integer():
        return str(int(x))
    return np.format_float_positional(dtype(x), unique=True, trim="-")


def canonical(v: Any) -> str | None:
    """The canonical string of one value (``None`` for missing).

    Integral numbers print without a fraction, other numbers in their shortest form,
    booleans as ``True``/``False``, timestamps in ISO form (``2024-01-02`` at midnight) and
    text stripped; text that reads as a number or a boolean gets that value's string.
    """
    if v is None or v is pd.NaT or v is pd.NA:
        return None
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        x = float(v)
        if math.isnan(x):
            return None
        return str(x) if math.isinf(x) else _number_key(x, type(v) if isinstance(
            v, np.floating) else np.float64)
    if isinstance(v, dt.datetime | dt.date | np.datetime64):
        t = pd.Timestamp(v)
        return t.date().isoformat() if t == t.normalize() else t.isoformat(sep=" ")
    s = str(v).strip()
    if NUMBER.match(s):
        return _number_key(float(s))
    return {"true": "True", "false": "False"}.get(s.lower(), s)


def canonical_values(col: pd.Series) -> np.ndarray:
    """Canonical strings of a column, (n,) object array, ``None`` where missing.

    Each distinct value is converted once (vectorised through ``pd.factorize``).

    >>> canonical_values(pd.Series([1, 2, 1])).tolist()
    ['1', '2', '1']
    """
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    keys = np.array([canonical(u) for u in uniques] + [None], dtype=object)
    return keys[codes]  # type: ignore[no-any-return]  # code -1 picks the trailing None


def sort_key(key: str) -> tuple[bool, float, str]:
    """Order of canonical keys: numbers by value first, then text."""
    return (False, float(key), "") if NUMBER.match(key) else (True, 0.0, key)


# --- numbers in text -----------------------------------------------------------------------


def _text_numbers(values: pd.Series, decimal: str) -> pd.Series:
    text = values.astype(str).str.strip()
    if decimal != ".":
        text = text.str.replace(decimal, ".", regex=False)
    return pd.to_numeric(text.where(text.str.match(NUMBER.pattern)), errors="coerce")


def blank_tokens(col: pd.Series, na_values: Sequence[str]) -> pd.Series:
    """``col`` with the text tokens in ``na_values`` (compared stripped) set to missing."""
    if not na_values or col.dtype.kind in "biufcmM":
        return col
    tokens = {str(t).strip() for t in na_values}
    hit = col.map(lambda v: isinstance(v, str) and v.strip() in tokens)
    return col.where(~hit.astype(bool)) if hit.any() else col


def is_numeric_column(col: pd.Series, decimal: str = ".") -> bool:
    """Numeric/bool dtype, or text whose non-missing values all parse as numbers.

    >>> is_numeric_column(pd.Series(["1", "2.5", None])), is_numeric_column(pd.Series(["a"]))
    (True, False)
    """
    if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
        return True
    values = col.dropna()
    if len(values) == 0 or isinstance(col.dtype, pd.CategoricalDtype) or col.dtype.kind in "mM":
        return False
    if values.map(lambda v: isinstance(v, bool | np.bool_)).any():
        return False
    return bool(_text_numbers(values, decimal).notna().all())


def to_float(col: pd.Series, name: str, na_values: Sequence[str] = (), decimal: str = ".",
             hint: str | None = None) -> np.ndarray:
    """A column as float64 (n,), NaN where missing; text that is not a number -> DataError.

    >>> to_float(pd.Series(["1,5", "?"]), "x", na_values=["?"], decimal=",").tolist()
    [1.5, nan]
    """
    if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
        return np.array(col.to_numpy(dtype=np.float64, na_value=np.nan))
    col = blank_tokens(col.astype(object), na_values)
    conv = _text_numbers(col, decimal).where(col.notna())
    bad = conv.isna() & col.notna()
    if bad.any():
        raise DataError(f"column '{name}' should be numeric",
                        found=f"text {_counted(col[bad])}",
                        hint=hint or f"--na-values '{','.join(map(str, col[bad].unique()[:5]))}'"
                        f" reads them as missing, or --categorical {name} keeps it as text")
    return np.array(conv.to_numpy(dtype=np.float64, na_value=np.nan))


def _counted(values: pd.Series, limit: int = 5) -> str:
    counts = values.astype(str).value_counts()
    shown = ", ".join(f"{v!r} ({n} rows)" for v, n in counts.head(limit).items())
    return shown + (f" and {len(counts) - limit} more" if len(counts) > limit else "")


def check_stray_tokens(col: pd.Series, name: str, decimal: str) -> None:
    """Refuse a text column that is numeric data with a few non-numbers in it.

    Mostly numbers (at least 80%, more than 20 distinct ones) plus some tokens would
    otherwise become a one-hot block with a column per number.
    """
    values = col.dropna().astype(str).str.strip()
    nums = _text_numbers(values, decimal)
    ok = nums.notna()
    if decimal == "." and _text_numbers(values, ",").notna().mean() >= MOSTLY_NUMBERS \
            and values.str.contains(",", regex=False).any() and ok.mean() < MOSTLY_NUMBERS:
        raise DataError(f"column '{name}' holds numbers with decimal commas",
                        found=f"values such as {values[~ok].iloc[0]!r}",
                        hint=f"--decimal , reads them as numbers (or --categorical {name})")
    if ok.mean() >= MOSTLY_NUMBERS and nums[ok].nunique() > MANY_NUMBERS:
        tokens = values[~ok].unique()[:5]
        raise DataError(f"column '{name}' holds numbers and a few other values",
                        found=_counted(values[~ok]),
                        hint=f"--na-values '{','.join(tokens)}' reads them as missing "
                        f"(then --impute median), or --categorical {name} keeps it as text")


# --- dates ---------------------------------------------------------------------------------


def date_format(col: pd.Series) -> str | None:
    """A strftime format every non-missing text value parses with, or ``None``.

    >>> date_format(pd.Series(["27/05/2023", "13/01/2024"]))
    '%d/%m/%Y'
    """
    values = col.dropna().astype(str).str.strip()
    if len(values) == 0 or col.dtype.kind in "biufcmM":
        return None
    first = values.iloc[0]
    for dayfirst in (False, True):
        fmt = guess_datetime_format(first, dayfirst=dayfirst)
        if fmt is None or not all(p in fmt for p in DATE_FORMAT_PARTS):
            continue
        if pd.to_datetime(values, format=fmt, errors="coerce").notna().all():
            return fmt
    return None


def to_datetime(col: pd.Series, fmt: str | None, name: str) -> pd.Series:
    """Datetimes (naive, UTC for zoned values) from datetime64 or text in format ``fmt``.

    Text is parsed value by value with the format learned in training, so a row never
    depends on the other rows in its file.
    """
    if col.dtype.kind == "M" or isinstance(col.dtype, pd.DatetimeTZDtype):
        t = pd.Series(col)
    else:
        text = col.astype(object).map(lambda v: _date_text(v, fmt))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = pd.to_datetime(text, format=fmt or "ISO8601", errors="coerce", utc=True)
        bad = t.isna() & col.notna()
        if bad.any():
            raise DataError(f"column '{name}' should hold dates",
                            found=_counted(col[bad].astype(str)),
                            hint=f"write them like the training rows ({fmt or 'ISO 8601'})")
    if isinstance(t.dtype, pd.DatetimeTZDtype):
        t = t.dt.tz_convert("UTC").dt.tz_localize(None)
    return t.astype("datetime64[ns]")


def _date_text(v: Any, fmt: str | None) -> Any:
    """A date-like value as text in the training format (so it parses as the text does)."""
    if isinstance(v, dt.date | np.datetime64) and not pd.isna(v):
        t = pd.Timestamp(v)
        return t.strftime(fmt) if fmt else t.isoformat()
    return v if isinstance(v, str) or pd.isna(v) else str(v)


def date_parts(t: pd.Series) -> list[str]:
    """The derived features for training datetimes: ``hour`` only if some have a time."""
    has_time = bool(((t - t.dt.normalize()).dropna() != pd.Timedelta(0)).any())
    return [p for p in DATE_PARTS if p != "hour" or has_time]


def date_features(t: pd.Series, parts: list[str]) -> np.ndarray:
    """(n, len(parts)) float64 features of datetimes, NaN where missing."""
    return np.column_stack([np.asarray(DATE_PARTS[p](t), dtype=np.float64) for p in parts])


def to_seconds(col: pd.Series, name: str) -> np.ndarray:
    """Durations (timedelta64 or text like ``'1 days 02:00:00'``) as float64 seconds."""
    td = col if col.dtype.kind == "m" else pd.to_timedelta(col, errors="coerce")
    bad = td.isna() & col.notna()
    if bad.any():
        raise DataError(f"column '{name}' should hold durations", found=_counted(col[bad]))
    return np.array(td.dt.total_seconds(), dtype=np.float64)  # a writable copy


# --- names and kinds -----------------------------------------------------------------------


def column_names(given: str | Sequence[str] | None, names: list[str]) -> list[str]:
    """Names as given: an exact column name stays whole (``'progression, 1yr'``); any other
    entry with commas is a comma-separated list.

    >>> column_names("progression, 1yr", ["progression, 1yr", "age"])
    ['progression, 1yr']
    >>> column_names(["a,b", "c"], ["a", "b", "c"])
    ['a', 'b', 'c']
    """
    if given is None:
        return []
    out: list[str] = []
    for item in [given] if isinstance(given, str) else [str(g) for g in given]:
        if item in names or "," not in item:
            out.append(item)
        else:
            out += [s.strip() for s in item.split(",") if s.strip()]
    return list(dict.fromkeys(out))


def looks_like_row_id(col: pd.Series) -> bool:
    """Unique integers in row order or densely covering their range: a row number.

    >>> looks_like_row_id(pd.Series(range(100, 130))), looks_like_row_id(pd.Series([1, 1] * 20))
    (True, False)
    """
    if col.dtype.kind not in "iuf" or len(col) < ROW_ID_MIN_ROWS or col.isna().any():
        return False
    v = col.to_numpy(dtype=np.float64)
    if not np.all(np.mod(v, 1) == 0) or len(np.unique(v)) != len(v):
        return False
    ordered = bool(np.all(np.diff(v) > 0) or np.all(np.diff(v) < 0))
    return ordered or (v.max() - v.min() + 1) <= 2 * len(v)


def infer_kind(col: pd.Series, name: str, decimal: str = ".") -> str:
    """``'numeric'``, ``'categorical'``, ``'date'`` or ``'duration'`` for a training column.

    Numbers (and bools, and text that is all numbers) are numeric; datetime values or text
    that is all dates in one format are dates; timedeltas are durations; other text is
    categorical, except numeric data with stray tokens, which is refused (see
    :func:`check_stray_tokens`). Declare a column to skip this.
    """
    if col.dtype.kind == "M" or isinstance(col.dtype, pd.DatetimeTZDtype):
        return "date"
    if col.dtype.kind == "m":
        return "duration"
    if is_numeric_column(col, decimal):
        if looks_like_row_id(pd.Series(to_float(col, name, decimal=decimal))):
            warnings.warn(f"column '{name}' holds unique integers in sequence, like a row ID; "
                          f"it is used as a feature (--drop {name} leaves it out)",
                          MlplabWarning, stacklevel=3)
        return "numeric"
    if isinstance(col.dtype, pd.CategoricalDtype):
        return "categorical"
    if date_format(col) is not None:
        return "date"
    check_stray_tokens(col, name, decimal)
    return "categorical"


__all__ = ["DATE_PARTS", "blank_tokens", "canonical", "canonical_values",
           "check_stray_tokens", "column_names", "date_features", "date_format", "date_parts",
           "infer_kind", "is_numeric_column", "json_safe", "looks_like_row_id", "sort_key",
           "to_datetime", "to_float", "to_seconds"]
