"""Mini-batches as slices of one ``randperm``: no ``DataLoader``, no per-sample indexing.

Small data lives on the device as whole tensors; an epoch is one random permutation split
into index tensors, and each batch is ``X[idx]`` (one gather per batch).

Example
-------
>>> g = torch.Generator().manual_seed(0)
>>> [len(i) for i in batch_indices(10, 4, g)]
[4, 4, 2]
>>> batch_indices(10, None, g) is None
True
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch

from mlplab.errors import ConfigError


def batch_indices(n: int, batch_size: int | None, generator: torch.Generator,
                  device: torch.device | str | None = None) -> list[torch.Tensor] | None:
    """Shuffled index tensors for one epoch, or ``None`` for a full batch.

    Parameters
    ----------
    n : int
        Number of rows.
    batch_size : int or None
        Rows per batch; ``None`` or ``>= n`` means full batch (the caller uses the whole
        tensors, no copy). The last batch keeps the remainder (it may be short).
    generator : torch.Generator
        Drives the permutation, so epochs are reproducible from the seed.
    device : torch.device or str, optional
        Where the index tensors should live (default: the generator's device).

    Returns
    -------
    list of Tensor or None
        int64 tensors of shape (<= batch_size,) covering ``0..n-1`` once each.
    """
    if batch_size is None or batch_size >= n:
        return None
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError("bad batch_size", expected="an integer >= 1 or None (full batch)",
                          found=repr(batch_size))
    perm = torch.randperm(n, generator=generator, device=generator.device)  # (n,)
    if device is not None and torch.device(device) != perm.device:
        perm = perm.to(device)
    return list(perm.split(batch_size))


def iter_slices(tensors: Sequence[torch.Tensor | None],
                idx_list: list[torch.Tensor] | None) -> Iterator[tuple[torch.Tensor | None, ...]]:
    """Yield the tensors indexed by each batch (the tensors themselves for a full batch).

    ``None`` entries (e.g. no sample weights) stay ``None``.

    Example
    -------
    >>> X, y = torch.arange(6.0).reshape(3, 2), torch.tensor([0, 1, 0])
    >>> idx = [torch.tensor([2, 0]), torch.tensor([1])]
    >>> [tuple(t.tolist() for t in b) for b in iter_slices((X, y), idx)]
    [([[4.0, 5.0], [0.0, 1.0]], [0, 0]), ([[2.0, 3.0]], [1])]
    """
    if idx_list is None:
        yield tuple(tensors)
        return
    for idx in idx_list:
        yield tuple(None if t is None else t[idx] for t in tensors)


__all__ = ["batch_indices", "iter_slices"]
