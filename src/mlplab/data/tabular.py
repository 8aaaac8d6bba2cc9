"""CSV / Parquet files -> typed frames; target inference; missing values; encoders.

Reading only parses (pandas' C parser or pyarrow): nothing in a file is ever executed or
unpickled. Every problem with a file becomes a one-line :class:`~mlplab.errors.DataError`.

The fitted encoders, :class:`Preprocessor` (features) and :class:`TargetEncoder` (labels), live
in ``encoders.py`` and are re-exported here: both are fitted on the training rows and saved as
JSON.

Example
-------
>>> y = pd.DataFrame({"label": ["yes", "no", "yes"]})
>>> infer_task(y)
'binary'
"""

from __future__ import annotations

import codecs
import csv
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mlplab.data.encoders import (
    IMPUTE_HINT,
    Preprocessor,
    TargetEncoder,
    is_binary_frame,
    is_numeric_column,
)
from mlplab.errors import DataError, MlplabWarning, did_you_mean

if TYPE_CHECKING:
    from mlplab.data import Table

PARQUET_SUFFIXES = (".parquet", ".pq")
TEXT_SEPARATORS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
MAX_INTEGER_CLASSES = 20  # more distinct integer targets than this -> regression


def list_names(names: list[str], limit: int = 20) -> str:
    """Comma-separated names, cut after ``limit``.

    >>> list_names(["a", "b", "c"], limit=2)
    'a, b, ... (1 more)'
    """
    shown = ", ".join(map(str, names[:limit]))
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


# --- reading files -------------------------------------------------------------------------


def read_frame(path: str | Path) -> pd.DataFrame:
    """Read a CSV/TSV/text or Parquet file into a DataFrame with string column names.

    The format comes from the suffix (``.parquet``/``.pq``, ``.csv``, ``.tsv``) or, failing
    that, from the content: Parquet's magic bytes, else a sniffed text separator.

    Raises
    ------
    DataError
        Missing, empty, binary, undecodable or ragged file; header without rows.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"file '{p}' not found", hint="check the path (built-in dataset "
                        "names are listed by `mlplab datasets`)")
    if p.is_dir():
        raise DataError(f"'{p}' is a directory", expected="a CSV or Parquet file")
    try:
        with p.open("rb") as f:
            head = f.read(65536)
    except OSError as e:
        raise DataError(f"cannot read '{p}'", found=e.strerror or type(e).__name__) from None
    if not head.strip():
        raise DataError(f"file '{p}' is empty", expected="a header line and data rows")
    if p.suffix.lower() in PARQUET_SUFFIXES or head.startswith(b"PAR1"):
        frame = _read_parquet(p)
    else:
        frame = _read_text(p, head)
    if frame.shape[1] == 0 or len(frame) == 0:
        raise DataError(f"'{p}' has a header but no rows", found=f"{frame.shape[1]} columns",
                        hint="add data rows below the header")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _read_parquet(p: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(p)
    except Exception as e:  # pyarrow raises several unrelated types for corrupt files
        first = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise DataError(f"'{p}' is not a readable Parquet file", found=first,
                        hint="check the file, or save it as CSV") from None


def _read_text(p: Path, head: bytes) -> pd.DataFrame:
    not_text = DataError(f"'{p}' is not a text table", found="binary or undecodable bytes",
                         hint="give a UTF-8 CSV/TSV or a Parquet file")
    if b"\0" in head:
        raise not_text
    try:  # incremental: the head may end inside a multi-byte character
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
        encoding = "utf-8-sig"
    except UnicodeDecodeError:
        if re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", head):
            raise not_text from None
        text, encoding = head.decode("latin-1"), "latin-1"  # legacy 8-bit text
    sep = _separator(text, TEXT_SEPARATORS.get(p.suffix.lower()))
    try:
        return pd.read_csv(p, sep=sep, encoding=encoding, skipinitialspace=True,
                           engine="c", low_memory=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"file '{p}' is empty", expected="a header line and data rows") \
            from None
    except pd.errors.ParserError as e:
        msg = str(e)
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", msg)
        found = (f"line {m.group(2)} has {m.group(3)} fields, the header has {m.group(1)}"
                 if m else msg.splitlines()[0][:200])
        raise DataError(f"'{p}' has rows with the wrong number of fields", found=found,
                        hint="check separators and quotes on that line") from None
    except UnicodeDecodeError:
        raise not_text from None
    except (ValueError, OSError) as e:
        raise DataError(f"cannot read '{p}' as a table",
                        found=str(e).splitlines()[0][:200] if str(e) else type(e).__name__,
                        ) from None


def _separator(text: str, default: str | None) -> str:
    """The suffix's separator if the header has it, else a sniffed one, else a comma."""
    lines = text.splitlines()
    header = lines[0] if lines else ""
    if default is not None and default in header:
        return default
    try:
        return csv.Sniffer().sniff("\n".join(lines[:20]), delimiters=",\t;|").delimiter
    except csv.Error:
        return default or ","


