"""CSV / Parquet files and in-memory frames -> a :class:`~mlplab.data.table.Table`; missing
values.

Reading only parses (pandas' C parser or pyarrow): nothing in a file is ever executed or
unpickled. Text files are read as UTF-8 (a byte-order mark is dropped) or, failing that, in the
encoding ``charset-normalizer`` detects (GBK/GB18030 from Excel, cp1252, ...), or as
``encoding`` says. Every problem with a file becomes a one-line
:class:`~mlplab.errors.DataError`.

Example
-------
>>> frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"], "id": [7, 8], "label": [0, 1]})
>>> t = frame_table(frame, "label", None, drop=["id"])
>>> list(t.X.columns), list(t.y.columns)
(['a', 'b'], ['label'])
"""

from __future__ import annotations

import codecs
import csv
import re
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from mlplab.data.columns import column_names
from mlplab.data.encoders import IMPUTE_HINT
from mlplab.data.table import Table
from mlplab.errors import DataError, MlplabWarning, did_you_mean

PARQUET_SUFFIXES = (".parquet", ".pq")
TEXT_SEPARATORS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
# detected legacy encodings read as their superset (GB2312 < GBK < GB18030)
ENCODING_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "utf-8": "utf-8-sig",
                      "ascii": "utf-8-sig"}
LEGACY_ENCODINGS = ("gb18030", "big5", "cp932", "cp949", "cp1252")  # Excel's usual exports
WIDE_ENCODINGS = ["utf_16", "utf_16_be", "utf_16_le", "utf_32", "utf_32_be", "utf_32_le",
                  "utf_7"]
ENCODING_HINT = ("this is a text-encoding problem: pass --encoding with the file's encoding "
                 "(e.g. gbk, gb18030, cp1252, utf-16), or save the file as UTF-8")


def list_names(names: list[str], limit: int = 20) -> str:
    """Comma-separated names, cut after ``limit``.

    >>> list_names(["a", "b", "c"], limit=2)
    'a, b, ... (1 more)'
    """
    shown = ", ".join(map(str, names[:limit]))
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


# --- reading files -------------------------------------------------------------------------


