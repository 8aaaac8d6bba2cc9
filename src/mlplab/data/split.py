"""Seeded, optionally stratified train / validation / test split of row indices.

Example
-------
>>> s = split_indices(10, test_size=0.2, val_size=0.1, seed=0)
>>> len(s.train), len(s.val), len(s.test)
(7, 1, 2)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from mlplab.errors import DataError


@dataclass(frozen=True)
class Split:
    """Row indices (int64, sorted) of the train, validation and test parts."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def sizes(self) -> dict[str, int]:
        """``{"train": n, "val": n, "test": n}``."""
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def _count(fraction: float, n: int, what: str) -> int:
    """Rows for a fraction of n: rounded, and at least one when the fraction is > 0."""
    if not 0.0 <= fraction < 1.0:
        raise DataError(f"bad {what}", expected="a fraction in [0, 1)", found=repr(fraction))
    return 0 if fraction == 0 else max(1, round(fraction * n))


def take_rows(idx: np.ndarray, k: int, seed: int,
          labels: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Split ``idx`` into (rest, k picked rows), stratified by ``labels`` when that works."""
    if k == 0:
        return idx, idx[:0]
    if labels is not None:
        _, counts = np.unique(labels, return_counts=True)
        # scikit-learn needs >= 2 rows per class, and room for each class on both sides
        if len(counts) > 1 and counts.min() >= 2 and k >= len(counts) \
                and len(idx) - k >= len(counts):
            try:
                rest, picked = train_test_split(idx, test_size=k, random_state=seed,
                                                stratify=labels)
                return rest, picked
            except ValueError:
                pass  # a class too small after all: fall back to a plain random split
    rest, picked = train_test_split(idx, test_size=k, random_state=seed)
    return rest, picked


def split_indices(n: int, *, test_size: float, val_size: float, seed: int,
                  stratify: np.ndarray | None = None) -> Split:
    """Split rows ``0..n-1`` into train / val / test index arrays.

    Parameters
    ----------
    n : int
        Number of rows.
    test_size, val_size : float
        Fractions of ALL rows (not of what is left); 0 gives an empty part, any other value
        at least one row.
    seed : int
        Seed of the shuffle; the same seed gives the same split.
    stratify : ndarray of shape (n,), optional
        Class labels whose proportions every part keeps (within one row). Ignored, without
        error, when a class is too small to be split; ignored when not 1-D.

    Returns
    -------
    Split
        Sorted int64 index arrays.

    Raises
    ------
    DataError
        If the training part would be empty.

    Example
    -------
    >>> y = np.array([0] * 8 + [1] * 4)
    >>> s = split_indices(12, test_size=0.25, val_size=0.0, seed=0, stratify=y)
    >>> sorted(y[s.test].tolist()), len(s.val)
    ([0, 0, 1], 0)
    """
    n = int(n)
    n_test = _count(test_size, n, "test_size")
    n_val = _count(val_size, n, "val_size")
    if n - n_test - n_val < 1:
        raise DataError("no rows left for training",
                        found=f"{n} rows, {n_test} for test and {n_val} for validation",
                        hint="lower --test-size / --val-size or use more data")
    labels = None
    if stratify is not None:
        labels = np.asarray(stratify)
        if labels.ndim != 1:
            labels = None
        elif len(labels) != n:
            raise DataError("stratify labels have the wrong length", expected=str(n),
                            found=str(len(labels)))
    idx = np.arange(n, dtype=np.int64)
    rest, test = take_rows(idx, n_test, seed, labels)
    rest_labels = None if labels is None else labels[rest]
    train, val = take_rows(rest, n_val, (seed + 1) % 2**32, rest_labels)
    return Split(np.sort(train).astype(np.int64), np.sort(val).astype(np.int64),
                 np.sort(test).astype(np.int64))


__all__ = ["Split", "split_indices", "take_rows"]
