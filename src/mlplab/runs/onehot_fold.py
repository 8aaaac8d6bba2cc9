"""Categorical inputs folded out of the first layer: category codes instead of one-hot columns.

Used by :class:`~mlplab.runs.predictor.Predictor` when a run has categorical inputs: the rows
are encoded once (:meth:`OneHotFold.encode`), then each block's first layer is the product of
the non-one-hot features plus one weight row per categorical column. Every row meets the same
operations on the same fixed-size block, so its result never depends on the other rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from mlplab.data import Preprocessor
from mlplab.data.encoders import warn_unseen


class OneHotFold:
    """The first layer (``x @ weight_t + bias``) over (other features, category codes).

    ``W x + b`` with one-hot blocks in ``x`` is ``W_d x_d + b`` plus, per categorical
    column, the row of ``W^T`` at the row's category (a one-hot column multiplies by 1 or 0),
    taken from ``table``: per column a zero row (an unseen category, all-zero one-hot) and
    then its categories' rows. Rows are encoded by :meth:`encode` as float32
    ``[x_d | codes]``; a code of up to 2**24 is exact in float32.

    Example
    -------
    >>> pre = Preprocessor.fit(pd.DataFrame({"c": ["a", "b"], "x": [0.0, 2.0]}))
    >>> weight_t = torch.tensor([[1.0], [2.0], [4.0]])  # (fan_in, fan_out): c=a, c=b, x
    >>> fold = OneHotFold(pre, weight_t, torch.tensor([0.5]))
    >>> fold.table[:, 0].tolist(), fold.offsets.tolist()  # zero row, c=a, c=b
    ([0.0, 1.0, 2.0], [1])
    >>> enc = fold.encode(pd.DataFrame({"c": ["b", "a"], "x": [2.0, 0.0]}))
    >>> enc.tolist()  # scaled x, code of c
    [[1.0, 1.0], [-1.0, 0.0]]
    >>> fold.forward(torch.from_numpy(enc), {})[:, 0].tolist()  # 0.5 + 4 x + (2 | 1)
    [6.5, -2.5]
    """

    def __init__(self, pre: Preprocessor, weight_t: torch.Tensor, bias: torch.Tensor) -> None:
        self.pre = pre
        dense: list[int] = []  # the first layer's input rows of the non-one-hot features
        rows: list[torch.Tensor] = []
        self.offsets_list: list[int] = []
        self.steps: list[tuple[str, Preprocessor | None]] = []  # per input column, in order
        zero = torch.zeros(1, weight_t.shape[1])
        j = 0
        for c in pre.input_columns:
            k = len(pre.categorical[c]) if c in pre.categorical else \
                len(pre.dates[c]["parts"]) if c in pre.dates else 1
            if c in pre.categorical:
                self.offsets_list.append(sum(len(r) for r in rows) + 1)
                rows += [zero, weight_t[j:j + k]]
                self.steps.append((c, None))
            else:
                dense += range(j, j + k)
                self.steps.append((c, _one_column(pre, c)))
            j += k
        self.dense_t = weight_t[dense].contiguous()  # (d, fan_out)
        self.table = torch.cat(rows).contiguous()  # (sum of (1 + k), fan_out)
        self.offsets = torch.tensor(self.offsets_list, dtype=torch.long)
        self.bias = bias
        self.d = len(dense)

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows -> float32 (n, d + categorical columns): the features :meth:`transform` gives
        the other columns, then each categorical column's codes (same checks, same order of
        errors, the same warning for unseen categories)."""
        frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
        if any(c not in frame.columns for c in self.pre.input_columns):
            self.pre.transform(frame.iloc[:0])  # raises the error naming the missing columns
        out = np.empty((len(frame), self.d + len(self.offsets_list)), dtype=np.float32)
        unseen: dict[str, tuple[int, list[str]]] = {}
        j, k = 0, self.d
        for c, one in self.steps:
            if one is None:
                out[:, k] = self.pre.codes(c, frame[c], unseen)
                k += 1
            else:
                vals = one.transform(frame[[c]])
                out[:, j:j + vals.shape[1]] = vals
                j += vals.shape[1]
        warn_unseen(unseen, stacklevel=3)
        return out

    def forward(self, block: torch.Tensor, bufs: dict[int, torch.Tensor]) -> torch.Tensor:
        """The first layer's output for an encoded block, into ``bufs[0]``."""
        n = len(block)
        o = bufs.get(0)
        if o is None:
            o = bufs[0] = torch.empty(n, self.table.shape[1])
            bufs[-1] = torch.empty(n, len(self.offsets_list), dtype=torch.long)
            bufs[-2] = torch.empty(n, self.table.shape[1])
        idx, row = bufs[-1], bufs[-2]
        torch.addmm(self.bias, block[:, :self.d], self.dense_t, out=o)
        idx.copy_(block[:, self.d:])  # the codes, exact integers
        idx += self.offsets  # -1 (unseen) -> the column's zero row
        for i in range(idx.shape[1]):
            torch.index_select(self.table, 0, idx[:, i], out=row)
            o += row
        return o


def _one_column(pre: Preprocessor, c: str) -> Preprocessor:
    """The preprocessor of column ``c`` alone (same fields, so the same values)."""
    return Preprocessor(
        input_columns=[c], numeric=[c] if c in pre.numeric else [], categorical={},
        scale=pre.scale, impute=pre.impute, center=pre.center, spread=pre.spread,
        fill={k: v for k, v in pre.fill.items() if k not in pre.categorical},
        dates={c: pre.dates[c]} if c in pre.dates else None,
        durations=[c] if c in pre.durations else None, na_values=pre.na_values,
        decimal=pre.decimal)


__all__ = ["OneHotFold"]
