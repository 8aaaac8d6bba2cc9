"""What the page draws, checked against independent computations; the exported CLI command."""

from __future__ import annotations

import base64
import shlex

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix

from mlplab.cli.commands._common import build_config
from mlplab.config import RunConfig
from mlplab.models import ModelSpec, build_model
from mlplab.tasks import resolve_task
from mlplab.training.loop import evaluate_split, make_loss
from mlplab.web import frames
from mlplab.web.codegen import cli_command
from mlplab.web.limits import Limits, playground_config


def test_measure_matches_the_training_loops_evaluation():
    task = resolve_task("binary", n_classes=2, n_targets=1, loss="auto", output="logits")
    model = build_model(ModelSpec(2, [5], ["tanh"], 1), seed=0)
    X = torch.randn(50, 2)
    y = (X[:, :1] > 0).float()
    loss_fn = make_loss(task, weighted=False)
    with frames.eval_mode(model):
        loss, score, pred = frames.measure(model, task, loss_fn, X, y)
    ref_loss, ref_score = evaluate_split(model, task, loss_fn, X, y)
    assert loss == pytest.approx(ref_loss) and score == pytest.approx(ref_score)
    assert model.training  # eval_mode gave the training mode back
    by_hand = (torch.sigmoid(model(X))[:, 0] >= 0.5).long().numpy()
    assert (pred == by_hand).all()


def test_binary_grid_is_the_models_probability_on_a_meshgrid():
    task = resolve_task("binary", n_classes=2, n_targets=1, loss="auto", output="logits")
    model = build_model(ModelSpec(3, [4], ["relu"], 1), seed=1)
    X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    view = frames.View.fit(X, [2, 0], ["c", "a"])
    n = 8
    with frames.eval_mode(model):
        grid = frames.boundary_grid(model, task, view, n, (0.0, 1.0))
    got = np.frombuffer(base64.b64decode(grid["data"]), dtype=np.uint8).reshape(n, n)
    x0, x1, y0, y1 = view.extent
    xs = x0 + (x1 - x0) / n * (np.arange(n) + 0.5)
    ys = (y0 + (y1 - y0) / n * (np.arange(n) + 0.5))[::-1]  # top row = largest y
    pts = np.tile(np.median(X, axis=0), (n * n, 1))
    gx, gy = np.meshgrid(xs, ys)
    pts[:, 2], pts[:, 0] = gx.ravel(), gy.ravel()  # drawn: column 2 across, column 0 up
    with torch.no_grad():
        p = torch.sigmoid(model(torch.as_tensor(pts, dtype=torch.float32)))[:, 0].numpy()
    assert np.abs(got.astype(int) - np.rint(p * 255).reshape(n, n)).max() <= 1


def test_confusion_matches_scikit_learn():
    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 3, 100), rng.integers(0, 3, 100)
    assert frames.confusion(t, p, 3) == confusion_matrix(t, p, labels=[0, 1, 2]).tolist()


def test_unit_grids_have_one_thumbnail_per_hidden_unit():
    model = build_model(ModelSpec(2, [3, 2], ["tanh", "relu"], 1), seed=0)
    view = frames.View.fit(np.random.default_rng(0).normal(size=(20, 2)).astype(np.float32),
                           [0, 1], ["x1", "x2"])
    with frames.eval_mode(model):
        units = frames.unit_grids(model, view, 6)
    assert [len(layer) for layer in units] == [3, 2]
    assert all(len(base64.b64decode(g)) == 36 for layer in units for g in layer)


def test_cli_command_rebuilds_the_same_config():
    """The exported command, parsed by the CLI's own config builder, gives the same config."""
    cfg = playground_config({"data": {"source": "spiral", "n_classes": 3},
                             "model": {"hidden": [8, 4], "activation": ["relu", "tanh"]},
                             "optim": {"name": "sgd", "lr": 0.1, "momentum": 0.9},
                             "train": {"batch_size": "full"}}, Limits())
    args = shlex.split(cli_command(cfg))
    assert args[:4] == ["mlplab", "train", "--data", "spiral"]
    sets = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
    rebuilt = build_config(None, None, {"data.source": args[3]}, sets)
    assert rebuilt == cfg
    assert RunConfig.from_dict(rebuilt.to_dict()).model.activation == ["relu", "tanh"]
