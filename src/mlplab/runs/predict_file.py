"""``mlplab predict`` on a file: the rows with their probabilities and predictions, as CSV.

Small files are read whole (:func:`~mlplab.data.tabular.read_frame`, every format and encoding
it reads); Parquet and CSV/TSV files above ``data.stream_above_mb`` are read and written chunk
by chunk (Parquet record batches through pyarrow, CSV through pandas' chunked C reader), so
memory stays around one chunk whatever the file size. Either way each chunk goes through
:meth:`Run.predict_frame` — the folded fast path for numeric inputs — and a row's output never
depends on the chunk it came in (:mod:`mlplab.runs.predictor`). A file output is written to a
temporary file and renamed at the end: a failure never leaves half a file.

Example
-------
>>> import tempfile, os, io, contextlib
>>> import mlplab
>>> d = tempfile.mkdtemp(); src = os.path.join(d, "rows.csv")
>>> run = mlplab.train({"data": {"source": "moons", "n_samples": 100}, "model": {"hidden": [4]},
...                     "train": {"epochs": 2}, "log": {"quiet": True}}, save=False)
>>> _ = open(src, "w").write("x1,x2\\n0.5,0.25\\n-1.0,2.0\\n")
>>> predict_file(run, src, os.path.join(d, "out.csv"), stream=True)
2
>>> open(os.path.join(d, "out.csv")).readline().strip()
'x1,x2,proba_0,proba_1,predicted_y'
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

import pandas as pd

from mlplab.data.tabular import TEXT_SEPARATORS, detect_encoding, read_frame, string_columns
from mlplab.errors import DataError

if TYPE_CHECKING:
    from mlplab.runs.run import Run

PARQUET = (".parquet", ".pq")
STREAMABLE = (*PARQUET, ".csv", ".tsv")


def predict_file(run: Run, src: str | Path, dst: str | Path | None = None, *,
                 encoding: str | None = None, stream: bool | None = None,
                 chunk_rows: int | None = None) -> int:
    """Write ``run.predict_frame`` of the rows in ``src`` to ``dst`` as CSV; returns the
    number of rows.

    Parameters
    ----------
    run : Run
    src : path of a CSV/TSV/text or Parquet file
        Target columns in it are left out of the input (and of the output).
    dst : path, optional
        The CSV to write; None writes to standard output.
    encoding : str, optional
        Text encoding of ``src`` (default: UTF-8, else detected).
    stream : bool, optional
        Read in chunks; default: for Parquet/CSV/TSV files above the run's
        ``data.stream_above_mb``.
    chunk_rows : int, optional
        Rows per chunk when streaming (default: the run's ``data.chunk_rows``).
    """
    src = Path(src)
    if stream is None:
        stream = src.suffix.lower() in STREAMABLE and src.is_file() and \
            src.stat().st_size > run.config.data.stream_above_mb * 2**20
    rows = chunk_rows or run.config.data.chunk_rows
    frames = _chunks(run, src, encoding, rows) if stream and _streamable(src) else \
        iter([read_frame(src, encoding, run.feature_names)])
    targets = run.target_encoder.target_names
    with _output(dst) as f:
        n = 0
        for frame in frames:
            extra = [c for c in targets if c in frame.columns]
            result = run.predict_frame(frame.drop(columns=extra))
            result.to_csv(f, index=False, header=n == 0)
            n += len(result)
        if n == 0:
            raise DataError(f"'{src}' has a header but no rows", hint="add data rows below "
                            "the header")
    return n


def _streamable(src: Path) -> bool:
    """Parquet, or a CSV/TSV whose header has its suffix's separator (others are sniffed
    by the whole-file reader)."""
    suffix = src.suffix.lower()
    if suffix in PARQUET or not src.is_file():
        return suffix in STREAMABLE
    with src.open("rb") as f:
        return suffix in TEXT_SEPARATORS and \
            TEXT_SEPARATORS[suffix].encode() in f.readline(65536)


def _chunks(run: Run, src: Path, encoding: str | None, rows: int) -> Iterator[pd.DataFrame]:
    """The file's rows as DataFrames of about ``rows`` rows, in file order."""
    if not src.is_file():
        read_frame(src, encoding)  # raises the reader's own error (missing, directory)
    if src.suffix.lower() in PARQUET:
        import pyarrow.parquet as pq

        try:
            batches = pq.ParquetFile(src, pre_buffer=False).iter_batches(batch_size=rows)
            for b in batches:
                yield string_columns(b.to_pandas(), f"'{src}'")
        except OSError as e:  # pyarrow's errors for a corrupt file
            raise DataError(f"'{src}' is not a readable Parquet file",
                            found=str(e).splitlines()[0][:200]) from None
        return
    if encoding is None:
        with src.open("rb") as fh:
            encoding = detect_encoding(src, fh.read(65536), run.feature_names)
    try:
        reader = pd.read_csv(src, sep=TEXT_SEPARATORS[src.suffix.lower()], encoding=encoding,
                             skipinitialspace=True, engine="c", low_memory=False,
                             chunksize=rows)
        with reader:
            for chunk in reader:
                yield string_columns(chunk, f"'{src}'")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as e:
        raise DataError(f"cannot read '{src}' as a table",
                        found=str(e).splitlines()[0][:200] if str(e) else type(e).__name__,
                        hint="check separators, quotes and the text encoding") from None


class _output:
    """Standard output, or a temporary file beside ``dst`` renamed to it on success."""

    def __init__(self, dst: str | Path | None) -> None:
        self.dst = None if dst is None else Path(dst)
        self.tmp: str | None = None

    def __enter__(self) -> IO[str]:
        if self.dst is None:
            return sys.stdout
        self.dst.parent.mkdir(parents=True, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(dir=self.dst.parent, prefix=f".{self.dst.name}.",
                                        suffix=".tmp")
        self.f = os.fdopen(fd, "w", encoding="utf-8", newline="")
        return self.f

    def __exit__(self, kind: object, *rest: object) -> None:
        if self.dst is None or self.tmp is None:
            return
        self.f.close()
        if kind is None:
            os.chmod(self.tmp, 0o644)
            os.replace(self.tmp, self.dst)
        else:
            Path(self.tmp).unlink(missing_ok=True)


__all__ = ["predict_file"]