def read_frame(path: str | Path, encoding: str | None = None,
               expect: Sequence[str] = ()) -> pd.DataFrame:
    """Read a CSV/TSV/text or Parquet file into a DataFrame with string column names.

    The format comes from the suffix (``.parquet``/``.pq``, ``.csv``, ``.tsv``) or, failing
    that, from the content: Parquet's magic bytes, else a sniffed text separator. Text is
    decoded with ``encoding``, or the detected one when ``None`` (the column names in
    ``expect``, such as the target, settle a guess between legacy encodings). Duplicate column
    names are kept apart (``a``, ``a.1``) with a warning.

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
        frame = _read_text(p, head, encoding, expect)
    if frame.shape[1] == 0 or len(frame) == 0:
        raise DataError(f"'{p}' has a header but no rows", found=f"{frame.shape[1]} columns",
                        hint="add data rows below the header")
    return string_columns(frame, f"'{p}'")


def string_columns(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """``frame`` with ``str`` column names, duplicates renamed ``a.1``, ``a.2`` (warned).

    >>> with warnings.catch_warnings(record=True):
    ...     list(string_columns(pd.DataFrame([[1, 2, 3]], columns=["a", "a", 0]), "x").columns)
    ['a', 'a.1', '0']
    """
    names = [str(c) for c in frame.columns]
    seen: Counter[str] = Counter()
    renamed = []
    for n in names:
        renamed.append(n if seen[n] == 0 else f"{n}.{seen[n]}")
        seen[n] += 1
    _warn_duplicates(where, names, renamed)
    return frame.set_axis(renamed, axis=1)


def _warn_duplicates(where: str, names: list[str], renamed: list[str]) -> None:
    dupes = {n: k for n, k in Counter(names).items() if k > 1}
    if dupes:
        kept = [r for n, r in zip(names, renamed, strict=True) if n in dupes]
        warnings.warn(f"{where} has duplicate column names: "
                      + ", ".join(f"'{n}' ({k} times)" for n, k in dupes.items())
                      + f"; read as {list_names(kept)}", MlplabWarning, stacklevel=4)


def _read_parquet(p: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(p)
    except Exception as e:  # pyarrow raises several unrelated types for corrupt files
        first = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise DataError(f"'{p}' is not a readable Parquet file", found=first,
                        hint="check the file, or save it as CSV") from None


def detect_encoding(p: Path, head: bytes, expect: Sequence[str] = ()) -> str:
    """UTF-8 (``utf-8-sig``, dropping a byte-order mark) if ``head`` decodes as such; else the
    first candidate (``charset-normalizer``'s guesses, then common legacy encodings) whose
    header line holds every name in ``expect``; else ``charset-normalizer``'s best guess.

    Short CJK files fool statistics alone (GBK read as Korean cp949), which is why a known
    column name decides when there is one.

    >>> gbk = "特征一,特征二,标签\\n0.1,1.0,猫\\n0.9,0.0,狗\\n".encode("gbk")
    >>> detect_encoding(Path("t.csv"), gbk, expect=["标签"])
    'gb18030'
    """
    try:  # incremental: the head may end inside a multi-byte character
        codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
        return "utf-8-sig"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    guesses = [m.encoding for m in from_bytes(head, cp_exclusion=WIDE_ENCODINGS)]
    for enc in dict.fromkeys(guesses + list(LEGACY_ENCODINGS)) if expect else ():
        try:
            header = codecs.getincrementaldecoder(enc)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        if all(name in header.split("\n", 1)[0] for name in expect):
            guesses = [enc]
            break
    if not guesses:
        raise DataError(f"cannot tell the text encoding of '{p}'",
                        found="bytes that are not UTF-8", hint=ENCODING_HINT)
    name = codecs.lookup(guesses[0]).name
    return ENCODING_SUPERSETS.get(name, name)


def _codec(encoding: str) -> str:
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise DataError(f"unknown text encoding '{encoding}'",
                        expected="a Python codec name such as utf-8, gbk, gb18030, cp1252") \
            from None
    return ENCODING_SUPERSETS.get(name, name) if name == "utf-8" else name


def _read_text(p: Path, head: bytes, encoding: str | None,
               expect: Sequence[str]) -> pd.DataFrame:
    not_text = DataError(f"'{p}' is not a text table", found="binary bytes",
                         hint="give a CSV/TSV text file or a Parquet file")
    if b"\0" in head and not (encoding or "").lower().startswith("utf-16"):
        raise not_text
    if encoding is None:
        if re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", head):
            raise not_text
        encoding = detect_encoding(p, head, expect)
        if encoding != "utf-8-sig":
            warnings.warn(f"'{p}' is not UTF-8; read it as {encoding} (detected; --encoding "
                          "sets it)", MlplabWarning, stacklevel=3)
    else:
        encoding = _codec(encoding)
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=False)
    sep = _separator(text, TEXT_SEPARATORS.get(p.suffix.lower()))
    try:
        frame = pd.read_csv(p, sep=sep, encoding=encoding, skipinitialspace=True,
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
    except UnicodeDecodeError as e:
        raise DataError(f"cannot decode '{p}' as {encoding}",
                        found=f"byte {e.object[e.start:e.start + 1]!r} at offset {e.start} "
                        "of a block", hint=ENCODING_HINT) from None
    except (ValueError, OSError) as e:
        raise DataError(f"cannot read '{p}' as a table",
                        found=str(e).splitlines()[0][:200] if str(e) else type(e).__name__,
                        ) from None
    header = next(csv.reader(text.splitlines()[:1], delimiter=sep, skipinitialspace=True), [])
    if len(header) == frame.shape[1]:  # pandas renamed duplicates already: warn about them
        _warn_duplicates(f"'{p}'", header, list(map(str, frame.columns)))
    return frame


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


def _check_known(given: list[str], names: list[str], what: str, flag: str) -> None:
    for c in given:
        if c not in names:
            raise DataError(f"unknown {what} column '{c}'", expected=f"one of: "
                            f"{list_names(names)}", hint=did_you_mean(c, names) or flag)


def select_columns(frame: pd.DataFrame, target: str | Sequence[str] | None,
                   features: Sequence[str] | None,
                   drop: Sequence[str] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``frame`` into (features, target) frames, checking every name.

    ``features=None`` means every column but the target(s) and ``drop``.
    """
    names = [str(c) for c in frame.columns]
    targets = column_names(target, names)
    if not targets:
        raise DataError("no target column given", hint=f"--target COL (columns: "
                        f"{list_names(names)})")
    _check_known(targets, names, "target", "--target COL")
    dropped = column_names(drop, names)
    _check_known(dropped, names, "--drop", "check --drop")
    if features is None:
        feats = [c for c in names if c not in targets and c not in dropped]
    else:
        feats = column_names(features, names)
        _check_known(feats, names, "feature", "check --features")
        for c in feats:
            if c in targets:
                raise DataError(f"column '{c}' is both the target and a feature",
                                hint="remove it from --features")
        feats = [c for c in feats if c not in dropped]
    if not feats:
        raise DataError("no feature columns left", found=f"only the target "
                        f"{', '.join(targets)}", hint="the file needs at least one column "
                        "besides the target")
    return frame[feats].reset_index(drop=True), frame[targets].reset_index(drop=True)


def frame_table(frame: pd.DataFrame, target: str | Sequence[str] | None,
                features: Sequence[str] | None, drop: Sequence[str] = ()) -> Table:
    """A Table from an in-memory DataFrame; column names become strings (``0`` -> ``'0'``)."""
    frame = string_columns(frame, "the DataFrame")
    if isinstance(target, int) or (not isinstance(target, str) and target is not None):
        target = [str(t) for t in target] if not isinstance(target, int) else str(target)
    feats = None if features is None else [str(f) for f in features]
    X, y = select_columns(frame, target, feats, drop)
    return Table(X, y, "dataframe", "memory")


def read_file(path: str | Path, target: str | Sequence[str] | None,
              features: Sequence[str] | None, *, encoding: str | None = None,
              drop: Sequence[str] = ()) -> Table:
    """Read a CSV or Parquet file into a :class:`~mlplab.data.table.Table`.

    Parameters
    ----------
    path : str or Path
        ``.csv``/``.tsv``/``.txt`` (separator sniffed when unclear) or ``.parquet``/``.pq``.
    target : str or list of str
        The target column (several: multilabel or multi-output regression). Required.
    features : list of str, optional
        Feature columns; default all columns except the target(s) and ``drop``.
    encoding : str, optional
        Text encoding (default: UTF-8 if it decodes, else detected).
    drop : list of str
        Columns left out.

    Example
    -------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); f = os.path.join(d, "t.csv")
    >>> _ = open(f, "w").write("a,b,label\\n1,x,yes\\n2,y,no\\n")
    >>> t = read_file(f, "label", None)
    >>> list(t.X.columns), t.y["label"].tolist(), t.kind
    (['a', 'b'], ['yes', 'no'], 'file')
    """
    expect = column_names(target, []) + column_names(features, [])
    X, y = select_columns(read_frame(path, encoding, expect), target, features, drop)
    return Table(X, y, str(path), "file")


# --- missing values ------------------------------------------------------------------------


def clean_missing(table: Table, impute: str = "error") -> Table:
    """Deal with missing values before splitting, according to ``impute``.

    ``'error'``: raise a DataError naming each column with its count. ``'drop'``: drop every
    row with a missing value. ``'mean'``, ``'median'``, ``'most_frequent'``: drop only rows
    whose TARGET is missing (features are imputed later by :class:`Preprocessor`, fitted on
    the training rows).

    Example
    -------
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


__all__ = ["clean_missing", "detect_encoding", "frame_table", "list_names",
           "read_file", "read_frame", "select_columns", "string_columns"]
