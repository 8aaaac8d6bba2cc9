"""Grid and random sweeps: batched members, selection on a validation split, the best
configuration by mean over seeds, options that write into member folders."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

import mlplab
from mlplab.errors import ConfigError
from mlplab.search.results import SweepResult
from mlplab.search.spaces import expand_grid, sample_space
from mlplab.search.sweep import sweep

BASE = {"data": {"source": "moons", "n_samples": 120}, "model": {"hidden": [6]},
        "optim": {"name": "sgd", "lr": 0.3}, "train": {"epochs": 30, "eval_every": 10},
        "log": {"quiet": True, "plots": False}}


def test_grid_members_equal_solo_runs_ranked_on_validation(tmp_path):
    """Every grid point is trained (batched by shape), holds out the validation split the
    sweep added, equals its solo run, and is ranked on it; test scores appear only for the
    chosen configuration, as the mean over its seeds."""
    plots = {**BASE, "log": {"quiet": True, "plots": True}}  # the sweep's grid figure too
    res = sweep(plots, grid={"optim.lr": [0.1, 0.5], "model.hidden": [[4], [6, 3]],
                             "seed": range(2)}, out=tmp_path / "sw")
    assert len(res.runs) == 8 and res.n_batched == 8 and res.metric == "val_accuracy"
    assert "val_size=0.2" in res.notes[0]
    assert all(r.config.data.val_size == 0.2 and r.info["n_val"] == 24 for r in res.runs)
    t = res.table
    assert list(t.columns[:5]) == ["member", "optim.lr", "model.hidden", "seed", "state"]
    assert not [c for c in t.columns if c.startswith("test_")]
    k = 5  # lr 0.5, hidden [4], seed 1
    assert (t.loc[k, "optim.lr"], t.loc[k, "model.hidden"], t.loc[k, "seed"]) == (0.5, "[4]", 1)
    solo = mlplab.train({**BASE, "seed": 1, "optim": {"name": "sgd", "lr": 0.5},  # one network,
                         "model": {"hidden": [4], "ensemble": 1},  # as a sweep member is
                         "data": {**BASE["data"], "val_size": 0.2}},
                        save=False)
    assert t.loc[k, "val_loss"] == pytest.approx(solo.metrics["val"]["loss"], rel=1e-4)
    assert res.runs[k].metrics["test"]["loss"] == pytest.approx(solo.metrics["test"]["loss"],
                                                                rel=1e-4)
    assert res.ranked()[res.metric].is_monotonic_decreasing
    # the best configuration: the best mean over seeds, computed here by hand
    means: dict[tuple[float, str], list[float]] = {}
    for r in res.runs:
        key = (r.config.optim.lr, str(r.config.model.hidden))
        means.setdefault(key, []).append(r.metrics["val"]["accuracy"])
    top = max(means, key=lambda key: sum(means[key]) / 2)
    best = res.best
    assert (best.params["optim.lr"], str(best.params["model.hidden"])) == top
    assert best.mean == pytest.approx(sum(means[top]) / 2) and best.count == 2
    mine = [r for r in res.runs if (r.config.optim.lr, str(r.config.model.hidden)) == top]
    assert best.test["test_accuracy"] == pytest.approx(
        sum(r.metrics["test"]["accuracy"] for r in mine) / 2)
    # files: normal run dirs, a ranked summary without test columns, best.json, the figure
    out = tmp_path / "sw"
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 8 and not [c for c in summary if c.startswith("test_")]
    saved = json.loads((out / "best.json").read_text())
    assert saved["members"] == best.members
    assert saved["test"]["test_accuracy"] == pytest.approx(best.test["test_accuracy"])
    back = mlplab.load(summary["path"][0])
    assert back.metrics["val"]["accuracy"] == pytest.approx(summary[res.metric][0])
    assert (out / "boundaries.png").stat().st_size > 1000


def test_best_is_the_best_mean_not_the_luckiest_member():
    """Regression: `res.best` was the single luckiest member. Config A has the best member
    (1.0) but the worse mean (0.75); config B's mean is 0.8."""
    rows = [{"member": f"m{i}", "optim.lr": lr, "seed": s, "state": "complete",
             "val_accuracy": v, "test_accuracy": v - 0.1}
            for i, (lr, s, v) in enumerate([(0.1, 0, 1.0), (0.1, 1, 0.5), (0.5, 0, 0.8),
                                            (0.5, 1, 0.8)])]
    rows.append({"member": "m4", "optim.lr": 0.9, "seed": 0, "state": "pruned",
                 "val_accuracy": 0.99})
    res = SweepResult(["optim.lr", "seed"], rows, "val_accuracy")
    assert res.ranked()["member"].tolist() == ["m0", "m2", "m3", "m1", "m4"]
    best = res.best
    assert best.params == {"optim.lr": 0.5} and best.members == ["m2", "m3"]
    assert (best.mean, best.std, best.count) == (pytest.approx(0.8), 0.0, 2)
    assert best.test == {"test_accuracy": pytest.approx(0.7)}
    assert "optim.lr=0.5" in best.describe() and "over 2 member(s)" in best.describe()


