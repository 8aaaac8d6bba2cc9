"""Fitted encoders: raw feature columns -> float32 matrix, raw targets -> class indices.

Both are fitted on the training rows only, hold nothing but JSON-safe values, and round-trip
through ``to_dict`` / ``from_dict`` (saved in ``model.json``; never pickled).

Example
-------
>>> X = pd.DataFrame({"size": [1.0, 2.0, 3.0], "color": ["red", "blue", "red"]})
>>> pre = Preprocessor.fit(X)
>>> pre.feature_names_out
['size', 'color=blue', 'color=red']
>>> [round(float(v), 3) for v in pre.transform(X)[0]]
[-1.225, 0.0, 1.0]
"""

from __future__ import annotations

import warnings
from typing import Any, get_args

import numpy as np
import pandas as pd

from mlplab.config import TaskName
from mlplab.errors import ConfigError, DataError, MlplabWarning

SCALES = ("standard", "minmax", "none")
IMPUTES = ("error", "drop", "mean", "median", "most_frequent")
TASKS = get_args(TaskName)
IMPUTE_HINT = "--impute mean|median|most_frequent|drop"
MANY_CATEGORIES = 50  # a categorical column with more distinct values gets a note


def json_safe(v: Any) -> Any:
    """A plain Python value (int/float/bool/str) that JSON keeps as it is."""
    if isinstance(v, np.generic):
        v = v.item()
    return v if isinstance(v, bool | int | float | str) else str(v)


def _sort_key(v: Any) -> tuple[bool, Any]:
    return (isinstance(v, str), v)  # numbers (and bools) first, then text


def is_numeric_column(col: pd.Series) -> bool:
    """Numeric/bool dtype, or text whose non-missing values all parse as numbers.

    >>> is_numeric_column(pd.Series(["1", "2.5", None])), is_numeric_column(pd.Series(["a"]))
    (True, False)
    """
    if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
        return True
    values = col.dropna()
    if len(values) == 0 or isinstance(col.dtype, pd.CategoricalDtype):
        return False
    if values.map(lambda v: isinstance(v, bool | np.bool_)).any():
        return False
    return bool(pd.to_numeric(values, errors="coerce").notna().all())


def to_float(col: pd.Series, name: str) -> np.ndarray:
    """A column as float64 (n,), NaN where missing; text that is not a number -> DataError."""
    if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
        return np.array(col.to_numpy(dtype=np.float64, na_value=np.nan))
    conv = pd.to_numeric(col.astype(object), errors="coerce")
    bad = conv.isna() & col.notna()
    if bad.any():
        raise DataError(f"column '{name}' should be numeric",
                        found=f"text value {str(col[bad].iloc[0])!r} in {int(bad.sum())} rows",
                        hint="fix or blank those values")
    return np.array(conv.to_numpy(dtype=np.float64, na_value=np.nan))


def _frame(X: Any, columns: list[str]) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    if isinstance(X, pd.Series):
        return X.to_frame()
    arr = np.asarray(X)
    arr = arr.reshape(len(arr), -1) if arr.ndim == 1 else arr
    if arr.ndim != 2 or arr.shape[1] != len(columns):
        raise DataError("input has the wrong number of columns",
                        expected=f"{len(columns)} ({', '.join(columns[:20])})",
                        found=f"shape {arr.shape}")
    return pd.DataFrame(arr, columns=columns)


