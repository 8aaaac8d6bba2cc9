"""``notebook``: the training steps as cells, executed by a real kernel (nbclient + ipykernel),
end with the run's numbers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import mlplab
from mlplab.export import export
from mlplab.recipes import load_recipe, recipe_names

nbformat = pytest.importorskip("nbformat")


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", recipe_names())
def test_recipe_notebook_reproduces_the_run(name: str, tmp_path: Path, notebooks: Any) -> None:
    """Every recipe's notebook, executed top to bottom, ends with the run's numbers (epochs
    capped at 50 to keep the suite fast; the train-script test runs the full lengths on demand)."""
    cfg = load_recipe(name)
    cfg["train"] = {**cfg.get("train", {}), "epochs": 50, "eval_every": 10}
    cfg["log"] = {"plots": False, "quiet": True}
    run = mlplab.train(cfg, out=tmp_path / "run", progress=False)
    result = export(run, "notebook", tmp_path / "train.ipynb")
    nb = nbformat.read(result.path, as_version=4)
    kinds = [c.cell_type for c in nb.cells]
    assert kinds.count("markdown") == kinds.count("code") + 1  # an explanation before each
    done = notebooks.run(nbformat.read(result.path, as_version=4), str(result.path.parent))
    got = json.loads(notebooks.last_line(done.cells[-1]))
    key = "accuracy" if run.task.is_classification else "r2"
    for split in ("train", "val", "test"):
        want = run.metrics.get(split)
        if not want or not want.get("n", 1):
            continue
        # R² maps values back to the target's units: float32 vs float64 rounding, ~1e-9
        assert got[split][key] == pytest.approx(want[key], abs=1e-6 if key == "r2" else 0)
        if run.info["runner"] == "eager":
            assert got[split]["loss"] == want["loss"], split
        else:
            assert got[split]["loss"] == pytest.approx(want["loss"], rel=1e-3), split
