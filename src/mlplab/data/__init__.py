"""Data: built-in generators and datasets, CSV/Parquet files, splits, encoders, batches.

:func:`load_table` turns ``DataConfig.source`` into a :class:`Table` of raw features and
targets; :func:`split_indices`, :class:`Preprocessor` and :class:`TargetEncoder` then make the
arrays a model trains on.

Example
-------
>>> from mlplab.config import DataConfig
>>> t = load_table(DataConfig(source="moons", n_samples=50), seed=0)
>>> t.X.shape, list(t.X.columns), list(t.y.columns), t.kind
((50, 2), ['x1', 'x2'], ['y'], 'synthetic')
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from mlplab import registry
from mlplab.data.split import Split, split_indices
from mlplab.data.tabular import (
    Preprocessor,
    TargetEncoder,
    clean_missing,
    infer_task,
    read_file,
    select_columns,
)
from mlplab.errors import DataError, did_you_mean

if TYPE_CHECKING:
    from mlplab.config import DataConfig


@dataclass
class Table:
    """Raw data before splitting: features and target(s) with their original values."""

    X: pd.DataFrame  # raw features, original column names
    y: pd.DataFrame  # target column(s), original values
    source: str  # dataset name or file path
    kind: str  # 'synthetic' | 'real' | 'file' (or 'memory' for in-memory data)


def load_table(cfg: DataConfig, seed: int) -> Table:
    """Load ``cfg.source``: a built-in generator, a shipped dataset, or a CSV/Parquet file.

    Generators get ``n_samples``, ``noise``, ``label_noise``, ``imbalance``, ``n_classes``
    and ``n_features`` (columns ``x1..xd``, target ``y``) and ignore ``target``/``features``;
    real datasets honour ``target``/``features``; files need ``target``.

    Raises
    ------
    DataError
        Unknown dataset name (a source with no file suffix that is not a file), or any file
        problem (see :func:`~mlplab.data.tabular.read_file`).
    """
    name = cfg.source
    info = registry.DATASETS.get(name)
    if info is not None and info.kind == "synthetic":
        X, y = info.load()(cfg.n_samples, cfg.noise, seed, label_noise=cfg.label_noise,
                           imbalance=cfg.imbalance, n_classes=cfg.n_classes,
                           n_features=cfg.n_features)
        Xf = pd.DataFrame(X, columns=[f"x{i + 1}" for i in range(X.shape[1])])
        return Table(Xf, pd.DataFrame({"y": y}), name, "synthetic")
    if info is not None:
        X, y = info.load()()
        if cfg.target is not None:
            X, y = select_columns(pd.concat([X, y], axis=1), cfg.target, cfg.features)
        elif cfg.features is not None:
            X, _ = select_columns(pd.concat([X, y], axis=1), list(y.columns), cfg.features)
        return Table(X, y, name, "real")
    path = Path(name)
    if not path.suffix and not path.exists():
        raise DataError(f"unknown dataset '{name}'",
                        expected=f"a built-in name ({', '.join(registry.DATASETS)}) or a "
                        "CSV/Parquet file", hint=did_you_mean(name, registry.DATASETS)
                        or "`mlplab datasets` lists the built-in ones")
    return read_file(path, cfg.target, cfg.features)


@functools.cache
def _summary(name: str) -> tuple[tuple[str, Any], ...]:
    from mlplab.config import DataConfig  # config imports registry only; no cycle at runtime

    info = registry.DATASETS[name]
    # synthetic datasets at their default size (1000 rows)
    table = load_table(DataConfig.model_validate({"source": name}), seed=0)
    task = infer_task(table.y)
    classes = None if task == "regression" else int(table.y.iloc[:, 0].nunique())
    return (("name", name), ("kind", info.kind), ("task", task), ("rows", len(table.X)),
            ("features", table.X.shape[1]), ("classes", classes),
            ("description", info.description), ("target", str(table.y.columns[0])),
            ("missing", int(table.X.isna().sum().sum())))


def dataset_summary(name: str) -> dict[str, Any]:
    """Rows, features, classes, task and description of a built-in dataset.

    Synthetic datasets are summarised at their default size (1000 rows); ``classes`` is
    ``None`` for regression; ``missing`` counts missing feature values.

    Example
    -------
    >>> s = dataset_summary("iris")
    >>> s["rows"], s["features"], s["classes"], s["task"]
    (150, 4, 3, 'multiclass')
    """
    if name not in registry.DATASETS:
        raise DataError(f"unknown dataset '{name}'",
                        expected=f"one of {', '.join(registry.DATASETS)}",
                        hint=did_you_mean(name, registry.DATASETS))
    return dict(_summary(name))


__all__ = ["Preprocessor", "Split", "Table", "TargetEncoder", "clean_missing",
           "dataset_summary", "infer_task", "load_table", "read_file", "split_indices"]
