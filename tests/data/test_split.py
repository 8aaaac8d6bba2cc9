"""Seeded (stratified) train / val / test splits."""

from __future__ import annotations

import numpy as np
import pytest

from mlplab.data import split_indices
from mlplab.errors import DataError


def _check_partition(s, n: int) -> None:
    allidx = np.concatenate([s.train, s.val, s.test])
    assert sorted(allidx.tolist()) == list(range(n))  # disjoint and complete
    for part in (s.train, s.val, s.test):
        assert part.dtype == np.int64


def test_sizes_and_partition() -> None:
    s = split_indices(1000, test_size=0.2, val_size=0.1, seed=0)
    assert (len(s.train), len(s.val), len(s.test)) == (700, 100, 200)
    _check_partition(s, 1000)


def test_zero_sizes_give_empty_parts() -> None:
    s = split_indices(50, test_size=0.0, val_size=0.0, seed=0)
    assert len(s.train) == 50 and len(s.val) == 0 and len(s.test) == 0
    assert s.val.dtype == np.int64 and s.test.dtype == np.int64


def test_deterministic_and_seed_dependent() -> None:
    a = split_indices(300, test_size=0.3, val_size=0.1, seed=1)
    b = split_indices(300, test_size=0.3, val_size=0.1, seed=1)
    c = split_indices(300, test_size=0.3, val_size=0.1, seed=2)
    np.testing.assert_array_equal(a.test, b.test)
    np.testing.assert_array_equal(a.val, b.val)
    assert not np.array_equal(a.test, c.test)


def test_stratified_split_keeps_class_ratios_within_one_sample() -> None:
    y = np.repeat([0, 1, 2], [700, 200, 100])
    np.random.default_rng(0).shuffle(y)
    s = split_indices(len(y), test_size=0.2, val_size=0.15, seed=0, stratify=y)
    _check_partition(s, len(y))
    total = np.bincount(y)
    for part in (s.train, s.val, s.test):
        expected = total * len(part) / len(y)
        assert np.all(np.abs(np.bincount(y[part], minlength=3) - expected) <= 1)


def test_unstratified_split_drifts_more_than_stratified() -> None:
    """Guard: stratify is really passed through (a plain split is rarely this exact)."""
    y = np.repeat([0, 1], [950, 50])
    drift = []
    for seed in range(5):
        s = split_indices(1000, test_size=0.1, val_size=0.0, seed=seed)
        drift.append(abs(y[s.test].sum() - 5))
    assert max(drift) > 1


def test_tiny_class_falls_back_without_crashing() -> None:
    y = np.array([0] * 20 + [1])  # class 1 has one row: cannot be stratified
    s = split_indices(21, test_size=0.2, val_size=0.2, seed=0, stratify=y)
    _check_partition(s, 21)


def test_no_training_rows_left_raises() -> None:
    with pytest.raises(DataError, match="no rows left for training"):
        split_indices(2, test_size=0.5, val_size=0.5, seed=0)


def test_bad_fraction_and_stratify_length() -> None:
    with pytest.raises(DataError, match="bad test_size"):
        split_indices(10, test_size=1.5, val_size=0.0, seed=0)
    with pytest.raises(DataError, match="wrong length"):
        split_indices(10, test_size=0.2, val_size=0.0, seed=0, stratify=np.zeros(5))
