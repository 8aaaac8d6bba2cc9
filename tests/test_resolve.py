"""One resolution stage (mlplab.resolve): a saved config.yaml holds no "auto" (a default run,
a streamed run, a sweep member), trains again to the same weights, and resolving twice changes
nothing (issue 29)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import yaml

import mlplab
from mlplab.config import RunConfig, flatten
from mlplab.resolve import Facts, resolve, unresolved

QUIET = {"log": {"quiet": True, "plots": False}}
# train.fast stays a runner policy: "auto" picks the fused runner exactly where it is bitwise
# equal to the eager one, so either choice trains the same weights (see resolve's docstring)
POLICIES = {"train.fast"}


def _autos(run_dir: Path) -> dict[str, Any]:
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    return {k: v for k, v in flatten(saved).items() if v == "auto" and k not in POLICIES}


def test_a_default_run_saves_no_auto_and_its_config_trains_the_same_weights(tmp_path):
    """Regression: the saved config.yaml said task/loss/batch_size/device/stream "auto";
    `mlplab train --config <saved config.yaml>` must repeat the run bit for bit."""
    from mlplab.cli.main import main

    first = tmp_path / "first"
    assert main(["train", "--data", "moons", "--epochs", "40", "--hidden", "8", "-q",
                 "--out", str(first)]) == 0
    assert _autos(first) == {}
    again = tmp_path / "again"
    assert main(["train", "--config", str(first / "config.yaml"), "-q",
                 "--out", str(again)]) == 0
    assert (again / "config.yaml").read_text() == (first / "config.yaml").read_text()
    a, b = mlplab.load(first).model.state_dict(), mlplab.load(again).model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_streamed_run_saves_no_auto(tmp_path):
    """The streamed branch goes through the same stage: mini-batches of 1024 unless set,
    no stopping without a validation split, the default decay per step."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 2))
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "label": (X[:, 0] > 0).astype(int)}).to_csv(
        tmp_path / "t.csv", index=False)
    run = mlplab.train({"data": {"source": str(tmp_path / "t.csv"), "target": "label",
                                 "stream": True, "chunk_rows": 1000},
                        "model": {"hidden": [4]}, "train": {"epochs": 2}, **QUIET},
                       out=tmp_path / "run")
    assert run.info["runner"] == "stream"
    assert _autos(tmp_path / "run") == {}
    cfg = run.config
    assert cfg.train.batch_size == 1024 and cfg.train.early_stopping is None
    assert cfg.data.stream is True and cfg.optim.weight_decay == 0.5 / 3  # 2400 rows: 3 steps


def test_a_sweep_member_saves_no_auto(tmp_path):
    res = mlplab.sweep({"data": {"source": "circles", "n_samples": 200},
                        "model": {"hidden": [4]}, "train": {"epochs": 20}, **QUIET},
                       grid={"optim.lr": [0.01, 0.1]}, out=tmp_path / "sw")
    members = sorted(p for p in (tmp_path / "sw").iterdir() if (p / "config.yaml").is_file())
    assert len(members) == 2 and res is not None
    for m in members:
        assert _autos(m) == {}


def test_resolving_a_resolved_config_changes_nothing():
    facts = Facts(n_train=20_000, has_val=True, task="multiclass", n_classes=3, n_rows=25_000,
                  device="cpu")
    once = resolve(RunConfig(), facts)
    assert unresolved(once) == [] and resolve(once, facts) == once
    assert once.loss == "cross_entropy" and once.train.batch_size == 1024