def test_selection_metrics_checked_before_anything_trains(tmp_path):
    """Ranking on the test split, or on a metric that does not exist, is refused up front
    with nothing written; a validation metric works without a validation split in the base."""
    for metric, match in [("test_accuracy", "does not rank members on the test split"),
                          ("val_accuracyy", "unknown sweep metric")]:
        with pytest.raises(ConfigError, match=match):
            sweep(BASE, grid={"seed": [0]}, metric=metric, out=tmp_path / "no")
        assert not (tmp_path / "no").exists()
    res = sweep({**BASE, "data": {**BASE["data"], "val_size": 0.3}}, grid={"seed": [0]},
                metric="val_loss")
    assert res.notes == [] and res.runs[0].info["n_val"] == 36 and not res.higher_is_better


def test_unbatchable_configs_train_alone():
    """Configs an ensemble cannot run (here a cosine schedule) fall back to solo training."""
    res = sweep(BASE, grid={"schedule.name": ["none", "cosine"]})
    assert res.n_batched == 1
    assert res.runs[1].info["runner"] != "ensemble"


def test_per_run_logging_is_written_into_member_folders_or_refused(tmp_path):
    """Regression: log.tensorboard and log.checkpoint_every turned batching off, yet members
    got no events and no checkpoints while their config.yaml said tensorboard: true."""
    cfg = {**BASE, "log": {**BASE["log"], "tensorboard": True, "checkpoint_every": 10}}
    res = sweep(cfg, grid={"seed": [0, 1]}, out=tmp_path / "sw")
    assert res.n_batched == 0
    for r in res.runs:
        assert r.config.log.tensorboard
        events = list((r.path / "tensorboard").rglob("events.out.tfevents.*"))
        assert events and events[0].stat().st_size > 0
        assert list((r.path / "checkpoints").iterdir())
    with pytest.raises(ConfigError, match=r"log\.tensorboard writes into each member's run"):
        sweep(cfg, grid={"seed": [0]})


def test_random_space_and_errors():
    draws = sample_space({"optim.lr": {"low": 0.01, "high": 1.0, "log": True},
                          "model.hidden": [[4], [8, 8]], "train.epochs": {"low": 5,
                                                                          "high": 9}}, 20, 1)
    assert all(0.01 <= d["optim.lr"] <= 1.0 and 5 <= d["train.epochs"] <= 9 for d in draws)
    assert {str(d["model.hidden"]) for d in draws} == {"[4]", "[8, 8]"}
    assert sample_space({"seed": [1, 2]}, 3, 7) == sample_space({"seed": [1, 2]}, 3, 7)
    assert expand_grid({"a": [1], "b": [2, 3]}) == [{"a": 1, "b": 2}, {"a": 1, "b": 3}]
    with pytest.raises(ConfigError, match="no values"):
        expand_grid({"seed": []})
    with pytest.raises(ConfigError, match="unknown config key"):
        sweep(BASE, grid={"optim.lrr": [0.1]})
    with pytest.raises(ConfigError, match="bad search space"):
        sample_space({"optim.lr": {"low": 1}}, 1)
    res = sweep(BASE, space={"optim.lr": {"low": 0.05, "high": 0.5}}, n_random=3)
    assert len(res.rows) == 3 and all(math.isfinite(v) for v in res.table["val_accuracy"])


