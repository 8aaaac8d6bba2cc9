"""Files larger than memory: Parquet and CSV read in chunks, with bounded memory.

One pass (:func:`scan`) computes the preprocessing statistics (per-column mean/std or
min/max, merged chunk by chunk with Chan's formula) and the target's classes; each training
epoch then reads the file again, chunk by chunk (Parquet record batches via pyarrow; CSV via
pyarrow's streaming reader), mixes rows in a shuffle buffer of ``data.shuffle_buffer`` rows and
yields mini-batches (:class:`FileBatches`) to the stream runner
(:mod:`mlplab.training.runners.stream`), which trains through the same ``fit`` and step as
in-memory data. Rows go to the test split by a hash of their row number, so the split
does not depend on chunk sizes. Memory stays around one chunk + the shuffle buffer + the
model, whatever the file size. Only numeric feature columns can stream.

Example
-------
>>> import numpy as np, pandas as pd, tempfile, os
>>> from mlplab.config import DataConfig
>>> d = tempfile.mkdtemp(); path = os.path.join(d, "t.parquet")
>>> pd.DataFrame({"a": np.arange(10.0), "y": [0, 1] * 5}).to_parquet(path)
>>> s = scan(DataConfig(source=path, target="y", test_size=0.0, chunk_rows=1000), seed=0)
>>> s.n_rows, s.center["a"], s.classes
(10, 4.5, [0, 1])
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlplab.errors import ConfigError, DataError

if TYPE_CHECKING:
    from mlplab.config import DataConfig, RunConfig

SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv"}
MAX_CLASSES = 50  # more distinct target values than this: regression
EVAL_ROWS = 200_000  # rows of each split kept in memory for evaluation and metrics


def should_stream(cfg: DataConfig) -> bool:
    """True for a Parquet/CSV source with ``stream: true``, or ``auto`` above the size."""
    p = Path(cfg.source)
    if cfg.stream is False or p.suffix.lower() not in SUFFIXES or not p.is_file():
        return False
    return cfg.stream is True or p.stat().st_size > cfg.stream_above_mb * 2**20


def columns_of(cfg: DataConfig) -> tuple[list[str], str]:
    """(feature columns, target column) of a streamable file, checked against its schema."""
    import pyarrow.parquet as pq

    path = Path(cfg.source)
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None or not path.is_file():
        raise DataError(f"cannot stream '{path}'", expected="an existing .parquet or .csv file")
    if kind == "parquet":
        names = list(pq.ParquetFile(path).schema_arrow.names)
    else:
        names = list(pd.read_csv(path, nrows=0, sep=None if path.suffix == ".tsv" else ",",
                                 engine="python" if path.suffix == ".tsv" else "c").columns)
    if not isinstance(cfg.target, str):
        raise ConfigError("streaming needs one target column", expected="data.target: NAME",
                          found=repr(cfg.target))
    if cfg.target not in names:
        raise DataError(f"target column '{cfg.target}' not in {path.name}",
                        hint="columns: " + ", ".join(names[:20]))
    feats = cfg.features or [c for c in names if c != cfg.target]
    missing = [c for c in feats if c not in names]
    if missing:
        raise DataError(f"feature column '{missing[0]}' not in {path.name}")
    return feats, cfg.target


def iter_chunks(cfg: DataConfig) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(X float32 (m, d), y (m,)) per chunk of about ``chunk_rows`` rows, in file order."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    feats, target = columns_of(cfg)
    path = Path(cfg.source)
    batches: Iterator[pa.RecordBatch]
    if SUFFIXES[path.suffix.lower()] == "parquet":
        # pre_buffer=False: read column chunks as needed instead of prefetching whole row
        # groups (halves Arrow's peak pool on files with large row groups)
        batches = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20).iter_batches(
            batch_size=cfg.chunk_rows, columns=[*feats, target])
    else:
        parse = pcsv.ParseOptions(delimiter="\t" if path.suffix == ".tsv" else ",")
        read = pcsv.ReadOptions(block_size=max(1 << 20, cfg.chunk_rows * 8 * len(feats)))
        batches = iter(pcsv.open_csv(path, read_options=read, parse_options=parse,
                                     convert_options=pcsv.ConvertOptions(
                                         include_columns=[*feats, target])))
    for b in batches:
        cols = []
        for c in feats:
            col = b.column(c)
            if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)
                    or pa.types.is_boolean(col.type)):
                raise DataError(f"column '{c}' is {col.type}; only numeric columns stream",
                                hint="encode it beforehand, or load the file into memory "
                                     "(data.stream: false)")
            if col.null_count:
                raise DataError(f"missing values in column '{c}' of a streamed file",
                                hint="fill them beforehand; streaming does not impute")
            cols.append(col.to_numpy(zero_copy_only=False).astype(np.float32, copy=False))
        X = np.stack(cols, axis=1) if cols else np.empty((len(b), 0), np.float32)
        yield X, b.column(target).to_numpy(zero_copy_only=False)


def holdout_mask(start: int, m: int, fraction: float, seed: int) -> np.ndarray:
    """Which of rows ``start..start+m-1`` are held out: a hash of the row number.

    >>> holdout_mask(0, 10, 0.5, 0).tolist() == holdout_mask(0, 10, 0.5, 0).tolist()
    True
    """
    if fraction <= 0:
        return np.zeros(m, dtype=bool)
    idx = np.arange(start, start + m, dtype=np.uint64) + np.uint64(seed) * np.uint64(7919)
    h = (idx * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(11)  # uint64 wraps: a hash
    return (h.astype(np.float64) / 2.0**53) < fraction  # type: ignore[no-any-return]


@dataclass
class StreamStats:
    """What one streaming pass learns: row counts, per-feature scaling, target classes."""

    features: list[str]
    target: str
    n_rows: int = 0
    n_train: int = 0
    center: dict[str, float] = field(default_factory=dict)
    spread: dict[str, float] = field(default_factory=dict)
    classes: list[Any] | None = None  # None: too many values (regression)
    target_mean: float = 0.0  # of the train rows' target (used for regression)
    target_std: float = 1.0


def scan(cfg: DataConfig, seed: int) -> StreamStats:
    """One pass over the file: mean/std (Chan's merge) or min/max of train rows, classes."""
    feats, target = columns_of(cfg)
    d = len(feats)
    n, mean, m2 = 0, np.zeros(d), np.zeros(d)
    y_mean, y_m2 = 0.0, 0.0  # the target's, merged the same way (regression scaling)
    lo, hi = np.full(d, np.inf), np.full(d, -np.inf)
    classes: set[Any] | None = set()
    start = 0
    for X, y in iter_chunks(cfg):
        train = ~holdout_mask(start, len(X), cfg.test_size, seed)
        start += len(X)
        if classes is not None:
            classes |= set(np.unique(y).tolist())
            if len(classes) > MAX_CLASSES:
                classes = None
        Xt = X[train].astype(np.float64)
        if len(Xt) == 0:
            continue
        nb, mb = len(Xt), Xt.mean(0)
        delta = mb - mean
        m2 += ((Xt - mb) ** 2).sum(0) + delta**2 * n * nb / (n + nb)
        mean += delta * nb / (n + nb)
        yt = _numeric_target(y[train])
        if yt is not None:
            ymb = float(yt.mean())
            ydelta = ymb - y_mean
            y_m2 += float(((yt - ymb) ** 2).sum()) + ydelta**2 * n * nb / (n + nb)
            y_mean += ydelta * nb / (n + nb)
        n += nb
        lo, hi = np.minimum(lo, Xt.min(0)), np.maximum(hi, Xt.max(0))
    if n == 0:
        raise DataError(f"'{cfg.source}' has no training rows")
    std = np.sqrt(m2 / n)
    scale = {"standard": (mean, std), "minmax": (lo, hi - lo),
             "none": (np.zeros(d), np.ones(d))}[cfg.scale]
    center = {c: float(v) for c, v in zip(feats, scale[0], strict=True)}
    spread = {c: float(v) if v > 0 and np.isfinite(v) else 1.0
              for c, v in zip(feats, scale[1], strict=True)}
    y_std = float(np.sqrt(y_m2 / n))
    return StreamStats(feats, target, start, n, center, spread,
                       None if classes is None else sorted(classes), y_mean,
                       y_std if y_std > 0 and np.isfinite(y_std) else 1.0)


def _numeric_target(y: np.ndarray) -> np.ndarray | None:
    """The target as float64, or None when it is not numeric (classes, not values)."""
    try:
        return np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def shuffled_batches(chunks: Iterator[tuple[np.ndarray, np.ndarray]], batch_size: int,
                     buffer_rows: int, rng: np.random.Generator
                     ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Mini-batches from a stream, mixed in a buffer of about ``buffer_rows`` rows.

    The buffer fills with chunks; once full it is permuted, all but a random half-buffer is
    emitted as batches, and the kept half mixes with the next chunks. Rows are emitted once.
    """
    bufX: list[np.ndarray] = []
    bufy: list[np.ndarray] = []
    n = 0
    for X, y in chunks:
        bufX.append(X)
        bufy.append(y)
        n += len(X)
        if n < max(buffer_rows, batch_size):
            continue
        Xa, ya = np.concatenate(bufX), np.concatenate(bufy)
        perm = rng.permutation(n)
        keep = min(buffer_rows // 2, n - batch_size)
        cut = (n - keep) // batch_size * batch_size  # emit whole batches only
        out = perm[:cut]
        for s in range(0, cut, batch_size):
            sel = out[s:s + batch_size]
            yield Xa[sel], ya[sel]
        rest = perm[cut:]
        bufX, bufy, n = [Xa[rest]], [ya[rest]], len(rest)
    if n:
        Xa, ya = np.concatenate(bufX), np.concatenate(bufy)
        perm = rng.permutation(n)
        for s in range(0, n, batch_size):
            sel = perm[s:s + batch_size]
            yield Xa[sel], ya[sel]


# --- batches for training --------------------------------------------------------------------


def encoded_chunks(cfg: RunConfig, stats: StreamStats, classes: list[Any] | None,
                   want_test: bool) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Preprocessed (X, y-encoded) of the train rows (or the test rows) of each chunk."""
    c = np.array([stats.center[f] for f in stats.features], dtype=np.float32)
    inv = 1.0 / np.array([stats.spread[f] for f in stats.features], dtype=np.float32)
    index = None if classes is None else pd.Index(classes)
    # regression: standardised targets, as in memory (model.json's target_scaler undoes it)
    scaled = index is None and cfg.data.scale_target and cfg.loss != "poisson"
    y_center, y_spread = (stats.target_mean, stats.target_std) if scaled else (0.0, 1.0)
    start = 0
    for X, y in iter_chunks(cfg.data):
        held = holdout_mask(start, len(X), cfg.data.test_size, cfg.seed)
        start += len(X)
        keep = held if want_test else ~held
        Xk = (X[keep] - c) * inv  # (m, d) float32
        yk = y[keep]
        ye = ((yk.astype(np.float64) - y_center) / y_spread).astype(np.float32) \
            if index is None else index.get_indexer(yk)
        yield Xk, ye


def head_rows(it: Iterator[tuple[np.ndarray, np.ndarray]], n: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` rows of a chunk stream, as one (X, y)."""
    X, y, got = [], [], 0
    for a, b in it:
        X.append(a[: n - got])
        y.append(b[: n - got])
        got += len(X[-1])
        if got >= n:
            break
    return np.concatenate(X), np.concatenate(y)


@dataclass
class FileBatches:
    """An epoch of shuffled, preprocessed training mini-batches read from the file again.

    The shuffle buffer's generator is seeded once, so epoch ``k`` of two runs with the same
    seed sees the same batches.
    """

    cfg: RunConfig
    stats: StreamStats
    classes: list[Any] | None
    rng: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.cfg.seed)

    def epoch(self, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(X float32 (b, d), encoded y (b,)) per mini-batch of one pass over the train rows."""
        return shuffled_batches(encoded_chunks(self.cfg, self.stats, self.classes, False),
                                batch_size, self.cfg.data.shuffle_buffer, self.rng)


__all__ = [
    "EVAL_ROWS",
    "FileBatches",
    "StreamStats",
    "columns_of",
    "encoded_chunks",
    "head_rows",
    "holdout_mask",
    "iter_chunks",
    "scan",
    "should_stream",
    "shuffled_batches",
]
