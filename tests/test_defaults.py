"""Training stops on its own by default: the automatic validation split, the patience, the
restored best weights, the off switch, the summary line, and the recipes left alone; the
default weight decay per epoch and the plateau schedule auto stopping brings on mini-batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mlplab
from mlplab.config import RunConfig, parse_value, with_overrides
from mlplab.errors import ConfigError
from mlplab.pipeline import prepare
from mlplab.recipes import load_recipe, recipe_names
from mlplab.resolve import AUTO_VAL_FRACTION, AUTO_VAL_MIN_ROWS, Facts, auto_patience, resolve
from mlplab.resolve import val_size as auto_val_size

QUIET = {"log": {"quiet": True, "plots": False}}
# a noisy table: 20% of the labels flipped, a wide net and a high rate overfit it quickly
NOISY = {"data": {"source": "moons", "n_samples": 800, "noise": 0.3, "label_noise": 0.2},
         "model": {"hidden": [256], "ensemble": 1}, "optim": {"lr": 0.05, "weight_decay": 0.0},
         "train": {"epochs": 600}, **QUIET}


@pytest.fixture(scope="module")
def stopped() -> mlplab.Run:
    return mlplab.train(RunConfig.from_dict(NOISY), save=False, progress=False)


def test_noisy_table_stops_early_on_the_validation_loss_and_keeps_the_best_epoch(stopped):
    history = stopped.history
    val = [row["val_loss"] for row in history]
    best_epoch = stopped.info["best_epoch"]
    assert stopped.info["epochs_run"] < 600  # it stopped before the maximum
    assert best_epoch == history[int(np.argmin(val))]["epoch"]  # the lowest validation loss
    patience = auto_patience(1, 10)  # 640 training rows: full batch, one step per epoch
    assert stopped.info["epochs_run"] == best_epoch + 10 * patience
    assert stopped.info["summary"] == (f"stopped at epoch {stopped.info['epochs_run']} of 600 "
                                       f"(best {best_epoch})")


def test_the_restored_weights_are_those_of_a_run_that_trains_exactly_to_the_best_epoch(stopped):
    best_epoch = stopped.info["best_epoch"]
    by_hand = with_overrides(RunConfig.from_dict(NOISY), {
        "train.early_stopping": "off", "train.epochs": best_epoch,
        "data.val_size": round(AUTO_VAL_FRACTION * 0.8, 6)})  # the same split, no stopping
    ref = mlplab.train(by_hand, save=False, progress=False)
    assert ref.info["epochs_run"] == best_epoch and ref.info["best_epoch"] is None
    ours, theirs = stopped.model.state_dict(), ref.model.state_dict()
    assert ours.keys() == theirs.keys()
    for key in ours:
        torch.testing.assert_close(ours[key], theirs[key], rtol=0, atol=0)
    assert stopped.metrics["test"]["accuracy"] == ref.metrics["test"]["accuracy"]


@pytest.mark.parametrize("word", ["off", "false", "0", "none", "no", "Off", "null"])
def test_every_off_spelling_turns_stopping_and_its_split_off(word):
    cfg = with_overrides(RunConfig(), {"train.early_stopping": parse_value(word)})
    assert cfg.train.early_stopping is None
    assert auto_val_size(cfg, 10_000) == 0.0


@pytest.mark.parametrize(("word", "expected"), [("on", "auto"), ("true", "auto"),
                                                 ("auto", "auto"), ("25", 25), ("1", 1)])
def test_on_spellings_and_a_patience(word, expected):
    cfg = with_overrides(RunConfig(), {"train.early_stopping": parse_value(word)})
    assert cfg.train.early_stopping == expected


def test_a_negative_patience_is_a_config_error():
    with pytest.raises(ConfigError, match="early_stopping"):
        RunConfig.from_dict({"train": {"early_stopping": -3}})


def test_off_trains_every_epoch_on_every_training_row():
    cfg = RunConfig.from_dict({**NOISY, "train": {"epochs": 30, "early_stopping": "off"}})
    run = mlplab.train(cfg, save=False, progress=False)
    assert run.info["epochs_run"] == 30 and run.info["summary"] == "completed 30 epochs"
    assert run.info["n_val"] == 0 and run.info["n_train"] == 640


def test_tiny_tables_get_no_validation_split_and_larger_ones_a_stratified_one():
    # 100 rows: 80 to fit, 10% of them is 8 < AUTO_VAL_MIN_ROWS validation rows
    tiny = prepare(RunConfig.from_dict({"data": {"source": "moons", "n_samples": 100}}))
    assert len(tiny.split.val) == 0 and tiny.cfg.data.val_size == 0.0
    assert AUTO_VAL_MIN_ROWS == 10
    iris = prepare(RunConfig.from_dict({"data": {"source": "iris"}}))  # 120 to fit: 12
    assert len(iris.split.val) == 12 and sorted(np.bincount(iris.y["val"])) == [4, 4, 4]
    untrained = prepare(RunConfig.from_dict({"data": {"source": "iris"},
                                             "train": {"epochs": 0}}))
    assert len(untrained.split.val) == 0  # nothing to stop: every row is scored
    cancer = prepare(RunConfig.from_dict({"data": {"source": "breast_cancer"}}))
    n = len(cancer.y["train"]) + len(cancer.y["val"]) + len(cancer.y["test"])
    assert len(cancer.y["val"]) == round(0.08 * n)  # 10% of the 80% left for training
    share = {s: float(np.mean(cancer.y[s])) for s in ("train", "val")}
    assert share["val"] == pytest.approx(share["train"], abs=1.5 / len(cancer.y["val"]))


def test_the_cli_prints_the_summary_line(tmp_path, capsys):
    from mlplab.cli.main import main

    code = main(["train", "--data", "moons", "--set", "data.n_samples=800",
                 "--set", "data.label_noise=0.2", "--set", "model.hidden=[256]",
                 "--set", "model.ensemble=1",
                 "--set", "optim.lr=0.05", "--set", "optim.weight_decay=0",
                 "--epochs", "600", "--set", "log.plots=false", "-o", str(tmp_path / "r")])
    assert code == 0
    out = capsys.readouterr().out
    run = mlplab.load(tmp_path / "r")
    assert run.info["summary"].startswith("stopped at epoch ")
    assert run.info["summary"] in out


def test_the_recipes_keep_their_tutorial_settings():
    for name in recipe_names():
        cfg = RunConfig.from_dict(load_recipe(name))
        assert cfg.train.early_stopping is None, name
        assert auto_val_size(cfg, 100_000) == cfg.data.val_size == 0.0, name


def test_the_default_weight_decay_is_per_epoch_and_what_the_run_trains_with():
    """AdamW's unset weight decay becomes 0.5 per epoch: 0.5 on a full batch, 0.5 / steps
    on mini-batches; the saved config holds it, and setting that number by hand trains the
    same weights bit for bit (so exports and resumes repeat the run)."""
    base = {"data": {"source": "moons", "n_samples": 1000}, "model": {"hidden": [16]},
            "train": {"epochs": 15, "early_stopping": "off"}, **QUIET}
    full = prepare(RunConfig.from_dict(base))
    assert full.cfg.optim.weight_decay == 0.5
    mini = {**base, "train": {**base["train"], "batch_size": 100}}  # 800 rows: 8 steps
    p = prepare(RunConfig.from_dict(mini))
    assert p.cfg.optim.weight_decay == 0.5 / 8
    sgd = prepare(RunConfig.from_dict({**mini, "optim": {"name": "sgd"}}))
    assert sgd.cfg.optim.weight_decay is None  # plain SGD stays plain, as in the tutorials
    ours = mlplab.train(RunConfig.from_dict(mini), save=False, progress=False)
    assert ours.config.optim.weight_decay == 0.5 / 8
    by_hand = RunConfig.from_dict({**mini, "optim": {"weight_decay": 0.5 / 8}})
    ref = mlplab.train(by_hand, save=False, progress=False)
    other = mlplab.train(RunConfig.from_dict({**mini, "optim": {"weight_decay": 0.5}}),
                         save=False, progress=False)
    for key, value in ours.model.state_dict().items():
        torch.testing.assert_close(value, ref.model.state_dict()[key], rtol=0, atol=0)
    assert any(not torch.equal(v, other.model.state_dict()[k])
               for k, v in ours.model.state_dict().items())


def test_auto_stopping_on_mini_batches_also_halves_the_rate_on_a_plateau():
    """On mini-batches, "auto" stopping also brings a plateau schedule (a third of the
    stopping patience); full batches, an explicit patience or an explicit schedule keep
    theirs. The run trains with what is saved: the rate really halves."""
    from mlplab.recipes import default_differences

    def resolve_auto(cfg: RunConfig, n_train: int, has_val: bool) -> RunConfig:
        return resolve(cfg, Facts(n_train=n_train, has_val=has_val, task="binary"))

    cfg = RunConfig()
    big = resolve_auto(cfg, 40_960, has_val=True)  # 40 batches of 1024: patience 3
    assert (big.schedule.name, big.schedule.patience) == ("plateau", 1)
    assert resolve_auto(cfg, 4000, has_val=True).schedule.name == "none"  # one full batch
    assert resolve_auto(cfg, 40_960, has_val=False).schedule.name == "none"
    fixed = with_overrides(cfg, {"train.early_stopping": 5})
    assert resolve_auto(fixed, 40_960, has_val=True).schedule.name == "none"
    cosine = with_overrides(cfg, {"schedule.name": "cosine"})
    assert resolve_auto(cosine, 40_960, has_val=True).schedule.name == "cosine"
    assert "schedule.name" not in [d[0] for d in default_differences(big)]
    assert "schedule.name" in [d[0] for d in default_differences(cosine)]

    noisy = {**NOISY, "data": {**NOISY["data"], "n_samples": 8000},
             "model": {"hidden": [64]}, "train": {"epochs": 300}}
    run = mlplab.train(RunConfig.from_dict(noisy), save=False, progress=False)
    assert run.config.schedule.name == "plateau" and run.config.schedule.patience == 1
    lrs = [row["lr"] for row in run.history if "lr" in row]
    assert lrs and lrs[0] == 0.05 and min(lrs) <= 0.025  # halved at least once
