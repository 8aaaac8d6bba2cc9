"""Sweeps: grids and random spaces over dotted paths, batched members, Optuna studies."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pandas as pd
import pytest

import mlplab
from mlplab.errors import ConfigError
from mlplab.search.sweep import expand_grid, optuna_sweep, sample_space, sweep

BASE = {"data": {"source": "moons", "n_samples": 120}, "model": {"hidden": [6]},
        "optim": {"name": "sgd", "lr": 0.3}, "train": {"epochs": 30, "eval_every": 10},
        "log": {"quiet": True, "plots": False}}


def test_grid_members_equal_solo_runs_and_table(tmp_path):
    """Every grid point is trained (batched by shape) and equals its solo run; the table,
    ranking, seed summary and run directories follow."""
    res = sweep(BASE, grid={"optim.lr": [0.1, 0.5], "model.hidden": [[4], [6, 3]],
                            "seed": range(2)}, out=tmp_path / "sw")
    assert len(res.runs) == 8 and res.n_batched == 8
    t = res.table
    assert list(t.columns[:4]) == ["member", "optim.lr", "model.hidden", "seed"]
    k = 5  # lr 0.5, hidden [4], seed 1
    assert (t.loc[k, "optim.lr"], t.loc[k, "model.hidden"], t.loc[k, "seed"]) == (0.5, "[4]", 1)
    solo = mlplab.train({**BASE, "seed": 1, "optim": {"name": "sgd", "lr": 0.5},
                         "model": {"hidden": [4]}}, save=False)
    assert t.loc[k, "test_loss"] == pytest.approx(solo.metrics["test"]["loss"], rel=1e-4)
    ranked = res.ranked()
    assert ranked[res.metric].is_monotonic_decreasing
    s = res.summary()
    assert len(s) == 4 and set(s["count"]) == {2}
    row = s[(s["optim.lr"] == 0.5) & (s["model.hidden"] == "[4]")].iloc[0]
    assert row["mean"] == pytest.approx(t[(t["optim.lr"] == 0.5) & (t["model.hidden"] == "[4]")]
                                        [res.metric].mean())
    summary = pd.read_csv(tmp_path / "sw" / "summary.csv")
    assert len(summary) == 8 and (tmp_path / "sw" / "boundaries.png").stat().st_size > 1000
    back = mlplab.load(summary["path"][0])
    assert back.metrics["test"]["accuracy"] == pytest.approx(summary[res.metric][0])


def test_unbatchable_configs_train_alone():
    """Configs an ensemble cannot run (here rmsprop) fall back to solo training."""
    res = sweep(BASE, grid={"optim.name": ["sgd", "rmsprop"]})
    assert res.n_batched == 1
    assert [r.info["runner"] for r in res.runs][1] in ("eager", "fast")


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


def test_optuna_study_with_pruning(tmp_path):
    res = optuna_sweep(BASE, {"optim.lr": {"low": 0.01, "high": 1.0, "log": True}}, 6,
                       storage=tmp_path / "s.journal", study_name="t", batch=3)
    assert len(res.runs) == 6 and res.n_batched == 6
    import optuna

    from mlplab.search.sweep import optuna_storage

    study = optuna.load_study(study_name="t", storage=optuna_storage(tmp_path / "s.journal",
                                                                     tmp_path))
    assert len(study.trials) == 6
    assert study.best_value == pytest.approx(max(res.table[res.metric][
        [s != "pruned" for s in res.table["stop_reason"]]]))


def test_two_worker_processes_share_one_study(tmp_path):
    """Two processes run trials against one journal file; the study holds all of them."""
    journal = tmp_path / "shared.journal"
    code = textwrap.dedent(f"""
        import torch; torch.set_num_threads(1)
        from mlplab.search.sweep import optuna_sweep
        optuna_sweep({BASE!r}, {{"optim.lr": {{"low": 0.01, "high": 1.0, "log": True}}}}, 4,
                     storage={str(journal)!r}, study_name="shared", batch=2)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)
             for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err.decode()[-2000:]
    import optuna

    from mlplab.search.sweep import optuna_storage

    study = optuna.load_study(study_name="shared", storage=optuna_storage(journal, tmp_path))
    assert len(study.trials) == 8
    assert len({t.number for t in study.trials}) == 8
    assert all(t.state.is_finished() for t in study.trials)


def test_cli_grid_writes_members_summary_and_figure(tmp_path, capsys):
    """`mlplab sweep KEY=VALUES ...` prints a ranked table and writes normal run dirs."""
    from mlplab.cli.commands.sweep import parse_spec
    from mlplab.cli.main import main

    assert parse_spec("hidden=8,8|16") == ("model.hidden", [[8, 8], [16]])
    assert parse_spec("seed=0:3") == ("seed", [0, 1, 2])
    cfg = tmp_path / "base.yaml"
    cfg.write_text("data: {source: moons, n_samples: 120}\ntrain: {epochs: 20}\n"
                   "optim: {name: sgd}\n")
    code = main(["sweep", "-c", str(cfg), "--grid", "lr=0.1,0.5", "seed=0:2", "hidden=4|6,3",
                 "--out", str(tmp_path / "sw")])
    assert code == 0
    text = capsys.readouterr().out
    assert "ranked by test_accuracy" in text and "over seeds" in text
    summary = pd.read_csv(tmp_path / "sw" / "summary.csv")
    assert len(summary) == 8
    assert all((tmp_path / "sw" / p.split("/")[-1] / "model.safetensors").is_file()
               for p in summary["path"])
    assert (tmp_path / "sw" / "boundaries.png").is_file()
    assert main(["sweep", "-c", str(cfg), "lr"]) == 2
    assert "bad sweep spec" in capsys.readouterr().err
