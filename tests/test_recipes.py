"""Every shipped recipe repeats its tutorial: the tutorial's printed figures, within a stated
tolerance, over a few seeds (the tutorials' own numbers come from one unseeded run)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import mlplab
from mlplab.config import RunConfig
from mlplab.recipes import explain, load_recipe, recipe_info, recipe_names


def _train(name: str, seed: int | None = None) -> mlplab.Run:
    cfg = load_recipe(name)
    if seed is not None:
        cfg["seed"] = seed
    cfg.setdefault("log", {}).update(quiet=True, plots=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny-data and loss-choice warnings are expected
        return mlplab.train(cfg, save=False, progress=False)


def _acc(run: mlplab.Run, split: str) -> float:
    return float(run.metrics[split]["accuracy"])


def test_every_recipe_is_a_valid_config_naming_its_tutorial():
    assert len(recipe_names()) >= 12
    for name in recipe_names():
        cfg = RunConfig.from_dict(load_recipe(name))
        assert cfg.name == name and cfg.description
        assert recipe_info(name)["tutorial"] in {"000", "001", "002", "003", "004"}


def test_every_tutorial_model_has_a_recipe():
    tutorials = [recipe_info(n)["tutorial"] for n in recipe_names()]
    # 000 one model; 001 one; 002 four models + blobs; 003 regression, logistic, MLP, tips; 004
    assert {t: tutorials.count(t) for t in sorted(set(tutorials))} == \
        {"000": 1, "001": 1, "002": 5, "003": 4, "004": 1}


def test_recipes_train_on_raw_inputs_as_the_tutorials_do():
    """Regression: recipes used to standardise silently (circles-relu at 99% vs the
    tutorial's 87%)."""
    for name in recipe_names():
        assert RunConfig.from_dict(load_recipe(name)).data.scale == "none", name


def test_explain_lists_where_mlplab_defaults_differ_and_why():
    lines = explain("disk-mlp")
    text = "\n".join(lines)
    assert "tutorial 000" in lines[1]
    assert "inputs: used as given (no scaling)" in lines
    for key in ("data.scale", "model.output", "optim.name", "train.epochs"):
        assert f"  {key}:" in text
    assert "'none' here, 'standard' by default" in text
    assert "  model.init" not in text  # the recipe keeps PyTorch's default init, as mlplab


@pytest.mark.slow
def test_disk_mlp_reaches_100_percent_at_50000_epochs():
    """Tutorial 000: 99.9%+ at 50,000 epochs. A 2-4-4-1 ReLU net sometimes loses its units
    early (as the tutorial's own code can); most seeds fit every point."""
    scores: list[float] = []
    for seed in (42, 3, 4):  # the third seed only trains when one of the first two fell short
        scores.append(_acc(_train("disk-mlp", seed), "train"))
        if sum(s == 1.0 for s in scores) >= 2:
            break
    assert sum(s == 1.0 for s in scores) >= 2, scores


def test_simple_net_is_one_adam_step_as_in_plain_pytorch():
    """Tutorial 001: one step of Adam 0.01 on five rows; the loss equals plain PyTorch's."""
    run = _train("simple-net")
    assert run.info["epochs_run"] == 1
    p = mlplab.prepare(run.config)
    X, y = torch.as_tensor(p.X["train"]), torch.as_tensor(p.y["train"]).float().reshape(-1, 1)
    torch.manual_seed(run.config.seed)
    ref = torch.nn.Sequential(torch.nn.Linear(2, 10), torch.nn.ReLU(), torch.nn.Linear(10, 1))
    opt = torch.optim.Adam(ref.parameters(), lr=0.01)
    loss = torch.nn.BCEWithLogitsLoss()(ref(X), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    for a, b in zip(run.model.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(a.detach(), b.detach())


def test_circles_linear_models_stay_near_50_percent():
    """Tutorial 002, models 0 and 1: a straight boundary cuts the rings in half."""
    for name in ("circles-linear", "circles-linear-wide"):
        for seed in (42, 1):
            run = _train(name, seed)
            assert 0.40 <= _acc(run, "test") <= 0.60, (name, seed)
            assert 0.45 <= _acc(run, "train") <= 0.56, (name, seed)


def test_line_regression_fits_the_straight_line():
    """Tutorial 002's sanity check: the same linear stack learns y = 0.7x + 0.3 (L1 at lr 0.1
    keeps bouncing by a few hundredths), so the model can learn; the circles are the issue."""
    for seed in (42, 1):
        run = _train("line-regression", seed)
        assert run.metrics["test"]["mae"] < 0.1 and run.metrics["test"]["r2"] > 0.8, seed
        x = np.array([[0.1], [0.5], [0.9]], dtype=np.float32)
        np.testing.assert_allclose(run.predict(x), 0.7 * x[:, 0] + 0.3, atol=0.15)


@pytest.mark.slow
def test_circles_relu_lands_near_87_percent():
    """Tutorial 002, model 3: 1000 epochs of SGD 0.1 on raw circles start to bend the
    boundary: about 87% (tutorial runs print 79-88%), far from both 50% and 100%."""
    scores = [_acc(_train("circles-relu", s), "test") for s in (42, 2, 3)]
    assert 0.75 <= float(np.median(scores)) <= 0.95, scores


def test_blobs_reach_about_99_5_percent_test():
    """Tutorial 002, model 4: no activation is needed for four blobs: 99.5% test (the
    tutorial's make_blobs random_state and torch.manual_seed are both 42)."""
    run = _train("blobs-4class")
    assert run.task.name == "multiclass" and run.task.n_outputs == 4
    assert _acc(run, "test") >= 0.985


def test_data_seed_keeps_the_tutorials_data_across_run_seeds():
    """Recipes fix data.seed to the tutorial's random_state: another run seed changes the
    model and the split, not the blobs."""
    a = mlplab.prepare(RunConfig.from_dict({**load_recipe("blobs-4class"), "seed": 1}))
    b = mlplab.prepare(RunConfig.from_dict(load_recipe("blobs-4class")))
    np.testing.assert_array_equal(a.table.X.to_numpy(), b.table.X.to_numpy())


def test_linear_regression_learns_w_near_3_as_the_tutorial():
    """Tutorial 003: 100 epochs of SGD 0.01 on raw x in [0, 10]: the slope is learnt (~3)
    while the intercept is still on its way to 2; the same loop in plain PyTorch agrees."""
    run = _train("linear-regression")
    layer = run.model.linears()[0]
    w, b = float(layer.weight.detach()), float(layer.bias.detach())
    assert w == pytest.approx(3.0, abs=0.3)
    p = mlplab.prepare(run.config)
    X, y = torch.as_tensor(p.X["train"]), torch.as_tensor(p.y["train"]).reshape(-1, 1)
    torch.manual_seed(run.config.seed)
    ref = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(ref.parameters(), lr=0.01)
    for _ in range(100):
        loss = torch.nn.functional.mse_loss(ref(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert (w, b) == pytest.approx((float(ref.weight), float(ref.bias)), abs=1e-4)


def test_moons_logistic_is_above_85_percent_and_straight():
    """Tutorial 003: logistic regression on moons: "accuracy > 85%", a straight boundary."""
    scores = [_acc(_train("moons-logistic", s), "train") for s in (42, 1, 2)]
    assert all(0.85 <= s <= 0.92 for s in scores), scores


@pytest.mark.slow
def test_moons_mlp_bends_and_the_tips_schedule_stalls_it():
    """Tutorial 003: the 2-4-1 MLP bends the boundary; with StepLR(30, 0.1) over 1000
    epochs the rate is ~5e-35 at the end, so learning stops early."""
    scores = [_acc(_train("moons-mlp", s), "train") for s in (42, 0, 1, 2, 3, 4)]
    # four ReLU units on the recipe's 200 points (data.seed 42): some weight seeds bend the
    # boundary to ~100%; on the others units die or never switch and the net is left a
    # logistic regression (~87%), never worse
    assert sum(s >= 0.99 for s in scores) >= 2 and min(scores) >= 0.85, scores
    assert _acc(_train("moons-mlp"), "train") >= 0.99  # the recipe's own seed bends
    tips = _train("moons-mlp-tips")
    assert tips.history[-1]["lr"] == pytest.approx(0.05 * 0.1 ** (1000 // 30), rel=1e-3)
    late = [r["train_loss"] for r in tips.history if r["epoch"] >= 500]
    assert max(late) - min(late) < 1e-6  # nothing moves once the rate is gone


def test_moons_mlp_at_its_seed_is_not_effectively_linear_and_beats_the_logistic():
    """Regression (issue 28): moons-mlp at its default seed ended with one dead unit and three
    active on every point (an effectively linear net, 86.5% like moons-logistic) while its
    description says four units bend the boundary. On fresh moons points it must beat the
    logistic regression, with every unit switching somewhere on its training data."""
    from mlplab.data.synthetic import moons
    from mlplab.inspect.diagnosis import diagnose, evidence_for

    mlp, logistic = _train("moons-mlp"), _train("moons-logistic")
    assert mlp.config.data.seed == 42 and logistic.config.seed == 42  # the same 200 points
    codes = [f.code for f in diagnose(evidence_for(mlp, mlplab.prepare(mlp.config)))]
    assert "effectively_linear" not in codes, codes
    X, y = moons(2000, 0.1, 7)  # fresh points, neither net saw them
    fresh = {name: float((run.predict(X) == y).mean()) for name, run in
             (("mlp", mlp), ("logistic", logistic))}
    assert fresh["mlp"] > fresh["logistic"] + 0.05, fresh


@pytest.mark.slow
def test_gaussians_softmax_gets_every_point_right_with_the_nll_of_its_softmax():
    """Tutorial 004: every one of the 200 points right (a few seeds: at least 98.5%); class 0
    is around (2, 2); the loss is the NLL of the log-softmax, as plain PyTorch computes it."""
    run = _train("gaussians-softmax")
    assert run.task.loss == "nll" and run.task.output == "softmax" and run.task.n_outputs == 2
    assert _acc(run, "train") == 1.0
    assert run.predict([[2.0, 2.0], [-2.0, -2.0]]).tolist() == [0, 1]
    p = mlplab.prepare(run.config)
    with torch.no_grad():
        probs = run.model.eval()(torch.as_tensor(p.X["train"]))
    ref = torch.nn.functional.nll_loss(probs.log(), torch.as_tensor(p.y["train"]).long())
    assert run.metrics["train"]["loss"] == pytest.approx(float(ref), rel=1e-5)
    assert _acc(_train("gaussians-softmax", 0), "train") >= 0.985


def test_cli_recipes_explain_and_the_run_summary(tmp_path, capsys):
    from mlplab.cli.main import main

    assert main(["recipes", "--explain", "moons-mlp-tips"]) == 0
    text = capsys.readouterr().out
    assert "tutorial 003" in text and "schedule.name: 'step' here, 'none' by default" in text
    assert "kaiming_normal_ to fc1's weight only" in text
    no_plots = ["--set", "log.plots=false"]  # the figures are not what this test reads
    assert main(["train", "--recipe", "simple-net", *no_plots, "-o", str(tmp_path / "r")]) == 0
    text = capsys.readouterr().out
    assert "inputs: used as given (no scaling)" in text
    assert "warning: the train split has 5 rows" in text
    assert "train.epochs: 1 here, 1000 by default" in text
    assert main(["recipes", "--explain", "nope"]) == 2
    capsys.readouterr()
    assert main(["train", "--recipe", "linear-regression", "-q", *no_plots,
                 "-o", str(tmp_path / "lr")]) == 0
    capsys.readouterr()
    assert main(["show", str(tmp_path / "lr")]) == 0
    shown = capsys.readouterr().out
    # regression: a 1 -> 1 linear model was labelled "activation: relu"
    assert "model    1 -> 1  activation: none (no hidden layer)" in shown
    assert "relu" not in shown


def test_a_default_runs_resolved_stopping_is_not_reported_as_a_difference():
    """Regression: a plain `mlplab train` printed "train.early_stopping: 20 here, 'auto' by
    default" because the saved config holds what "auto" became."""
    from mlplab.config import RunConfig
    from mlplab.recipes import default_differences

    def keys(stopping: object) -> list[str]:
        cfg = RunConfig.from_dict({"train": {"early_stopping": stopping}})
        return [d[0] for d in default_differences(cfg)]

    assert "train.early_stopping" not in keys(20)
    assert "train.early_stopping" in keys("off")
