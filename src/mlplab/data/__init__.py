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

import numpy as np
import pandas as pd

from mlplab import registry
from mlplab.data.encoders import Preprocessor
from mlplab.data.split import Split, split_indices
from mlplab.data.table import Table
from mlplab.data.tabular import clean_missing, frame_table, read_file, select_columns
from mlplab.data.targets import TargetEncoder, infer_task
from mlplab.errors import DataError, did_you_mean

if TYPE_CHECKING:
    from mlplab.config import DataConfig


def load_table(cfg: DataConfig, seed: int) -> Table:
    """Load ``cfg.source``: a built-in generator, a shipped dataset, or a CSV/Parquet file.

    Generators get ``n_samples``, ``noise``, ``label_noise``, ``imbalance``, ``n_classes``
    and ``n_features`` (columns ``x1..xd``, target ``y``) and ignore ``target``/``features``;
    real datasets honour ``target``/``features``/``drop``; files need ``target`` and honour
    ``features``, ``drop`` and ``encoding``.

    Raises
    ------
    DataError
        Unknown dataset name (a source with no file suffix that is not a file), or any file
        problem (see :func:`~mlplab.data.tabular.read_file`).
    """
    name = cfg.source
    info = registry.DATASETS.get(name)
    if info is not None and info.kind == "synthetic":
        data_seed = cfg.seed if cfg.seed is not None else seed  # the recipe's data stays put
        X, y = info.load()(cfg.n_samples, cfg.noise, data_seed, label_noise=cfg.label_noise,
                           imbalance=cfg.imbalance, n_classes=cfg.n_classes,
                           n_features=cfg.n_features)
        Xf = pd.DataFrame(X, columns=[f"x{i + 1}" for i in range(X.shape[1])])
        return Table(Xf, pd.DataFrame({"y": y}), name, "synthetic")
    if info is not None:
        X, y = info.load()()
        if cfg.target is not None or cfg.features is not None or cfg.drop:
            X, y = select_columns(pd.concat([X, y], axis=1), cfg.target or list(y.columns),
                                  cfg.features, cfg.drop)
        return Table(X, y, name, "real")
    path = Path(name)
    if not path.suffix and not path.exists():
        raise DataError(f"unknown dataset '{name}'",
                        expected=f"a built-in name ({', '.join(registry.DATASETS)}) or a "
                        "CSV/Parquet file", hint=did_you_mean(name, registry.DATASETS)
                        or "`mlplab datasets` lists the built-in ones")
    return read_file(path, cfg.target, cfg.features, encoding=cfg.encoding, drop=cfg.drop)


@dataclass
class Encoded:
    """A table split and encoded: encoders fitted on the training rows, all rows encoded."""

    split: Split
    preprocessor: Preprocessor
    target_encoder: TargetEncoder
    X: np.ndarray  # float32 (n, n_features_out), every row
    y: np.ndarray  # encoded targets of every row (regression: standardised)


def encode_table(table: Table, cfg: DataConfig, task: str, seed: int) -> Encoded:
    """Split ``table`` (stratified for classes) and fit both encoders on the training rows.

    The target encoder learns the task and classes from all rows (binary: the positive class
    as :class:`TargetEncoder` picks it, or ``cfg.pos_label``); regression targets are
    standardised with the training rows' statistics unless ``cfg.scale_target`` is off.

    Example
    -------
    >>> from mlplab.config import DataConfig
    >>> X, y = pd.DataFrame({"x": [1.0, 2, 3, 4, 5]}), pd.DataFrame({"y": [10, 20, 30, 40, 50.5]})
    >>> t = Table(X, y, "memory", "memory")
    >>> e = encode_table(t, DataConfig(test_size=0.2), "auto", seed=0)
    >>> e.target_encoder.task, e.X.shape, round(float(e.y[e.split.train].mean()), 6)
    ('regression', (5, 1), 0.0)
    """
    encoder = TargetEncoder.fit(table.y, task, pos_label=cfg.pos_label)
    strat = encoder.transform(table.y) if encoder.task in ("binary", "multiclass") else None
    split = split_indices(len(table.X), test_size=cfg.test_size, val_size=cfg.val_size,
                          seed=seed, stratify=strat)
    if cfg.scale_target:
        encoder.fit_scaler(table.y.iloc[split.train])
    pre = Preprocessor.fit(table.X.iloc[split.train], scale=cfg.scale, impute=cfg.impute,
                           categorical=cfg.categorical, numeric=cfg.numeric,
                           na_values=cfg.na_values, decimal=cfg.decimal)
    return Encoded(split, pre, encoder, pre.transform(table.X), encoder.transform(table.y))


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


__all__ = ["Encoded", "Preprocessor", "Split", "Table", "TargetEncoder", "clean_missing",
           "dataset_summary", "encode_table", "frame_table", "infer_task", "load_table",
           "read_file", "split_indices"]
