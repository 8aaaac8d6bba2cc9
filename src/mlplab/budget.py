"""Memory budgets: refuse a network or a generated dataset that would not fit, before allocating.

A run needs its parameters, their gradients and the optimizer's state (Adam keeps two moments
per parameter), the activations of one batch kept for the backward pass, and the data. When
the sum exceeds the limit — the memory available now (``MemAvailable`` in ``/proc/meminfo``),
or ``MLPLAB_MEMORY_LIMIT_GB`` when set — the run is refused with the size it would need.

Example
-------
>>> need = network_bytes(in_features=2, hidden=[10], n_outputs=1, optimizer="adam", rows=32)
>>> need == 4 * (4 * (2 * 10 + 10 + 10 * 1 + 1) + 2 * 32 * (2 + 10 + 1))
True
>>> check_fits(need, "this network", limit=10**9)
>>> check_fits(2 * 10**11, "this network", limit=10**9)  # doctest: +ELLIPSIS
Traceback (most recent call last):
    ...
mlplab.errors.ConfigError: this network would need 200 GB of memory; the limit is 1 GB ...
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

from mlplab.errors import ConfigError

LIMIT_ENV = "MLPLAB_MEMORY_LIMIT_GB"
FLOAT_BYTES = 4  # parameters, gradients, optimizer state and activations are float32
# tensors the optimizer keeps per parameter, beyond the parameter and its gradient
OPTIMIZER_SLOTS = {"sgd": 1, "adam": 2, "adamw": 2, "rmsprop": 2}
DEFAULT_SLOTS = 2
# 8-byte copies a generated dataset's values pass through (generator output, the table, splits,
# encoded features, tensors, evaluation and metrics): measured 640 bytes per row of circles
# (3 columns) at 1M rows, `/usr/bin/time -f %M mlplab train --n-samples 1000000 --epochs 1`
DATA_COPIES = 32
GB = 1e9


def memory_limit() -> int:
    """Bytes a run may use: ``MLPLAB_MEMORY_LIMIT_GB`` if set, else the memory available now.

    Example
    -------
    >>> memory_limit() > 0
    True
    """
    raw = os.environ.get(LIMIT_ENV)
    if raw is not None:
        try:
            gb = float(raw)
        except ValueError:
            gb = -1.0
        if not gb > 0:
            raise ConfigError(f"bad {LIMIT_ENV}", expected="a positive number of GB, e.g. 64",
                              found=raw)
        return int(gb * GB)
    return _available_bytes()


def _available_bytes() -> int:
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    try:  # other Unixes: all physical memory
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 2**63 - 1  # unknown: no limit


def network_bytes(in_features: int, hidden: Sequence[int], n_outputs: int, optimizer: str,
                  rows: int) -> int:
    """Bytes to train an MLP: parameters, gradients and optimizer state, plus one batch of
    ``rows`` rows' activations (each layer's input and output, kept for the backward pass).

    Example
    -------
    >>> network_bytes(3, [], 1, "sgd", rows=0)  # 4 weights: parameter, gradient, momentum
    48
    """
    widths = [in_features, *hidden, n_outputs]
    params = sum((a + 1) * b for a, b in pairwise(widths))
    per_param = 2 + OPTIMIZER_SLOTS.get(optimizer, DEFAULT_SLOTS)
    return FLOAT_BYTES * (per_param * params + 2 * rows * sum(widths))


def dataset_bytes(rows: int, columns: int) -> int:
    """Bytes a generated dataset of ``rows`` x ``columns`` (target included) passes through.

    Example
    -------
    >>> dataset_bytes(1000, 3)
    768000
    """
    return DATA_COPIES * 8 * rows * columns


def check_fits(need: int, what: str, limit: int | None = None) -> None:
    """Raise :class:`~mlplab.errors.ConfigError` if ``need`` bytes exceed ``limit`` (default:
    :func:`memory_limit`), naming both and how to raise the limit.

    Example
    -------
    >>> check_fits(1, "one byte")
    """
    source = f"{LIMIT_ENV}" if LIMIT_ENV in os.environ else "the memory available now"
    limit = memory_limit() if limit is None else limit
    if need > limit:
        raise ConfigError(
            f"{what} would need {need / GB:.3g} GB of memory; the limit is {limit / GB:.3g} GB "
            f"({source})", hint=f"make it smaller, or raise the limit with {LIMIT_ENV}=<GB> "
                                "if the machine really has the memory")
