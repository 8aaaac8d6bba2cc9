"""Targets: the task they imply, and the fitted encoder between original values and what the
loss needs (class indices, a 0/1 matrix, or standardised floats).

Binary classes are ordered ``[negative, positive]``, so index 1 (the sigmoid output, the
threshold, precision/recall/F1 and ROC-AUC) is the class users mean: ``pos_label`` when given,
else ``1``/``True``/``yes`` when present, else the minority class. Regression targets are
standardised with the training rows' mean and standard deviation; predictions are turned
back into original units.

Example
-------
>>> enc = TargetEncoder.fit(pd.DataFrame({"fraud": ["ok", "ok", "ok", "fraud"]}))
>>> enc.task, enc.classes, enc.pos_label
('binary', ['ok', 'fraud'], 'fraud')
>>> enc.transform(pd.DataFrame({"fraud": ["fraud", "ok"]})).tolist()
[1, 0]
"""

from __future__ import annotations

import warnings
from typing import Any, get_args

import numpy as np
import pandas as pd

from mlplab.config import TaskName
from mlplab.data.columns import (
    canonical,
    canonical_values,
    is_numeric_column,
    json_safe,
    sort_key,
    to_float,
)
from mlplab.errors import ConfigError, DataError, MlplabWarning

TASKS = get_args(TaskName)
MAX_INTEGER_CLASSES = 20  # more distinct integer targets than this -> regression
POSITIVE_WORDS = ("1", "true", "yes", "y", "positive", "pos")  # canonical, lower case


def _frame(y: Any, columns: list[str]) -> pd.DataFrame:
    if isinstance(y, pd.DataFrame):
        return y.set_axis([str(c) for c in y.columns], axis=1)
    if isinstance(y, pd.Series):
        return y.to_frame()
    arr = np.asarray(y)
    arr = arr.reshape(len(arr), -1) if arr.ndim == 1 else arr
    names = columns if len(columns) == arr.shape[1] else [f"y{i + 1}" for i in
                                                          range(arr.shape[1])]
    return pd.DataFrame(arr, columns=names)


def is_binary_frame(y: pd.DataFrame) -> bool:
    """Every value is 0 or 1 (numbers or bools), none missing."""
    for c in y.columns:
        col = y[c]
        if col.isna().any() or not is_numeric_column(col):
            return False
        if not np.isin(to_float(col, str(c)), (0.0, 1.0)).all():
            return False
    return True


def infer_task(y: pd.DataFrame) -> str:
    """'binary', 'multiclass', 'multilabel' or 'regression' from the target values.

    Several columns: multilabel (values must be 0/1). One column: floats with fractions or
    more than 20 distinct integers mean regression; otherwise 2 distinct values are binary,
    more are multiclass. Text and bools are always classes.

    Example
    -------
    >>> infer_task(pd.DataFrame({"t": [0.5, 1.25, 3.0]}))
    'regression'
    >>> infer_task(pd.DataFrame({"t": [1, 2, 3]}))
    'multiclass'
    """
    if y.shape[1] > 1:
        if not is_binary_frame(y):
            raise DataError("several target columns need 0/1 values (multilabel)",
                            found=f"columns {', '.join(map(str, y.columns))}",
                            hint="give one --target, or pass --task regression for several "
                            "numeric targets")
        return "multilabel"
    col = y.iloc[:, 0].dropna()
    if len(col) == 0:
        raise DataError(f"target column '{y.columns[0]}' has no values")
    n_distinct = col.nunique()
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        values = col.to_numpy(dtype=np.float64)
        if not np.all(np.mod(values, 1) == 0) or n_distinct > MAX_INTEGER_CLASSES:
            return "regression"
    return "binary" if n_distinct <= 2 else "multiclass"


def _label(v: Any) -> Any:
    """A class label as a JSON-safe value; 1.0 becomes 1 so labels print as people wrote them."""
    v = json_safe(v)
    return int(v) if isinstance(v, float) and v.is_integer() else v


def _positive(classes: list[Any], counts: dict[str, int], pos_label: Any) -> Any:
    """The positive class of two: as asked, else a 'yes'-like label, else the minority."""
    keys = [canonical(c) for c in classes]
    if pos_label is not None:
        want = canonical(pos_label)
        if isinstance(pos_label, bool) and want not in keys:  # YAML reads `yes` as true
            want = next((k for k in keys if str(k).lower() == ("yes" if pos_label else "no")),
                        want)
        if want not in keys:
            raise DataError(f"pos_label {pos_label!r} is not a class of the target",
                            expected=f"one of {', '.join(map(repr, classes))}")
        return classes[keys.index(want)]
    for word in POSITIVE_WORDS:
        hits = [c for c, k in zip(classes, keys, strict=True) if str(k).lower() == word]
        if hits:
            return hits[0]
    if counts[str(keys[0])] < counts[str(keys[1])]:
        return classes[0]
    return classes[1]  # the minority, or (a tie) the one that sorts last


