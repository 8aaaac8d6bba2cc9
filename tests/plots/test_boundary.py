"""Boundary figures show what the model predicts: pixel colours agree with the model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.colors import to_rgb

import mlplab
from mlplab.inspect.plots import PlotData, boundary_figure, data_figure, make_plane, plane_for
from mlplab.inspect.plots.boundary import draw_surface
from mlplab.inspect.plots.style import binary_rgb, class_colors, new_figure, pale, render_rgb
from mlplab.inspect.plots.view import grid_values, model_outputs


def _train(source: str, epochs: int = 150, **data):
    cfg = {"data": {"source": source, "n_samples": 240, **data}, "model": {"hidden": [8]},
           "train": {"epochs": epochs, "early_stopping": "off"},
           "log": {"quiet": True, "plots": False}}
    run = mlplab.train(cfg, save=False)
    return run, PlotData.from_prepared(mlplab.prepare(run.config))


@pytest.fixture(scope="module")
def moons():
    return _train("moons")


@pytest.fixture(scope="module")
def blobs():
    return _train("blobs", n_classes=3)


def _pixel(fig, ax, rgb, u, v):
    """The pixel colour (0..1) at data coordinates (u, v) of ``ax``."""
    x, y = ax.transData.transform((u, v))
    h = rgb.shape[0]
    return rgb[round(h - y), round(x)] / 255.0


def test_binary_heatmap_colour_agrees_with_the_models_prediction(moons):
    run, data = moons
    plane = plane_for(data)
    fig = new_figure(4, 4, layout=None)
    ax = fig.add_axes((0, 0, 1, 1))
    values = grid_values(run.model, run.task, plane, 100)
    draw_surface(ax, values, plane, run.task)
    ax.set_xlim(*plane.xlim)
    ax.set_ylim(*plane.ylim)
    rgb = render_rgb(fig)
    blue, orange = np.array(pale("#0072B2")), np.array(pale("#E69F00"))
    rng = np.random.default_rng(0)
    checked = 0
    lo = np.array([plane.xlim[0], plane.ylim[0]])
    hi = np.array([plane.xlim[1], plane.ylim[1]])
    for u, v in rng.uniform(lo + 0.05 * (hi - lo), hi - 0.05 * (hi - lo), size=(60, 2)):
        du, dv = 0.03 * np.diff(plane.xlim)[0], 0.03 * np.diff(plane.ylim)[0]
        around = [[u, v], [u - du, v], [u + du, v], [u, v - dv], [u, v + dv]]
        ps = model_outputs(run.model, run.task, plane.to_model(around))[:, 1]
        p1 = float(ps[0])
        if np.abs(ps - 0.5).min() < 0.3 or len({bool(q >= 0.5) for q in ps}) > 1:
            continue  # near the boundary line or in the white band
        colour = _pixel(fig, ax, rgb, u, v)
        nearer_orange = np.abs(colour - orange).sum() < np.abs(colour - blue).sum()
        assert nearer_orange == (p1 >= 0.5), (u, v, p1, colour)
        np.testing.assert_allclose(colour, binary_rgb(np.array(p1)), atol=0.08)
        checked += 1
    assert checked >= 20


def test_multiclass_regions_take_the_argmax_class_colour(blobs):
    run, data = blobs
    plane = plane_for(data)
    fig = new_figure(4, 4, layout=None)
    ax = fig.add_axes((0, 0, 1, 1))
    draw_surface(ax, grid_values(run.model, run.task, plane, 100), plane, run.task)
    ax.set_xlim(*plane.xlim)
    ax.set_ylim(*plane.ylim)
    rgb = render_rgb(fig)
    colours = np.array([to_rgb(c) for c in class_colors(3)])
    for u, v in plane.project(data.X["test"][:25]):
        proba = model_outputs(run.model, run.task, plane.to_model([[u, v]]))[0]
        if proba.max() < 0.8:
            continue
        colour = _pixel(fig, ax, rgb, u, v)
        # the pale region colour points from white towards the class colour
        direction = (1 - colour) / max(np.linalg.norm(1 - colour), 1e-9)
        cos = [(1 - c) @ direction / np.linalg.norm(1 - c) for c in colours]
        assert int(np.argmax(cos)) == int(proba.argmax())


def test_titles_count_misclassified_points_like_sklearn(moons):
    from sklearn.metrics import accuracy_score

    run, data = moons
    fig = boundary_figure(run.model, data, resolution=40)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[0].startswith("train") and titles[1].startswith("test")
    p = mlplab.prepare(run.config)
    X_raw, y_raw = p.table.X.iloc[p.split.test], p.table.y.iloc[p.split.test]
    acc = accuracy_score(run.target_encoder.transform(y_raw), run.predict(X_raw))
    pred = run.predict(X_raw)
    wrong = round((1 - acc) * len(pred))
    assert f"accuracy {acc:.3f} · {wrong} misclassified" in titles[1]


def test_the_model_is_left_in_its_mode(moons):
    run, data = moons
    run.model.train()
    boundary_figure(run.model, data, resolution=20)
    assert run.model.training
    run.model.eval()
    grid_values(run.model, run.task, plane_for(data), 10)
    assert not run.model.training


def test_more_than_two_features_use_pca_or_a_pair_and_say_so():
    X = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    X[:, 3] += 5.0
    names = ["a", "b", "c", "d"]
    pca = make_plane(X, names)
    assert pca.kind == "pca" and "principal components" in pca.note
    uv = pca.project(X)
    back = pca.to_model(uv)  # the plane point nearest each row: residual is orthogonal
    np.testing.assert_allclose(((X - back) @ pca.basis.T), 0, atol=1e-4)
    pair = make_plane(X, names, features=("b", "d"), method="pair")
    assert (pair.xlabel, pair.ylabel) == ("b", "d") and "median" in pair.note
    pts = pair.to_model(np.array([[1.0, 2.0]]))[0]
    np.testing.assert_allclose(pts[[1, 3]], [1.0, 2.0])
    np.testing.assert_allclose(pts[[0, 2]], np.median(X, axis=0)[[0, 2]], atol=1e-6)


def test_iris_boundary_states_its_plane():
    run, data = _train("iris", epochs=60)
    fig = boundary_figure(run.model, data, resolution=30)
    assert "principal components" in fig.get_suptitle()


def test_data_figure_marks_train_and_test_differently(moons):
    _, data = moons
    fig = data_figure(data)
    markers = {c.get_paths()[0].vertices.shape[0] for c in fig.axes[0].collections}
    assert len(markers) == 2  # circle and triangle paths differ
    assert "train 192" in fig.axes[0].get_title() and "test 48" in fig.axes[0].get_title()


def test_one_feature_draws_probability_curves():
    X = np.linspace(-2, 2, 80, dtype=np.float32)[:, None]
    y = (X[:, 0] > 0).astype(int)
    run = mlplab.train({"model": {"hidden": [4]}, "train": {"epochs": 80},
                        "log": {"quiet": True, "plots": False}}, data=(X, y), save=False)
    data = PlotData.from_prepared(mlplab.prepare(run.config, data=(X, y)))
    fig = boundary_figure(run.model, data)
    line = fig.axes[0].lines[0]
    xs = np.asarray(line.get_xdata(), dtype=np.float32)[:, None]
    expected = model_outputs(run.model, run.task, xs)[:, 1]
    np.testing.assert_allclose(line.get_ydata(), expected, atol=1e-6)
    assert torch.is_grad_enabled()