class Preprocessor:
    """Impute, one-hot encode and scale feature columns with statistics from training rows.

    Numeric columns (numeric or bool dtype, or text that parses as numbers) are imputed and
    scaled; other columns become one-hot blocks (an unseen category is all zeros). Build
    with :meth:`fit`; the constructor takes the saved fields.
    """

    def __init__(self, *, input_columns: list[str], numeric: list[str],
                 categorical: dict[str, list[Any]], scale: str, impute: str,
                 center: dict[str, float], spread: dict[str, float],
                 fill: dict[str, Any], notes: list[str] | None = None) -> None:
        self.input_columns = list(input_columns)
        self.numeric = list(numeric)
        self.categorical = {c: list(v) for c, v in categorical.items()}
        self.scale, self.impute = scale, impute
        self.center, self.spread, self.fill = dict(center), dict(spread), dict(fill)
        self.notes = list(notes or [])
        self.feature_names_out: list[str] = []
        for c in self.input_columns:
            if c in self.categorical:
                self.feature_names_out += [f"{c}={v}" for v in self.categorical[c]]
            else:
                self.feature_names_out.append(c)

    @classmethod
    def fit(cls, X: pd.DataFrame, *, scale: str = "standard",
            impute: str = "error") -> Preprocessor:
        """Learn column types, categories, fill values and scaling from the training rows.

        Parameters
        ----------
        X : DataFrame
            Raw training features.
        scale : {'standard', 'minmax', 'none'}
            Scaling of numeric columns (one-hot columns stay 0/1).
        impute : {'error', 'drop', 'mean', 'median', 'most_frequent'}
            Fill value for missing entries; mean/median fall back to the most frequent
            value for categorical columns. With 'error'/'drop', missing values raise.
        """
        if scale not in SCALES:
            raise ConfigError(f"unknown scale '{scale}'", expected=" | ".join(SCALES))
        if impute not in IMPUTES:
            raise ConfigError(f"unknown impute strategy '{impute}'", hint=IMPUTE_HINT)
        X = _frame(X, [])
        if len(X) == 0 or X.shape[1] == 0:
            raise DataError("cannot fit preprocessing", expected="training rows and columns",
                            found=f"shape {X.shape}")
        imputing = impute in ("mean", "median", "most_frequent")
        numeric, categorical, notes = [], {}, []
        center, spread, fill = {}, {}, {}
        for c in map(str, X.columns):
            col = X[c]
            if col.isna().any() and not imputing:
                raise DataError(f"missing values in column '{c}' ({int(col.isna().sum())})",
                                hint=IMPUTE_HINT)
            if is_numeric_column(col):
                numeric.append(c)
                vals = to_float(col, c)  # (n,) float64, NaN = missing
                seen = vals[~np.isnan(vals)]
                if not np.isfinite(seen).all():
                    raise DataError(f"non-finite value in column '{c}'",
                                    found=repr(float(seen[~np.isfinite(seen)][0])),
                                    hint="replace inf values")
                fill[c] = _numeric_fill(seen, impute) if imputing else None
                if fill[c] is not None:
                    vals[np.isnan(vals)] = fill[c]
                center[c], spread[c] = _scaling(vals, scale)
            else:
                seen_col = col.dropna()
                cats = sorted({json_safe(v) for v in pd.unique(seen_col)}, key=_sort_key)
                categorical[c] = cats
                fill[c] = _most_frequent(seen_col) if imputing and cats else None
                if len(cats) > MANY_CATEGORIES or (len(cats) == len(col) and len(col) > 20):
                    notes.append(f"column '{c}' has {len(cats)} distinct values "
                                 f"({len(col)} rows); is it an ID?")
        for note in notes:
            warnings.warn(note + " (kept as one-hot columns)", MlplabWarning, stacklevel=2)
        return cls(input_columns=list(map(str, X.columns)), numeric=numeric,
                   categorical=categorical, scale=scale, impute=impute, center=center,
                   spread=spread, fill=fill, notes=notes)

    @property
    def n_features_out(self) -> int:
        """Width of the matrix :meth:`transform` returns."""
        return len(self.feature_names_out)

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Raw rows -> float32 matrix (n, n_features_out); extra columns are ignored."""
        X = _frame(X, self.input_columns)
        X.columns = [str(c) for c in X.columns]
        missing = [c for c in self.input_columns if c not in X.columns]
        if missing:
            raise DataError(f"missing input column{'s' if len(missing) > 1 else ''}: "
                            f"{', '.join(missing)}", expected="the training columns "
                            f"{', '.join(self.input_columns[:20])}",
                            hint="give the columns the model was trained on")
        out = np.empty((len(X), self.n_features_out), dtype=np.float32)
        j = 0
        for c in self.input_columns:
            if c in self.categorical:
                k = len(self.categorical[c])
                out[:, j:j + k] = self._one_hot(c, X[c])
                j += k
            else:
                out[:, j] = self._numeric(c, X[c])
                j += 1
        return out

    def transform_array(self, A: np.ndarray) -> np.ndarray:
        """Fast path for an all-numeric model: a (n, d) number array in input-column order.

        The same checks and scaling as :meth:`transform`, done on the whole matrix at once in
        float32 instead of column by column through pandas in float64 (results agree to
        ~1e-7; several times faster on 1M rows).
        """
        if self.categorical:
            raise DataError("this model has categorical inputs",
                            hint="pass a DataFrame with the named columns")
        A = np.asarray(A)
        if A.ndim != 2 or A.shape[1] != len(self.input_columns):
            raise DataError("input rows have the wrong number of features",
                            expected=f"{len(self.input_columns)} columns", found=f"{A.shape}")
        out = A.astype(np.float32)  # (n, d) a fresh copy: the caller's rows stay untouched
        finite = np.isfinite(out)
        if not finite.all():  # NaN -> the training fill value; inf -> error
            na = np.isnan(out)
            for j, c in enumerate(self.input_columns):
                if na[:, j].any():
                    if self.fill.get(c) is None:
                        raise DataError(f"missing values in column '{c}' "
                                        f"({int(na[:, j].sum())})",
                                        hint=f"fill them in, or train with {IMPUTE_HINT}")
                    out[na[:, j], j] = self.fill[c]
            if not np.isfinite(out).all():
                j = int(np.flatnonzero(~np.isfinite(out).all(axis=0))[0])
                raise DataError(f"non-finite value in column '{self.input_columns[j]}'",
                                hint="replace inf values")
        out -= np.array([self.center[c] for c in self.input_columns], dtype=np.float32)
        out /= np.array([self.spread[c] for c in self.input_columns], dtype=np.float32)
        return out

    def _numeric(self, c: str, col: pd.Series) -> np.ndarray:
        vals = to_float(col, c)  # (n,)
        na = np.isnan(vals)
        if na.any():
            if self.fill.get(c) is None:
                raise DataError(f"missing values in column '{c}' ({int(na.sum())})",
                                hint=f"fill them in, or train with {IMPUTE_HINT}")
            vals[na] = self.fill[c]
        if not np.isfinite(vals).all():
            raise DataError(f"non-finite value in column '{c}'",
                            found=repr(float(vals[~np.isfinite(vals)][0])),
                            hint="replace inf values")
        return (vals - self.center[c]) / self.spread[c]

    def _one_hot(self, c: str, col: pd.Series) -> np.ndarray:
        cats = self.categorical[c]
        values = col.astype(object)
        na = values.isna().to_numpy()
        if na.any():
            if self.fill.get(c) is None:
                raise DataError(f"missing values in column '{c}' ({int(na.sum())})",
                                hint=f"fill them in, or train with {IMPUTE_HINT}")
            values = values.where(~na, self.fill[c])
        codes = pd.Index(cats, dtype=object).get_indexer(values)  # -1 = unseen category
        block = np.zeros((len(values), len(cats)), dtype=np.float32)  # (n, k)
        rows = np.flatnonzero(codes >= 0)
        block[rows, codes[rows]] = 1.0
        return block

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe fields; :meth:`from_dict` rebuilds an identical preprocessor."""
        return {"input_columns": self.input_columns, "numeric": self.numeric,
                "categorical": self.categorical, "scale": self.scale, "impute": self.impute,
                "center": self.center, "spread": self.spread, "fill": self.fill,
                "notes": self.notes, "feature_names_out": self.feature_names_out}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preprocessor:
        """Rebuild from :meth:`to_dict` output."""
        keys = ("input_columns", "numeric", "categorical", "scale", "impute", "center",
                "spread", "fill")
        lost = [k for k in keys if k not in d]
        if lost:
            raise DataError("saved preprocessing is incomplete", found=f"no {', '.join(lost)}")
        return cls(**{k: d[k] for k in keys}, notes=d.get("notes"))


