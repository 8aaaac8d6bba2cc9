"""``notebook``: the training steps as cells, executed by a real kernel (nbclient + ipykernel),
end with the run's numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mlplab
from mlplab.export import export
from mlplab.recipes import load_recipe, recipe_names

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")


def _execute(path: Path) -> dict:
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    last = nb.cells[-1].outputs[-1]["text"].strip().splitlines()[-1]
    return json.loads(last)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", [n for n in ("circles-relu", "blobs-4class")
                                  if n in recipe_names()])
def test_recipe_notebook_reproduces_the_run(name: str, tmp_path: Path) -> None:
    cfg = load_recipe(name)
    cfg["train"] = {**cfg.get("train", {}), "epochs": 50, "eval_every": 10}
    cfg["log"] = {"plots": False, "quiet": True}
    run = mlplab.train(cfg, out=tmp_path / "run", progress=False)
    result = export(run, "notebook", tmp_path / "train.ipynb")
    nb = nbformat.read(result.path, as_version=4)
    kinds = [c.cell_type for c in nb.cells]
    assert kinds.count("markdown") == kinds.count("code") + 1  # an explanation before each
    got = _execute(result.path)
    for split in ("train", "test"):
        assert got[split]["accuracy"] == run.metrics[split]["accuracy"]
        if run.info["runner"] == "eager":
            assert got[split]["loss"] == run.metrics[split]["loss"]
        else:
            assert got[split]["loss"] == pytest.approx(run.metrics[split]["loss"], rel=1e-3)