class TargetEncoder:
    """Original target values <-> what the loss needs (class indices, 0/1 matrix, floats).

    ``classes`` holds the original labels in index order (sorted; for binary ``[negative,
    positive]``), the label columns for multilabel, and ``[]`` for regression. Labels are
    matched by their canonical string, so ``1`` and ``"1"`` are the same class.
    """

    def __init__(self, task: str, classes: list[Any], target_names: list[str],
                 scaler: dict[str, list[float]] | None = None) -> None:
        self.task, self.classes, self.target_names = task, list(classes), list(target_names)
        self.scaler = None if scaler is None else {k: [float(x) for x in scaler[k]]
                                                   for k in ("mean", "scale")}

    @property
    def pos_label(self) -> Any:
        """The class binary scores refer to (``None`` unless binary)."""
        return self.classes[1] if self.task == "binary" else None

    @classmethod
    def fit(cls, y: pd.DataFrame, task: str = "auto", pos_label: Any = None) -> TargetEncoder:
        """Learn the task (``'auto'``: :func:`infer_task`) and the classes from targets.

        For regression call :meth:`fit_scaler` on the training rows next.
        """
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
        inferred = infer_task(y) if task == "auto" else task
        if task == "auto" and inferred == "regression" and y.shape[1] == 1 \
                and y.iloc[:, 0].dtype.kind in "iu":
            warnings.warn(f"target '{names[0]}' holds {y.iloc[:, 0].nunique()} distinct "
                          "integers: trained as regression (--task multiclass treats them "
                          "as classes)", MlplabWarning, stacklevel=2)
        task = inferred
        if task in ("binary", "multiclass"):
            return cls(task, _classes(y, names, task, pos_label), names)
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

    def fit_scaler(self, y: pd.DataFrame) -> None:
        """Regression: learn each target's mean and standard deviation from training rows."""
        if self.task != "regression":
            return
        vals = self._floats(self._select(y))  # (n, t) float64
        scale = vals.std(axis=0)
        self.scaler = {"mean": vals.mean(axis=0).tolist(),
                       "scale": np.where(scale > 0, scale, 1.0).tolist()}

    def _select(self, y: pd.DataFrame) -> pd.DataFrame:
        y = _frame(y, self.target_names)
        if all(n in y.columns for n in self.target_names):
            return y[self.target_names]
        if y.shape[1] == len(self.target_names):
            return y  # same shape, other names (e.g. arrays): by position
        raise DataError("target columns do not match", expected=", ".join(self.target_names),
                        found=", ".join(map(str, y.columns)))

    def _floats(self, y: pd.DataFrame) -> np.ndarray:
        out = np.column_stack([to_float(y[c], str(c)) for c in y.columns])
        if not np.isfinite(out).all():
            raise DataError("regression target has non-finite values", hint="drop them")
        return out

    def transform(self, y: pd.DataFrame) -> np.ndarray:
        """Binary/multiclass: int64 (n,) indices; multilabel float32 (n, L); regression
        float32 (n, n_targets), standardised once :meth:`fit_scaler` has run."""
        y = self._select(y)
        if y.isna().any().any():
            raise DataError("target has missing values", found=f"{int(y.isna().sum().sum())}")
        if self.task == "multilabel":
            if not is_binary_frame(y):
                raise DataError("multilabel targets must be 0/1 in every column")
            return np.column_stack([to_float(y[c], str(c)) for c in y.columns]) \
                .astype(np.float32)
        if self.task == "regression":
            out = self._floats(y)
            if self.scaler is not None:
                out = (out - np.array(self.scaler["mean"])) / np.array(self.scaler["scale"])
            return out.astype(np.float32)
        keys = canonical_values(y.iloc[:, 0])  # (n,)
        codes = pd.Index([canonical(c) for c in self.classes], dtype=object).get_indexer(keys)
        if (codes < 0).any():
            raise DataError(f"unknown class {y.iloc[:, 0][codes < 0].iloc[0]!r} in target "
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

    def inverse_values(self, out: np.ndarray) -> np.ndarray:
        """Regression outputs (n, t) in standardised units -> original units (float64)."""
        out = np.asarray(out, dtype=np.float64)
        if self.scaler is None:
            return out
        return out * np.array(self.scaler["scale"]) + np.array(self.scaler["mean"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe fields: task, classes, target_names (the scaler is saved beside them,
        as ``model.json``'s ``target_scaler``)."""
        return {"task": self.task, "classes": self.classes, "target_names": self.target_names}

    @classmethod
    def from_dict(cls, d: dict[str, Any],
                  scaler: dict[str, list[float]] | None = None) -> TargetEncoder:
        """Rebuild from :meth:`to_dict` output and the saved ``target_scaler`` (or None)."""
        try:
            return cls(d["task"], d["classes"], d["target_names"], scaler)
        except (KeyError, TypeError):
            raise DataError("saved target encoding is incomplete",
                            expected="task, classes, target_names") from None


def _classes(y: pd.DataFrame, names: list[str], task: str, pos_label: Any) -> list[Any]:
    if len(names) > 1:
        raise DataError(f"task {task} needs one target column",
                        found=f"{len(names)}: {', '.join(names)}",
                        hint="use task multilabel for several 0/1 columns")
    col = y.iloc[:, 0]
    keys = pd.Series(canonical_values(col))
    counts = keys.value_counts().to_dict()
    first = pd.Series(col.to_numpy(dtype=object)).groupby(keys.to_numpy()).first()
    ordered = sorted(counts, key=sort_key)
    classes = [_label(first[k]) for k in ordered]
    if len(classes) < 2:
        raise DataError(f"target '{names[0]}' has a single class", found=repr(classes[0]),
                        hint="a classifier needs at least two classes: check the target "
                        "column and the rows kept")
    if task == "binary" and len(classes) > 2:
        raise DataError("task binary needs exactly 2 classes", found=f"{len(classes)}",
                        hint="use --task multiclass or auto")
    if task == "binary":
        pos = _positive(classes, {str(k): int(counts[k]) for k in ordered}, pos_label)
        classes = [classes[1 - classes.index(pos)], pos]
    elif pos_label is not None:
        raise ConfigError("pos_label is for binary targets", found=f"task {task}")
    return classes


__all__ = ["MAX_INTEGER_CLASSES", "TargetEncoder", "infer_task", "is_binary_frame"]
