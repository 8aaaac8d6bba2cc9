"""Mini-batch index tensors: slices of one randperm."""

from __future__ import annotations

import pytest
import torch

from mlplab.data.batches import batch_indices, iter_slices
from mlplab.errors import ConfigError


def test_full_batch_returns_none() -> None:
    g = torch.Generator().manual_seed(0)
    assert batch_indices(10, None, g) is None
    assert batch_indices(10, 10, g) is None
    assert batch_indices(10, 64, g) is None


def test_batches_are_a_split_randperm() -> None:
    idx = batch_indices(10, 4, torch.Generator().manual_seed(3))
    assert idx is not None
    assert [len(i) for i in idx] == [4, 4, 2]  # the short last batch is kept
    ref = torch.randperm(10, generator=torch.Generator().manual_seed(3)).split(4)
    for a, b in zip(idx, ref, strict=True):
        assert torch.equal(a, b)
    assert sorted(torch.cat(idx).tolist()) == list(range(10))
    assert idx[0].dtype == torch.int64


def test_each_epoch_draws_a_new_order_reproducibly() -> None:
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    e1, e2 = batch_indices(100, 10, g1), batch_indices(100, 10, g1)
    r1, r2 = batch_indices(100, 10, g2), batch_indices(100, 10, g2)
    assert e1 is not None and e2 is not None and r1 is not None and r2 is not None
    assert not torch.equal(torch.cat(e1), torch.cat(e2))
    assert torch.equal(torch.cat(e2), torch.cat(r2))


def test_bad_batch_size() -> None:
    with pytest.raises(ConfigError, match="bad batch_size"):
        batch_indices(10, 0, torch.Generator())


def test_iter_slices() -> None:
    X, y = torch.arange(10.0).reshape(5, 2), torch.arange(5)
    idx = batch_indices(5, 2, torch.Generator().manual_seed(0))
    parts = list(iter_slices((X, y, None), idx))
    assert len(parts) == 3 and parts[0][2] is None
    assert torch.equal(torch.cat([p[1] for p in parts]), torch.cat(idx))  # type: ignore[arg-type]
    assert torch.equal(torch.cat([p[0] for p in parts]), X[torch.cat(idx)])  # type: ignore[arg-type]
    whole = list(iter_slices((X, y), None))
    assert len(whole) == 1 and whole[0][0] is X