def _numeric_fill(seen: np.ndarray, impute: str) -> float:
    if len(seen) == 0:
        return 0.0  # nothing observed in training: neutral value
    if impute == "mean":
        return float(seen.mean())
    if impute == "median":
        return float(np.median(seen))
    return float(_most_frequent(pd.Series(seen)))


def _most_frequent(values: pd.Series) -> Any:
    """The commonest value (JSON-safe); ties go to the smallest, so it is deterministic."""
    counts = values.value_counts(sort=False)
    best = counts.max()
    return min((json_safe(v) for v, n in counts.items() if n == best), key=_sort_key)


def _scaling(vals: np.ndarray, scale: str) -> tuple[float, float]:
    """(center, spread) so that ``(x - center) / spread`` is the scaled value."""
    if scale == "standard":
        center, spread = float(vals.mean()), float(vals.std())
    elif scale == "minmax":
        center, spread = float(vals.min()), float(vals.max() - vals.min())
    else:
        center, spread = 0.0, 1.0
    return center, spread if spread > 0 and np.isfinite(spread) else 1.0


# --- targets -------------------------------------------------------------------------------


def is_binary_frame(y: pd.DataFrame) -> bool:
    """Every value is 0 or 1 (numbers or bools), none missing."""
    for c in y.columns:
        col = y[c]
        if col.isna().any() or not is_numeric_column(col):
            return False
        if not np.isin(to_float(col, str(c)), (0.0, 1.0)).all():
            return False
    return True