def select_columns(frame: pd.DataFrame, target: str | list[str] | None,
                   features: list[str] | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``frame`` into (features, target) frames, checking every name.

    ``features=None`` means every column but the target(s).
    """
    names = [str(c) for c in frame.columns]
    if target is None or (not isinstance(target, str) and len(target) == 0):
        raise DataError("no target column given", hint=f"--target COL (columns: "
                        f"{list_names(names)})")
    targets = [target] if isinstance(target, str) else list(dict.fromkeys(target))
    for t in targets:
        if t not in names:
            raise DataError(f"unknown target column '{t}'",
                            expected=f"one of: {list_names(names)}",
                            hint=did_you_mean(t, names) or "--target COL")
    if features is None:
        feats = [c for c in names if c not in targets]
    else:
        feats = list(dict.fromkeys(features))
        for c in feats:
            if c not in names:
                raise DataError(f"unknown feature column '{c}'",
                                expected=f"one of: {list_names(names)}",
                                hint=did_you_mean(c, names) or "check --features")
            if c in targets:
                raise DataError(f"column '{c}' is both the target and a feature",
                                hint="remove it from --features")
    if not feats:
        raise DataError("no feature columns left", found=f"only the target "
                        f"{', '.join(targets)}", hint="the file needs at least one column "
                        "besides the target")
    return frame[feats].reset_index(drop=True), frame[targets].reset_index(drop=True)


def read_file(path: str | Path, target: str | list[str] | None,
              features: list[str] | None) -> Table:
    """Read a CSV or Parquet file into a :class:`~mlplab.data.Table`.

    Parameters
    ----------
    path : str or Path
        ``.csv``/``.tsv``/``.txt`` (separator sniffed when unclear) or ``.parquet``/``.pq``.
    target : str or list of str
        The target column (several: multilabel or multi-output regression). Required.
    features : list of str, optional
        Feature columns; default all columns except the target(s).

    Example
    -------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); f = os.path.join(d, "t.csv")
    >>> _ = open(f, "w").write("a,b,label\\n1,x,yes\\n2,y,no\\n")
    >>> t = read_file(f, "label", None)
    >>> list(t.X.columns), t.y["label"].tolist(), t.kind
    (['a', 'b'], ['yes', 'no'], 'file')
    """
    from mlplab.data import Table  # the package imports this module

    X, y = select_columns(read_frame(path), target, features)
    return Table(X, y, str(path), "file")


# --- the target and missing values ---------------------------------------------------------


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


def clean_missing(table: Table, impute: str = "error") -> Table:
    """Deal with missing values before splitting, according to ``impute``.

    ``'error'``: raise a DataError naming each column with its count. ``'drop'``: drop every
    row with a missing value. ``'mean'``, ``'median'``, ``'most_frequent'``: drop only rows
    whose TARGET is missing (features are imputed later by :class:`Preprocessor`, fitted on
    the training rows).

    Example
    -------
    >>> from mlplab.data import Table
    >>> X, y = pd.DataFrame({"a": [1.0, None, 3.0]}), pd.DataFrame({"y": [0, 1, 0]})
    >>> t = Table(X, y, "memory", "memory")
    >>> len(clean_missing(t, "drop").X)
    2
    """
    if impute not in ("error", "drop", "mean", "median", "most_frequent"):
        raise DataError(f"unknown impute strategy '{impute}'", hint=IMPUTE_HINT)
    both = pd.concat([table.X, table.y], axis=1)
    counts = both.isna().sum()
    counts = counts[counts > 0]
    if len(counts) == 0:
        return table
    if impute == "error":
        parts = ", ".join(f"{c} ({n})" for c, n in counts.items())
        word = "column" if len(counts) == 1 else "columns"
        raise DataError(f"missing values in {len(counts)} {word}: {parts}", hint=IMPUTE_HINT)
    mask = both.notna().all(axis=1) if impute == "drop" else table.y.notna().all(axis=1)
    if not mask.any():
        raise DataError("no rows left after dropping missing values",
                        found=f"{len(mask)} rows, all with a missing value",
                        hint="try --impute mean or most_frequent")
    if impute != "drop" and not mask.all():
        warnings.warn(f"dropped {int((~mask).sum())} rows whose target is missing",
                      MlplabWarning, stacklevel=2)
    keep = mask.to_numpy()
    return type(table)(table.X[keep].reset_index(drop=True),
                       table.y[keep].reset_index(drop=True), table.source, table.kind)

__all__ = ["Preprocessor", "TargetEncoder", "clean_missing", "infer_task", "is_numeric_column",
           "read_file", "read_frame", "select_columns"]
