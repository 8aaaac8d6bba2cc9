"""How many intra-op threads torch uses while mlplab trains or predicts: the thread policy.

torch starts with one intra-op thread per core. For the small MLPs mlplab trains, a step is a
few small matmuls; splitting them over threads costs more in synchronisation than it gains,
and when another process keeps a core busy the threads wait for each other (measured: a fit
twice as slow beside one busy process). So the policy, measured on 2 cores (torch 2.13, one
Adam step of a 20-h-h-1 MLP; see ``benchmarks/bench_threads.py``):

========================  =================  =========  ==========
step (forward+backward)   example            1 thread   2 threads
========================  =================  =========  ==========
14.5 MFLOP                h=100, batch 200   0.65 ms    0.70 ms
29 MFLOP                  h=128, batch 256   0.82 ms    1.19 ms
55-63 MFLOP               h=192, batch 256   1.22 ms    0.99 ms
840 MFLOP                 h=512, batch 512   7.9 ms     4.7 ms
========================  =================  =========  ==========

- below :data:`SMALL_STEP_FLOPS` per step (or per prediction chunk): one thread;
- above it: every thread the caller allows, never more. What the caller allows is the calling
  thread's torch thread count, which already follows ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS``
  (joblib's loky workers set them so that workers x threads <= cores), ``threadpoolctl``'s
  ``threadpool_limits`` (it sets the OpenMP count that torch reads) and an earlier
  ``torch.set_num_threads``; and the CPUs this process may run on;
- an explicit setting (``train.num_threads``, the estimators' ``config``) wins over both.

The count is set for the calling thread only (torch keeps OpenMP and MKL counts per thread),
and :func:`restoring` gives the caller its own count back afterwards, so nothing leaks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from itertools import pairwise

import torch
from torch import nn

# forward + backward FLOPs of one step below which one thread is fastest (measured, see above)
SMALL_STEP_FLOPS = 50e6


def allowed_threads() -> int:
    """The most intra-op threads the caller allows this thread (outer parallelism included).

    Example
    -------
    >>> allowed_threads() >= 1
    True
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(torch.get_num_threads(), cpus or 1))


def step_flops(model: nn.Module, rows: int, backward: bool = True) -> float:
    """Approximate FLOPs of one pass of ``rows`` rows through ``model``'s weight matrices:
    2 per multiply-add forward, 4 more backward (input and weight gradients).

    Example
    -------
    >>> step_flops(nn.Linear(20, 100), rows=200)  # 6 * 200 * 20 * 100
    2400000.0
    """
    macs = sum(p.numel() for p in model.parameters() if p.dim() > 1)
    return float((6 if backward else 2) * rows * macs)


def choose(flops: float, setting: int | None = None) -> int:
    """Threads for work of ``flops`` per step: the setting if given, else the policy above.

    Example
    -------
    >>> choose(1e6), choose(1e6, setting=3)
    (1, 3)
    """
    if setting is not None:
        return int(setting)
    return 1 if flops < SMALL_STEP_FLOPS else allowed_threads()


def apply(model: nn.Module, rows: int, setting: int | None = None,
          backward: bool = True) -> int:
    """Set this thread's torch thread count by the policy for steps of ``rows`` rows through
    ``model`` (``setting`` wins); returns the count. Wrap in :func:`restoring` to undo it.

    Example
    -------
    >>> with restoring():
    ...     apply(nn.Linear(20, 100), rows=200), torch.get_num_threads()
    (1, 1)
    """
    return apply_flops(step_flops(model, rows, backward), setting)


def mlp_flops(widths: Sequence[int], rows: int, backward: bool = True) -> float:
    """:func:`step_flops` of an MLP with layer widths ``[in, hidden..., out]``, before it is
    built.

    Example
    -------
    >>> mlp_flops([20, 100], rows=200) == step_flops(nn.Linear(20, 100), rows=200)
    True
    """
    macs = sum(a * b for a, b in pairwise(widths))
    return float((6 if backward else 2) * rows * macs)


def apply_flops(flops: float, setting: int | None = None) -> int:
    """Set this thread's torch thread count by the policy for steps of ``flops`` (``setting``
    wins); returns the count. Wrap in :func:`restoring` to undo it.

    Example
    -------
    >>> with restoring():
    ...     apply_flops(1e6), torch.get_num_threads()
    (1, 1)
    """
    n = choose(flops, setting)
    if n != torch.get_num_threads():
        torch.set_num_threads(n)
    return n


@contextmanager
def restoring() -> Iterator[None]:
    """Run the block, then give this thread back the torch thread settings it had before: the
    intra-op count, and the inter-op count if the block changed it. Also when the block raises.

    Example
    -------
    >>> before = torch.get_num_threads()
    >>> with restoring():
    ...     torch.set_num_threads(1)
    >>> torch.get_num_threads() == before
    True
    """
    before = torch.get_num_threads()
    interop = torch.get_num_interop_threads()
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
        if torch.get_num_interop_threads() != interop:
            # torch refuses a second setting once inter-op work has started: nothing to undo
            with suppress(RuntimeError):
                torch.set_num_interop_threads(interop)