class TargetEncoder:
    """Original target values <-> what the loss needs (class indices, 0/1 matrix, floats).

    ``classes`` holds the original labels in index order (sorted), the label columns for
    multilabel, and ``[]`` for regression.

    Example
    -------
    >>> enc = TargetEncoder.fit(pd.DataFrame({"species": ["b", "a", "b"]}))
    >>> enc.task, enc.classes, enc.transform(pd.DataFrame({"species": ["a", "b"]})).tolist()
    ('binary', ['a', 'b'], [0, 1])
    >>> enc.inverse(np.array([1, 0])).tolist()
    ['b', 'a']
    """

    def __init__(self, task: str, classes: list[Any], target_names: list[str]) -> None:
        self.task, self.classes, self.target_names = task, list(classes), list(target_names)

    @classmethod
    def fit(cls, y: pd.DataFrame, task: str = "auto") -> TargetEncoder:
        """Learn the task (``'auto'``: :func:`infer_task`) and the classes from targets."""
        from mlplab.data.tabular import infer_task  # tabular imports this module

        if task not in TASKS:
            raise ConfigError(f"unknown task '{task}'", expected=" | ".join(TASKS))
        y = _frame(y, ["y"])
        names = [str(c) for c in y.columns]
        if not names:
            raise DataError("no target column")
        na = y.isna().sum()
        if na.any():
            raise DataError(f"target has missing values ({int(na.sum())})",
                            hint="drop those rows (any --impute other than error does)")
        task = infer_task(y) if task == "auto" else task
        if task in ("binary", "multiclass"):
            if len(names) > 1:
                raise DataError(f"task {task} needs one target column",
                                found=f"{len(names)}: {', '.join(names)}",
                                hint="use task multilabel for several 0/1 columns")
            classes = sorted({_label(v) for v in pd.unique(_labels(y.iloc[:, 0]))},
                             key=_sort_key)
            if len(classes) < 2:
                raise DataError(f"target '{names[0]}' has a single class",
                                found=repr(classes[0]), hint="a classifier needs at least "
                                "two classes: check the target column and the rows kept")
            if task == "binary" and len(classes) > 2:
                raise DataError("task binary needs exactly 2 classes",
                                found=f"{len(classes)}", hint="use --task multiclass or auto")
            return cls(task, classes, names)
        if task == "multilabel":
            if not is_binary_frame(y):
                raise DataError("multilabel targets must be 0/1 in every column",
                                found=f"columns {', '.join(names)}")
            return cls(task, names, names)
        for c in names:  # regression
            if not is_numeric_column(y[c]):
                raise DataError(f"regression target '{c}' is not numeric",
                                found=f"value {str(y[c].iloc[0])!r}",
                                hint="pick a numeric --target, or a classification task")
        return cls(task, [], names)

    def _select(self, y: pd.DataFrame) -> pd.DataFrame:
        y = _frame(y, self.target_names)
        if all(n in y.columns for n in self.target_names):
            return y[self.target_names]
        if y.shape[1] == len(self.target_names):
            return y  # same shape, other names (e.g. arrays): by position
        raise DataError("target columns do not match", expected=", ".join(self.target_names),
                        found=", ".join(map(str, y.columns)))

    def transform(self, y: pd.DataFrame) -> np.ndarray:
        """Binary/multiclass: int64 (n,) indices; multilabel float32 (n, L); regression
        float32 (n, n_targets)."""
        y = self._select(y)
        if y.isna().any().any():
            raise DataError("target has missing values", found=f"{int(y.isna().sum().sum())}")
        if self.task == "multilabel":
            if not is_binary_frame(y):
                raise DataError("multilabel targets must be 0/1 in every column")
            return np.column_stack([to_float(y[c], str(c)) for c in y.columns]) \
                .astype(np.float32)
        if self.task == "regression":
            out = np.column_stack([to_float(y[c], str(c)) for c in y.columns])
            if not np.isfinite(out).all():
                raise DataError("regression target has non-finite values", hint="drop them")
            return out.astype(np.float32)
        values = _labels(y.iloc[:, 0])  # (n,)
        codes = pd.Index(self.classes, dtype=object).get_indexer(values)
        if (codes < 0).any():
            raise DataError(f"unknown class {_label(values[codes < 0][0])!r} in target "
                            f"'{self.target_names[0]}'",
                            expected=f"one of {', '.join(map(repr, self.classes))}",
                            hint="the model only knows the classes it was trained on")
        return codes.astype(np.int64)

    def inverse(self, idx: np.ndarray) -> np.ndarray:
        """Class indices -> original labels (int64 array for integer labels, else object)."""
        idx = np.asarray(idx)
        if self.task not in ("binary", "multiclass"):
            return idx
        all_int = all(isinstance(c, int) and not isinstance(c, bool) for c in self.classes)
        lut = np.array(self.classes, dtype=np.int64 if all_int else object)
        return lut[idx.astype(np.int64)]  # type: ignore[no-any-return]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe fields: task, classes, target_names."""
        return {"task": self.task, "classes": self.classes, "target_names": self.target_names}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TargetEncoder:
        """Rebuild from :meth:`to_dict` output."""
        try:
            return cls(d["task"], d["classes"], d["target_names"])
        except (KeyError, TypeError):
            raise DataError("saved target encoding is incomplete",
                            expected="task, classes, target_names") from None


def _labels(col: pd.Series) -> np.ndarray:
    """Label values, vectorised: integral floats become int64 (1.0 -> 1), text stays text."""
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        vals = col.to_numpy()
        if vals.dtype.kind == "f" and np.all(np.mod(vals, 1) == 0):
            return vals.astype(np.int64)
        return vals
    return col.to_numpy(dtype=object)


def _label(v: Any) -> Any:
    """A class label as a JSON-safe value; 1.0 becomes 1 so labels print as people wrote them."""
    v = json_safe(v)
    return int(v) if isinstance(v, float) and v.is_integer() else v


__all__ = ["Preprocessor", "TargetEncoder", "is_binary_frame", "is_numeric_column", "json_safe",
           "to_float"]
