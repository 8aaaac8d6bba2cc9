"""Synthetic generators: shapes, determinism, and agreement with independent references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import make_circles, make_moons

from mlplab.data import synthetic
from mlplab.errors import ConfigError
from mlplab.registry import DATASETS

SYNTHETIC = [n for n, d in DATASETS.items() if d.kind == "synthetic"]


def test_every_registry_entry_has_a_generator() -> None:
    for name in SYNTHETIC:
        assert DATASETS[name].load() is getattr(synthetic, name)


@pytest.mark.parametrize("name", SYNTHETIC)
def test_shapes_dtypes_and_exact_size(name: str) -> None:
    X, y = getattr(synthetic, name)(101, None, 0)
    assert X.shape[0] == 101 and y.shape == (101,)
    assert X.dtype == np.float32
    assert y.dtype == (np.float32 if name in ("linear", "line") else np.int64)
    assert np.isfinite(X).all()


@pytest.mark.parametrize("name", SYNTHETIC)
def test_deterministic_per_seed_and_different_across_seeds(name: str) -> None:
    gen = getattr(synthetic, name)
    noise = 0.1 if name == "line" else None  # the tutorial's line has no noise by default
    X1, y1 = gen(200, noise, 3)
    X2, y2 = gen(200, noise, 3)
    X3, y3 = gen(200, noise, 4)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    # the regression sets keep the tutorials' x grid; their noise moves with the seed
    assert not (np.array_equal(X1, X3) and np.array_equal(y1, y3))


def test_disk_labels_follow_the_inside_circle_rule() -> None:
    X, y = synthetic.disk(500, None, 7)
    ref = torch.randn(500, 2, generator=torch.Generator().manual_seed(7))  # same stream
    np.testing.assert_array_equal(X, ref.numpy())
    np.testing.assert_array_equal(y, (ref[:, 0] ** 2 + ref[:, 1] ** 2 < 1).long().numpy())


def test_disk_noise_jitters_points_after_labelling() -> None:
    X0, y0 = synthetic.disk(300, 0.0, 1)
    X1, y1 = synthetic.disk(300, 0.2, 1)
    np.testing.assert_array_equal(y0, y1)  # labels come from the clean points
    assert not np.allclose(X0, X1)


def test_circles_and_moons_equal_sklearn() -> None:
    X, y = synthetic.circles(150, None, 5)
    Xr, yr = make_circles(150, noise=0.03, factor=0.8, random_state=5)
    np.testing.assert_allclose(X, Xr.astype(np.float32))
    np.testing.assert_array_equal(y, yr)
    X, y = synthetic.moons(150, 0.2, 5)
    Xr, yr = make_moons(150, noise=0.2, random_state=5)
    np.testing.assert_allclose(X, Xr.astype(np.float32))
    np.testing.assert_array_equal(y, yr)


def test_xor_label_is_sign_xor() -> None:
    X, y = synthetic.xor(400, None, 2)
    assert (np.abs(X) <= 1).all()
    np.testing.assert_array_equal(y, (np.sign(X[:, 0]) != np.sign(X[:, 1])).astype(int))


def test_linear_is_tutorial_003s_data() -> None:
    """x = torch.linspace(0, 10, n), y = 3x + 2 + 2 * torch.randn(n) (tutorial 003)."""
    X, y = synthetic.linear(100, None, 0)
    np.testing.assert_array_equal(X[:, 0], torch.linspace(0, 10, 100).numpy())
    g = torch.Generator().manual_seed(0)
    ref = 3 * torch.linspace(0, 10, 100) + 2 + 2.0 * torch.randn(100, generator=g)
    np.testing.assert_allclose(y, ref.numpy(), rtol=1e-6)
    X, y = synthetic.linear(50, 0.0, 0, n_features=3)
    assert ((X[:, 1:] >= 0) & (X[:, 1:] < 10)).all()
    np.testing.assert_allclose(y, 3 * X.sum(1) + 2, rtol=1e-5)


def test_line_is_tutorial_002s_straight_line() -> None:
    X, y = synthetic.line(100, None, 0)
    np.testing.assert_allclose(X[:, 0], torch.arange(0, 1, 0.01).numpy(), atol=1e-6)
    np.testing.assert_allclose(y, 0.7 * X[:, 0] + 0.3, atol=1e-6)


def test_random_is_tutorial_001s_stand_in_rows() -> None:
    X, y = synthetic.random(5, None, 3)
    g = torch.Generator().manual_seed(3)
    np.testing.assert_array_equal(X, torch.randn(5, 2, generator=g).numpy())
    np.testing.assert_array_equal(y, torch.randint(0, 2, (5,), generator=g).numpy())


def test_blobs_and_spiral_classes_and_features() -> None:
    X, y = synthetic.blobs(100, None, 0)
    assert X.shape == (100, 2) and sorted(set(y.tolist())) == [0, 1, 2, 3]
    X, y = synthetic.blobs(90, 0.5, 0, n_classes=3, n_features=6)
    assert X.shape == (90, 6) and np.bincount(y).tolist() == [30, 30, 30]
    X, y = synthetic.spiral(100, None, 0)
    assert np.bincount(y).tolist() == [34, 33, 33]  # default 3 arms, sizes differ by <= 1
    _, y = synthetic.spiral(100, None, 0, n_classes=5)
    assert np.bincount(y).tolist() == [20] * 5


def test_gaussians_are_tutorial_004s_clusters_in_its_class_order() -> None:
    """Regression: class 1 used to sit where the tutorial has class 0 (around (2, 2))."""
    X, y = synthetic.gaussians(4000, None, 0)
    assert y[:2000].tolist() == [0] * 2000 and y[2000:].tolist() == [1] * 2000
    np.testing.assert_allclose(X[y == 0].mean(0), [2, 2], atol=0.1)
    np.testing.assert_allclose(X[y == 1].mean(0), [-2, -2], atol=0.1)
    np.testing.assert_allclose(X[y == 0].std(0), [1, 1], atol=0.1)


@pytest.mark.parametrize("name,k", [("moons", 2), ("blobs", 4), ("spiral", 3)])
def test_label_noise_flips_the_right_fraction(name: str, k: int) -> None:
    gen = getattr(synthetic, name)
    X0, y0 = gen(1000, None, 11)
    X1, y1 = gen(1000, None, 11, label_noise=0.15)
    np.testing.assert_array_equal(X0, X1)  # points unchanged
    assert int((y0 != y1).sum()) == 150
    assert set(y1.tolist()) <= set(range(k))


@pytest.mark.parametrize("name", ["disk", "circles", "moons", "gaussians", "xor"])
@pytest.mark.parametrize("frac", [0.1, 0.3])
def test_imbalance_gives_the_minority_fraction(name: str, frac: float) -> None:
    X, y = getattr(synthetic, name)(500, None, 0, imbalance=frac)
    assert len(y) == len(X) == 500
    assert int(y.sum()) == round(frac * 500)
    assert y[:250].sum() not in (0, y.sum())  # the classes are mixed, not in blocks


def test_imbalance_with_two_blobs_works() -> None:
    _, y = synthetic.blobs(200, None, 0, n_classes=2, imbalance=0.25)
    assert int(y.sum()) == 50


@pytest.mark.parametrize("call,match", [
    (lambda: synthetic.blobs(100, None, 0, imbalance=0.2), "imbalance needs two classes"),
    (lambda: synthetic.linear(100, None, 0, label_noise=0.1), "regression"),
    (lambda: synthetic.circles(100, None, 0, n_classes=3), "circles data has 2 classes"),
    (lambda: synthetic.moons(100, None, 0, n_features=3), "moons data is 2-D"),
    (lambda: synthetic.xor(0, None, 0), "bad n_samples"),
    (lambda: synthetic.disk(10, -1.0, 0), "bad noise"),
    (lambda: synthetic.moons(10, None, 0, imbalance=1.5), "bad imbalance"),
])
def test_bad_options_raise_config_error(call, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        call()
