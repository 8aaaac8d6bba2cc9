"""The prediction path of a :class:`~mlplab.runs.run.Run`: scaling folded into the first layer.

A :class:`Predictor` is built once from a run's model and preprocessor (when the run is made
or loaded) and then only read, so concurrent predictions share it safely. It holds:

- the model's steps as a list: each ``Linear`` as a transposed weight and a bias for
  ``torch.addmm`` into a buffer, ``ReLU`` applied in place, any other layer (tanh, batch norm
  in eval mode, ...) called as the model calls it; a model it cannot take apart (a user's
  module, crosses, another device) is one step, called whole;
- when every input is a plain number and the scaling is linear (``standard``, ``minmax``,
  ``none``), a second first layer with the scaling folded in: ``W' = W / spread`` and
  ``b' = b - W' @ center`` (computed in float64, stored in float32), so raw rows go straight
  into the first matrix product. ``robust`` scaling ends in :func:`smooth_clip`, which is not
  linear: there the block is scaled and clipped by the preprocessor's own float32 operations
  instead (the same bits as :meth:`Preprocessor.transform_array`);
- when some inputs are categorical, the one-hot columns folded out of the first layer
  (:class:`OneHotFold`): :meth:`Predictor.predict_frame` encodes each categorical column as
  its category index (:meth:`Preprocessor.codes`) and each other column as
  :meth:`Preprocessor.transform` does, and the first layer adds the weight row of each row's
  category (none for an unseen one) to the product of the other features, instead of
  multiplying a dense one-hot matrix.

Rows are predicted in blocks of ``chunk`` rows. Each block is copied (cast to float32) into
one 64-byte aligned buffer, the last block zero-padded, so every row meets the same kernels
with the same shapes at the same alignment: a row's result never depends on which other rows
come with it. Missing values are filled block by block with the training fill values (raw
units, as the preprocessor fills them); a missing value without one, or an infinite value,
raises the preprocessor's own error. Results go into one preallocated output.

Example
-------
>>> from mlplab.models import MLP, ModelSpec
>>> from mlplab.data import Preprocessor
>>> import pandas as pd
>>> pre = Preprocessor.fit(pd.DataFrame({"a": [1.0, 3.0], "b": [0.0, 4.0]}))
>>> model = MLP(ModelSpec(in_features=2, hidden=[3], activations=["relu"], n_outputs=1)).eval()
>>> p = Predictor(model, pre, chunk=8)
>>> p.folded
True
>>> X = np.array([[2.0, 1.0], [0.5, -3.0]], dtype=np.float32)
>>> with torch.inference_mode():
...     ref = model(torch.as_tensor(pre.transform_array(X)))
...     got = p.predict(torch.from_numpy(X), raw=True)
>>> bool(torch.allclose(got, ref, atol=1e-6))
True
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from mlplab import threads
from mlplab.data import Preprocessor
from mlplab.data.encoders import smooth_clip
from mlplab.errors import DataError
from mlplab.models import MLP
from mlplab.runs.onehot_fold import OneHotFold

Head = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class _Linear:
    """``out = bias + x @ weight_t`` (weight_t: (fan_in, fan_out), contiguous)."""

    weight_t: torch.Tensor
    bias: torch.Tensor


Step = _Linear | nn.Module


def _steps(model: nn.Module) -> list[Step]:
    """The model as steps the block loop runs: a plain MLP layer by layer, else whole."""
    if not isinstance(model, MLP) or model.spec.crosses or _device(model).type != "cpu" \
            or any(p.dtype != torch.float32 for p in model.parameters()):
        return [model]
    steps: list[Step] = []
    for m in model.net:
        if isinstance(m, nn.Linear):
            bias = m.bias.detach().clone() if m.bias is not None else \
                torch.zeros(m.out_features)
            steps.append(_Linear(m.weight.detach().t().contiguous(), bias))
        elif isinstance(m, nn.Dropout):
            continue  # eval mode: the identity
        else:
            steps.append(m)
    return steps


def _device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def fold_scaling(layer: _Linear, center: np.ndarray, spread: np.ndarray) -> _Linear:
    """The first layer applied to ``(x - center) / spread`` as one layer applied to ``x``.

    ``W x' + b`` with ``x' = (x - c) / s`` is ``(W / s) x + (b - (W / s) c)``; computed in
    float64, rounded once to float32.

    Example
    -------
    >>> layer = _Linear(torch.tensor([[2.0], [1.0]]), torch.tensor([0.5]))  # 2 in, 1 out
    >>> f = fold_scaling(layer, np.array([1.0, -1.0]), np.array([2.0, 4.0]))
    >>> x = torch.tensor([[3.0, 7.0]])
    >>> torch.addmm(f.bias, x, f.weight_t).item(), (0.5 + 2.0 * 1.0 + 1.0 * 2.0)
    (4.5, 4.5)
    """
    w = layer.weight_t.double().numpy() / spread[:, None]  # (fan_in, fan_out)
    b = layer.bias.double().numpy() - center @ w
    return _Linear(torch.from_numpy(w).float().contiguous(), torch.from_numpy(b).float())


class Predictor:
    """Blocks of rows through a model's steps, with the linear scaling folded in when exact.

    Parameters
    ----------
    model : nn.Module
        In eval mode; read when the predictor is built, never changed.
    pre : Preprocessor
        The run's fitted preprocessor.
    chunk : int
        Rows per block.
    """

    def __init__(self, model: nn.Module, pre: Preprocessor, chunk: int) -> None:
        self.chunk = chunk
        self.steps = _steps(model)
        self.device = _device(model)
        self.pre = pre
        self.raw_ok = pre.all_numeric  # raw number arrays are taken in column order
        cols = pre.input_columns if self.raw_ok else []  # else: rows come from features()
        self.center = np.array([pre.center.get(c, 0.0) for c in cols], dtype=np.float64)
        self.spread = np.array([pre.spread.get(c, 1.0) for c in cols], dtype=np.float64)
        fill = [pre.fill.get(c) for c in cols]
        self.fill = torch.tensor([0.0 if v is None else v for v in fill], dtype=torch.float32)
        first = self.steps[0]
        self.folded = self.raw_ok and not pre.clip and isinstance(first, _Linear)
        self.first_raw: _Linear | None = fold_scaling(first, self.center, self.spread) \
            if self.folded and isinstance(first, _Linear) else None
        foldable = bool(pre.categorical) and isinstance(first, _Linear) \
            and max(len(v) for v in pre.categorical.values()) < 2**24  # codes exact in float32
        self.one_hot = OneHotFold(pre, first.weight_t, first.bias) \
            if foldable and isinstance(first, _Linear) else None

    def predict_frame(self, frame: pd.DataFrame, *, head: Head | None = None,
                      workers: int = 1) -> torch.Tensor:
        """:meth:`predict` of a frame's rows: with categorical inputs folded (``one_hot``),
        each row's category codes add first-layer rows; otherwise the preprocessor's
        features go through the model's steps."""
        if self.one_hot is None:
            feats = torch.from_numpy(self.pre.transform(frame))
            return self.predict(feats, raw=False, head=head, workers=workers)
        return self.predict(self.one_hot.encode(frame), raw=False, head=head, workers=workers,
                            coded=True)

    def predict(self, x: torch.Tensor | np.ndarray, *, raw: bool, head: Head | None = None,
                workers: int = 1, coded: bool = False) -> torch.Tensor:
        """``head(model(features))`` for rows ``x`` (n, d), as a new (n, k) CPU tensor.

        ``raw=True``: ``x`` holds raw numbers in input-column order (any float or integer
        dtype; missing values filled, scaling folded or applied per block). ``raw=False``:
        ``x`` is already preprocessed; ``coded=True``: ``x`` is :meth:`OneHotFold.encode`'s
        output (``one_hot`` must be set). ``workers`` threads take blocks from a shared queue,
        each block on one intra-op thread (no barrier per operation, so a busy core only
        slows the blocks it holds; and every block meets the same kernels whoever runs it).
        """
        n = x.shape[0]
        with threads.restoring(), torch.inference_mode():
            torch.set_num_threads(1)
            blocks = _Blocks(self, x, raw, head, coded)
            res = blocks.block(0)  # the first block sizes the output
            out = torch.empty(n, *res.shape[1:], dtype=res.dtype)
            m = min(self.chunk, n)
            out[:m] = res[:m]
            queue = _Queue(range(self.chunk, n, self.chunk))
            k = min(workers, len(queue.starts))
            if k <= 1:
                blocks.run(queue, out)
                return out
            with ThreadPoolExecutor(k - 1) as pool:
                helpers = [pool.submit(_helper, self, x, raw, head, coded, queue, out)
                           for _ in range(k - 1)]
                blocks.run(queue, out)  # an error stops the queue for every thread
                for h in helpers:
                    h.result()  # re-raises a helper's error (a refused value)
        return out

    def _scale(self, buf: torch.Tensor, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        """The raw block in ``buf`` filled (NaN -> training fill) and, unless folded, scaled."""
        if not bool(torch.isfinite(buf.sum())):  # NaN/inf: never a finite sum
            self._check(buf, x)
            torch.where(torch.isnan(buf), self.fill, buf, out=buf)
        if self.folded:
            return buf
        a = buf.numpy()  # the preprocessor's own float32 operations, in place
        a -= self.center.astype(np.float32)
        a /= self.spread.astype(np.float32)
        if self.pre.clip:
            a[:] = smooth_clip(a)
        return buf

    def _check(self, buf: torch.Tensor, x: torch.Tensor | np.ndarray) -> None:
        """Raise the preprocessor's error for a missing value it cannot fill or an infinite
        one (counted over the whole input, as the whole-array transform counts them)."""
        a = buf.numpy()
        fillable = np.array([self.pre.fill.get(c) is not None
                             for c in self.pre.input_columns])
        if np.isinf(a).any() or (np.isnan(a) & ~fillable).any():
            whole = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x
            self.pre.transform_array(whole)  # raises the message that names the column
            raise DataError("non-finite value in the input rows", hint="replace inf values")

    def _forward(self, block: torch.Tensor, raw: bool, bufs: dict[int, torch.Tensor],
                 coded: bool = False) -> torch.Tensor:
        h = block if self.device.type == "cpu" else block.to(self.device)
        owned = False  # h is one of this call's step buffers (free to change in place)
        for k, step in enumerate(self.steps):
            if k == 0 and coded and self.one_hot is not None:
                h, owned = self.one_hot.forward(h, bufs), True
                continue
            if k == 0 and raw and self.first_raw is not None:
                step = self.first_raw
            if isinstance(step, _Linear):
                o = bufs.get(k)
                if o is None:
                    o = bufs[k] = torch.empty(len(h), step.weight_t.shape[1])
                h, owned = torch.addmm(step.bias, h, step.weight_t, out=o), True
            elif isinstance(step, nn.ReLU) and owned:
                h = h.relu_()
            else:
                h, owned = step(h), False
        return h


class _Queue:
    """Block start rows handed out one at a time to the threads of one prediction."""

    def __init__(self, starts: range) -> None:
        self.starts, self.next, self.stop = starts, 0, False
        self.lock = threading.Lock()

    def take(self) -> int | None:
        with self.lock:
            if self.stop or self.next >= len(self.starts):
                return None
            self.next += 1
            return self.starts[self.next - 1]


class _Blocks:
    """One thread's buffers for a prediction: the (chunk, d) input block and each step's
    output, allocated once and reused for every block the thread takes."""

    def __init__(self, p: Predictor, x: torch.Tensor | np.ndarray, raw: bool,
                 head: Head | None, coded: bool = False) -> None:
        self.p, self.x, self.raw, self.head, self.coded = p, x, raw, head, coded
        self.buf = torch.zeros(p.chunk, x.shape[1])  # float32, 64-byte aligned
        self.outs: dict[int, torch.Tensor] = {}  # step index -> its output buffer

    def block(self, i: int) -> torch.Tensor:
        """``head(model(rows i .. i + chunk))`` for a full, zero-padded block."""
        p, buf = self.p, self.buf
        m = max(0, min(p.chunk, self.x.shape[0] - i))
        src = self.x[i:i + m]
        if isinstance(src, np.ndarray):
            np.copyto(buf.numpy()[:m], src, casting="unsafe")
        else:
            buf[:m].copy_(src)
        if m < p.chunk:
            buf[m:].zero_()
        block = p._scale(buf, self.x) if self.raw else buf
        res = p._forward(block, self.raw, self.outs, self.coded)
        return res if self.head is None else self.head(res)

    def run(self, queue: _Queue, out: torch.Tensor) -> None:
        try:
            while (i := queue.take()) is not None:
                m = min(self.p.chunk, len(out) - i)
                out[i:i + m] = self.block(i)[:m]
        except BaseException:
            queue.stop = True
            raise


def _helper(p: Predictor, x: torch.Tensor | np.ndarray, raw: bool, head: Head | None,
            coded: bool, queue: _Queue, out: torch.Tensor) -> None:
    with threads.restoring(), torch.inference_mode():  # both are per thread
        torch.set_num_threads(1)
        _Blocks(p, x, raw, head, coded).run(queue, out)


def same_params(a: Sequence[tuple[int, int, int]], model: nn.Module) -> bool:
    """Whether ``model``'s parameters are still the ones :func:`param_key` recorded."""
    return list(a) == param_key(model)


def param_key(model: nn.Module) -> list[tuple[int, int, int]]:
    """(identity, version counter, storage address) of each parameter and buffer: changes
    when a weight is updated in place, replaced or moved.

    Example
    -------
    >>> lin = nn.Linear(2, 1)
    >>> key = param_key(lin)
    >>> with torch.no_grad():
    ...     _ = lin.weight.mul_(2.0)
    >>> same_params(key, lin)
    False
    """
    return [(id(t), t._version, t.data_ptr())
            for t in [*model.parameters(), *model.buffers()]]


__all__ = ["Predictor", "fold_scaling", "param_key", "same_params"]
