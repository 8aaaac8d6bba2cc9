"""Figures draw a stratified sample of large splits and say so (issue 19 item 8)."""

from __future__ import annotations

import numpy as np

import mlplab
from mlplab.inspect.plots.view import PlotData
from mlplab.tasks import resolve_task

TASK = resolve_task("multiclass", n_classes=3, n_targets=1, loss="auto", output="logits")


def _data(n: int) -> PlotData:
    rng = np.random.default_rng(0)
    y = rng.choice(3, size=n, p=[0.7, 0.25, 0.05])
    X = np.c_[np.arange(n, dtype=np.float32), y.astype(np.float32)]  # row id, label
    return PlotData({"train": X, "test": X[:300]}, {"train": y, "test": y[:300]}, ["id", "c"],
                    ["a", "b", "c"], TASK)


def test_a_large_split_is_sampled_keeping_class_shares_and_row_order() -> None:
    full = _data(50_000)
    d = full.sample(1_000)
    X, y = d.X["train"], d.y["train"]
    assert len(X) == 1_000 and d.sampled == {"train": 50_000}
    ids = X[:, 0].astype(int)
    assert (np.diff(ids) > 0).all()  # original rows, in their order
    np.testing.assert_array_equal(y, full.y["train"][ids])  # labels stay with their rows
    share = np.bincount(full.y["train"], minlength=3) / 50_000
    assert np.abs(np.bincount(y, minlength=3) - 1_000 * share).max() <= 1  # stratified
    assert len(d.X["test"]) == 300 and "test" not in d.sampled  # small splits stay whole
    assert d.sample_note == ("Figures show a stratified sample (1,000 of 50,000 train rows); "
                             "the metrics use every row.")
    assert _data(500).sample(1_000).sample_note == ""


def test_the_report_says_its_figures_come_from_a_sample(tmp_path) -> None:
    from mlplab.inspect.report import write_report

    run = mlplab.train({"data": {"source": "moons", "n_samples": 300}, "model": {"hidden": [4]},
                        "train": {"epochs": 5, "early_stopping": "off"},
                        "log": {"quiet": True, "plots": False}}, out=tmp_path / "run")
    data = PlotData.from_prepared(mlplab.prepare(run.config), max_rows=100)
    html = write_report(run, data=data).read_text()
    assert "Figures show a stratified sample (100 of 240 train rows)" in html
    assert "the metrics use every row" in html