def test_cli_grid_prints_ranking_and_best_configuration(tmp_path, capsys):
    """`mlplab sweep KEY=VALUES ...` prints a ranked table and the best configuration with
    its test score, and writes normal run dirs; mistakes are one `error:` line."""
    from mlplab.cli.commands.sweep import parse_spec
    from mlplab.cli.main import main

    assert parse_spec("hidden=8,8|16") == ("model.hidden", [[8, 8], [16]])
    assert parse_spec("seed=0:3") == ("seed", [0, 1, 2])
    cfg = tmp_path / "base.yaml"
    cfg.write_text("data: {source: moons, n_samples: 120}\ntrain: {epochs: 20}\n"
                   "optim: {name: sgd}\n")
    code = main(["sweep", "-c", str(cfg), "--grid", "lr=0.1,0.5", "seed=0:2", "hidden=4|6,3",
                 "--metric", "val_accuracy", "--out", str(tmp_path / "sw")])
    assert code == 0
    captured = capsys.readouterr()
    assert "ranked by val_accuracy" in captured.out and "over seeds" in captured.out
    assert "best configuration: optim.lr=" in captured.out and "test_accuracy" in captured.out
    assert "note: no validation split" in captured.err
    summary = pd.read_csv(tmp_path / "sw" / "summary.csv")
    assert len(summary) == 8 and set(summary["state"]) == {"complete"}
    assert all((tmp_path / "sw" / p.split("/")[-1] / "model.safetensors").is_file()
               for p in summary["path"])
    assert main(["sweep", "-c", str(cfg), "lr"]) == 2
    assert "bad sweep spec" in capsys.readouterr().err
    assert main(["sweep", "-c", str(cfg), "seed=0:2", "--metric", "test_accuracy",
                 "--out", str(tmp_path / "no")]) == 2
    assert capsys.readouterr().err.startswith("error: a sweep does not rank members on the test")
    assert not (tmp_path / "no").exists()


def test_a_diverging_member_fails_alone():
    """A member whose loss becomes inf is recorded as failed, with the reason; the sweep goes
    on and chooses among the others (a step schedule makes these members train alone)."""
    cfg = {"data": {"source": "linear", "n_samples": 100, "scale": "none"},
           "model": {"hidden": [4]}, "optim": {"name": "sgd"}, "schedule": {"name": "step"},
           "train": {"epochs": 30, "eval_every": 10}, "log": {"quiet": True}}
    res = sweep(cfg, grid={"optim.lr": [0.001, 5.0]})
    ranked = res.ranked()
    assert ranked["state"].tolist() == ["complete", "fail"] and len(res.runs) == 1
    assert ranked["stop_reason"][1].startswith("training diverged: the loss became")
    assert res.best.params == {"optim.lr": 0.001} and res.metric == "val_r2"


def test_a_diverging_stacked_member_fails_as_a_solo_one():
    """The same sweep without the schedule trains both members stacked: the diverging one
    is recorded exactly as when it trains alone (fail, the solo run's error message)."""
    cfg = {"data": {"source": "linear", "n_samples": 100, "scale": "none"},
           "model": {"hidden": [4]}, "optim": {"name": "sgd"},
           "train": {"epochs": 30, "eval_every": 10}, "log": {"quiet": True}}
    res = sweep(cfg, grid={"optim.lr": [0.001, 5.0]})
    ranked = res.ranked()
    assert res.n_batched == 2 and len(res.runs) == 1
    assert ranked["state"].tolist() == ["complete", "fail"]
    assert ranked["stop_reason"][1].startswith("training diverged: the loss became")


def test_members_whose_auto_stopping_adds_a_plateau_train_alone():
    """Regression: "auto" stopping on mini-batches resolves to a plateau schedule, which the
    stacked runner refuses; the sweep decides on the resolved config, so such members train
    alone, with the schedule their solo run gets, instead of stacked without it."""
    cfg = {"data": {"source": "moons", "n_samples": 200, "val_size": 0.2},
           "train": {"epochs": 6, "batch_size": 32, "early_stopping": "auto", "eval_every": 2},
           "log": {"quiet": True}}
    res = sweep(cfg, grid={"optim.lr": [0.01, 0.05]})
    assert res.n_batched == 0
    assert [r.config.schedule.name for r in res.runs] == ["plateau", "plateau"]


def test_log_plots_off_skips_the_boundary_grid(tmp_path):
    """`--set log.plots=false` on the base config: the members' run directories and the
    summary are written, the (slowest) file, boundaries.png, is not."""
    base = {"data": {"source": "moons", "n_samples": 120}, "model": {"hidden": [4]},
            "train": {"epochs": 20}, "log": {"quiet": True, "plots": False}}
    res = mlplab.sweep(base, grid={"seed": [0, 1]}, out=tmp_path / "sw")
    assert (tmp_path / "sw" / "summary.csv").is_file()
    assert all((r.path / "model.json").is_file() for r in res.runs)
    assert not (tmp_path / "sw" / "boundaries.png").exists()
