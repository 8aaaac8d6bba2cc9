"""Shared fixtures: deterministic seeds and tiny datasets."""

from __future__ import annotations

import os
import random

import numpy as np
import pandas as pd
import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")
torch.set_num_threads(1)  # deterministic and no oversubscription on 2-core CI


@pytest.fixture(autouse=True)
def _seed() -> None:
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture
def tiny_csv(tmp_path):
    """A small mixed-type binary CSV: two numeric columns, one categorical, string labels."""
    rng = np.random.default_rng(0)
    n = 120
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    color = rng.choice(["red", "green", "blue"], size=n)
    label = np.where(x1 + 0.5 * x2 + (color == "red") > 0.3, "yes", "no")
    df = pd.DataFrame({"x1": x1, "x2": x2, "color": color, "label": label})
    path = tmp_path / "tiny.csv"
    df.to_csv(path, index=False)
    return path


def fast_cfg(**over):
    """A RunConfig dict for quick tests (few epochs, no progress bar)."""
    cfg = {"data": {"source": "gaussians", "n_samples": 200},
           "model": {"hidden": [4]}, "train": {"epochs": 30, "eval_every": 10},
           "log": {"quiet": True, "plots": False}}
    for k, v in over.items():
        cfg[k] = {**cfg.get(k, {}), **v} if isinstance(v, dict) else v
    return cfg
