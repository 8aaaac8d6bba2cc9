"""A run directory's life (mlplab.runs.lifecycle): an earlier run is never removed before the
run that replaces it is complete."""

from __future__ import annotations

from pathlib import Path

import pytest

import mlplab
from mlplab.errors import RunError
from mlplab.training.callbacks import Callback

CFG = {"data": {"source": "moons", "n_samples": 120}, "model": {"hidden": [4]},
       "train": {"epochs": 20, "eval_every": 5}, "log": {"quiet": True, "plots": False}}


def _files(d: Path) -> dict[str, bytes]:
    return {str(f.relative_to(d)): f.read_bytes() for f in sorted(d.rglob("*")) if f.is_file()}


class FailAt(Callback):
    """Raises at the evaluation of epoch ``epoch``: training stops with an error mid-run."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_eval(self, state, row):  # type: ignore[no-untyped-def]
        if state.epoch >= self.epoch:
            raise RuntimeError("callback failed mid-training")


def test_an_error_mid_training_with_overwrite_leaves_the_earlier_run(tmp_path: Path) -> None:
    """Regression (issue 29): overwrite=True emptied the directory when training began, so a
    crash lost the earlier run as well as the new one."""
    out = tmp_path / "run"
    mlplab.train(CFG, out=out)
    before = _files(out)
    with pytest.raises(RuntimeError, match="mid-training"):
        mlplab.train({**CFG, "seed": 7}, out=out, overwrite=True, callbacks=[FailAt(10)])
    assert _files(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no half-written sibling left
    assert mlplab.load(out).metrics == mlplab.load(out).metrics  # still loads


def test_overwrite_replaces_the_run_once_it_is_complete(tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = mlplab.train(CFG, out=out)
    second = mlplab.train({**CFG, "seed": 7}, out=out, overwrite=True)
    assert second.path == out and first.path == out
    assert mlplab.load(out).config.seed == 7
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_run_save_with_overwrite_swaps_the_directory(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run = mlplab.train(CFG, save=False)
    run.save(out)
    (out / "notes.txt").write_text("left by the earlier run")
    run.save(out, overwrite=True)
    assert not (out / "notes.txt").exists() and (out / "model.json").is_file()
    with pytest.raises(RunError, match="exists and is not empty"):
        run.save(out)


def test_an_unfinished_run_is_refused_without_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.yaml").write_text("seed: 1\n")
    with pytest.raises(RunError, match="holds an unfinished run"):
        mlplab.train(CFG, out=out)
    with pytest.raises(RunError, match="holds an unfinished run"):
        mlplab.train(CFG, save=False).save(out)
