"""The raw data of a run before splitting: features and target(s) with their original values.

Example
-------
>>> import pandas as pd
>>> t = Table(pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"y": [0, 1]}), "memory", "memory")
>>> t.X.shape, t.kind
((2, 1), 'memory')
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass
class Table:
    """Raw data before splitting: features and target(s) with their original values."""

    X: pd.DataFrame  # raw features, original column names (strings)
    y: pd.DataFrame  # target column(s), original values
    source: str  # dataset name or file path
    kind: str  # 'synthetic' | 'real' | 'file' (or 'memory' for in-memory data)


__all__ = ["Table"]
