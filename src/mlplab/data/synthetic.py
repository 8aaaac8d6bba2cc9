"""Seeded toy-data generators, one per synthetic entry of ``registry.DATASETS``.

Every generator has the same signature, so the loader, the CLI and the web playground call
them alike::

    X, y = circles(n_samples, noise, seed, label_noise=0.0, imbalance=None,
                   n_classes=None, n_features=None)

``X`` is float32 ``(n_samples, d)``; ``y`` holds int64 class indices ``0..k-1`` (float32 values
for the regression sets ``linear`` and ``line``). Where a tutorial made the data, the generator
draws it the same way (the tutorial is named in its docstring). The output depends on ``seed``
only. ``noise=None`` picks the generator's own default (see ``DEFAULT_NOISE``).
``label_noise`` flips that fraction of labels to another class; ``imbalance`` (binary data
only) makes class 1 that fraction of the rows.
The checks and label post-processing the generators share are in
:mod:`mlplab.data.synthetic_common`.

Example
-------
>>> X, y = moons(6, None, seed=0)
>>> X.shape, X.dtype, y.dtype, sorted(set(y.tolist()))
((6, 2), dtype('float32'), dtype('int64'), [0, 1])
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn import datasets as skd

from mlplab.data.synthetic_common import (
    DEFAULT_NOISE,
    Arrays,
    check_args,
    classes_and_features,
    finish_classification,
    flip_labels,
    only_1d,
    only_2d,
    only_binary,
    planar_binary_noise,
    regression_only,
    resolve_noise,
    shuffled,
)
from mlplab.errors import ConfigError

CIRCLES_FACTOR = 0.8  # inner radius / outer radius (scikit-learn's default)


def disk(n_samples: int, noise: float | None, seed: int, *, label_noise: float = 0.0,
         imbalance: float | None = None, n_classes: int | None = None,
         n_features: int | None = None) -> Arrays:
    """``torch.randn`` points; label 1 inside the unit circle (``x1² + x2² < 1``).

    ``noise`` is the std of a Gaussian jitter added after labelling (default 0), so labels
    near the circle become noisy.

    Example
    -------
    >>> X, y = disk(1000, None, seed=0)
    >>> bool(((X ** 2).sum(1) < 1).astype(int).tolist() == y.tolist())
    True
    """
    jitter = planar_binary_noise("disk", n_samples, noise, label_noise, imbalance, n_classes,
                                 n_features)

    def draw(n: int, s: int) -> Arrays:
        g = torch.Generator().manual_seed(s)
        pts = torch.randn(n, 2, generator=g)  # (n, 2)
        y = (pts.pow(2).sum(1) < 1).long()  # (n,)
        if jitter > 0:
            pts = pts + jitter * torch.randn(n, 2, generator=g)
        return pts.numpy(), y.numpy()

    return finish_classification("disk", draw, n_samples, seed, 2, label_noise, imbalance)


def circles(n_samples: int, noise: float | None, seed: int, *, label_noise: float = 0.0,
            imbalance: float | None = None, n_classes: int | None = None,
            n_features: int | None = None) -> Arrays:
    """Two concentric circles (``sklearn.datasets.make_circles``, factor 0.8); 1 = inner.

    Example
    -------
    >>> X, y = circles(100, 0.0, seed=1)
    >>> bool(np.allclose(np.hypot(*X[y == 0].T), 1.0, atol=1e-5))
    True
    """
    sd = planar_binary_noise("circles", n_samples, noise, label_noise, imbalance, n_classes,
                             n_features)

    def draw(n: int, s: int) -> Arrays:
        return skd.make_circles(n, noise=sd, factor=CIRCLES_FACTOR,  # type: ignore[no-any-return]
                                random_state=s)

    return finish_classification("circles", draw, n_samples, seed, 2, label_noise, imbalance)


def moons(n_samples: int, noise: float | None, seed: int, *, label_noise: float = 0.0,
          imbalance: float | None = None, n_classes: int | None = None,
          n_features: int | None = None) -> Arrays:
    """Two interleaving half-moons (``sklearn.datasets.make_moons``)."""
    sd = planar_binary_noise("moons", n_samples, noise, label_noise, imbalance, n_classes,
                             n_features)

    def draw(n: int, s: int) -> Arrays:
        return skd.make_moons(n, noise=sd, random_state=s)  # type: ignore[no-any-return]

    return finish_classification("moons", draw, n_samples, seed, 2, label_noise, imbalance)


def blobs(n_samples: int, noise: float | None, seed: int, *, label_noise: float = 0.0,
          imbalance: float | None = None, n_classes: int | None = None,
          n_features: int | None = None) -> Arrays:
    """``n_classes`` (default 4) Gaussian blobs in ``n_features`` (default 2) dimensions.

    Centres are drawn from the seed (``sklearn.datasets.make_blobs``, box (-10, 10));
    ``noise`` is the cluster std (default 1).

    Example
    -------
    >>> X, y = blobs(40, None, seed=0, n_classes=3, n_features=5)
    >>> X.shape, sorted(set(y.tolist()))
    ((40, 5), [0, 1, 2])
    """
    check_args("blobs", n_samples, label_noise, imbalance)
    k, d = classes_and_features("blobs", n_classes, n_features, default_classes=4)
    sd = resolve_noise("blobs", noise)

    def draw(n: int, s: int) -> Arrays:
        return skd.make_blobs(n, n_features=d, centers=k,  # type: ignore[no-any-return]
                              cluster_std=sd, random_state=s)

    return finish_classification("blobs", draw, n_samples, seed, k, label_noise, imbalance)


def gaussians(n_samples: int, noise: float | None, seed: int, *, label_noise: float = 0.0,
              imbalance: float | None = None, n_classes: int | None = None,
              n_features: int | None = None) -> Arrays:
    """Two Gaussian clusters as tutorial 004 draws them: class 0 around (2, 2), then class 1
    around (-2, -2), std ``noise`` (default 1), rows in that order.

    The first ``n - n // 2`` rows are class 0 (``torch.normal(2 * ones, 1)``), the rest class 1.
    With ``n_features`` d, the centres are +2 and -2 in every coordinate.

    Example
    -------
    >>> X, y = gaussians(4, 0.0, seed=0)
    >>> X.tolist(), y.tolist()
    ([[2.0, 2.0], [2.0, 2.0], [-2.0, -2.0], [-2.0, -2.0]], [0, 0, 1, 1])
    """
    check_args("gaussians", n_samples, label_noise, imbalance)
    only_binary("gaussians", n_classes)
    d = 2 if n_features is None else n_features
    if d < 1:
        raise ConfigError("gaussians: bad n_features", expected=">= 1", found=str(d))
    sd = resolve_noise("gaussians", noise)

    def draw(n: int, s: int) -> Arrays:
        g = torch.Generator().manual_seed(s)
        y = (torch.arange(n) >= n - n // 2).long()  # (n,): class 0 first, as the tutorial
        centre = torch.where(y[:, None] == 0, 2.0, -2.0)  # (n, 1)
        X = centre + sd * torch.randn(n, d, generator=g)  # (n, d)
        return X.numpy(), y.numpy()

    return finish_classification("gaussians", draw, n_samples, seed, 2, label_noise, imbalance)


def xor(n_samples: int, noise: float | None, seed: int, *, label_noise: float = 0.0,
        imbalance: float | None = None, n_classes: int | None = None,
        n_features: int | None = None) -> Arrays:
    """Uniform points in [-1, 1]²; label 1 where the signs of x1 and x2 differ.

    ``noise`` is a Gaussian jitter added after labelling (default 0).

    Example
    -------
    >>> X, y = xor(200, None, seed=0)
    >>> bool((y == (X[:, 0] * X[:, 1] < 0)).all())
    True
    """
    jitter = planar_binary_noise("xor", n_samples, noise, label_noise, imbalance, n_classes,
                                 n_features)

    def draw(n: int, s: int) -> Arrays:
        rng = np.random.default_rng(s)
        X = rng.uniform(-1.0, 1.0, size=(n, 2))
        y = ((X[:, 0] < 0) != (X[:, 1] < 0)).astype(np.int64)
        if jitter > 0:
            X = X + rng.normal(0.0, jitter, size=X.shape)
        return X, y

    return finish_classification("xor", draw, n_samples, seed, 2, label_noise, imbalance)


def spiral(n_samples: int, noise: float | None, seed: int, *, label_noise: float = 0.0,
           imbalance: float | None = None, n_classes: int | None = None,
           n_features: int | None = None) -> Arrays:
    """``n_classes`` (default 3, as in CS231n) interleaved spiral arms.

    Arm j has radius r in [0, 1] and angle ``4 (j + r) + noise * randn``; arms share the
    rows as evenly as possible.
    """
    check_args("spiral", n_samples, label_noise, imbalance)
    only_2d("spiral", n_features)
    k = 3 if n_classes is None else n_classes
    if k < 2:
        raise ConfigError("spiral: bad n_classes", expected=">= 2", found=str(k))
    sd = resolve_noise("spiral", noise)

    def draw(n: int, s: int) -> Arrays:
        rng = np.random.default_rng(s)
        y = np.arange(n, dtype=np.int64) % k  # arm sizes differ by at most one
        r = rng.uniform(0.0, 1.0, size=n)
        t = 4.0 * (y + r) + rng.normal(0.0, sd, size=n)
        X = np.stack([r * np.sin(t), r * np.cos(t)], axis=1)  # (n, 2)
        return shuffled(X, y, s)

    return finish_classification("spiral", draw, n_samples, seed, k, label_noise, imbalance)


def linear(n_samples: int, noise: float | None, seed: int, *, label_noise: float = 0.0,
           imbalance: float | None = None, n_classes: int | None = None,
           n_features: int | None = None) -> Arrays:
    """Regression data of tutorial 003: ``x = linspace(0, 10, n)``, ``y = 3x + 2 + noise * randn``
    (``noise`` default 2).

    With ``n_features`` d > 1 the other columns are uniform in [0, 10) and
    ``y = 3 * sum(x) + 2 + noise``. ``y`` is float32 (n,). ``label_noise``, ``imbalance`` and
    ``n_classes`` do not apply and raise ConfigError when set.

    Example
    -------
    >>> X, y = linear(5, 0.0, seed=0)
    >>> X[:, 0].tolist(), y.tolist()
    ([0.0, 2.5, 5.0, 7.5, 10.0], [2.0, 9.5, 17.0, 24.5, 32.0])
    """
    check_args("linear", n_samples, label_noise, imbalance)
    regression_only("linear", label_noise, imbalance, n_classes)
    d = 1 if n_features is None else n_features
    if d < 1:
        raise ConfigError("linear: bad n_features", expected=">= 1", found=str(d))
    sd = resolve_noise("linear", noise)
    g = torch.Generator().manual_seed(seed)
    X = torch.linspace(0.0, 10.0, n_samples).reshape(-1, 1)  # (n, 1)
    if d > 1:
        X = torch.cat([X, 10.0 * torch.rand(n_samples, d - 1, generator=g)], dim=1)  # (n, d)
    y = 3.0 * X.sum(dim=1) + 2.0 + sd * torch.randn(n_samples, generator=g)  # (n,)
    return X.numpy().astype(np.float32), y.numpy().astype(np.float32)


def line(n_samples: int, noise: float | None, seed: int, *, label_noise: float = 0.0,
         imbalance: float | None = None, n_classes: int | None = None,
         n_features: int | None = None) -> Arrays:
    """Tutorial 002's sanity check: a straight line ``y = 0.7x + 0.3`` at
    ``x = 0, 1/n, 2/n, ...`` (``torch.arange(0, 1, 0.01)`` for n = 100), plus ``noise * randn``
    (default 0).

    Example
    -------
    >>> X, y = line(4, None, seed=0)
    >>> X[:, 0].tolist(), [round(v, 3) for v in y.tolist()]
    ([0.0, 0.25, 0.5, 0.75], [0.3, 0.475, 0.65, 0.825])
    """
    check_args("line", n_samples, label_noise, imbalance)
    regression_only("line", label_noise, imbalance, n_classes)
    only_1d("line", n_features)
    sd = resolve_noise("line", noise)
    g = torch.Generator().manual_seed(seed)
    X = (torch.arange(n_samples, dtype=torch.float64) / n_samples).reshape(-1, 1)  # (n, 1)
    y = 0.7 * X[:, 0] + 0.3 + sd * torch.randn(n_samples, generator=g, dtype=torch.float64)
    return X.numpy().astype(np.float32), y.numpy().astype(np.float32)


def random(n_samples: int, noise: float | None, seed: int, *, label_noise: float = 0.0,
           imbalance: float | None = None, n_classes: int | None = None,
           n_features: int | None = None) -> Arrays:
    """Tutorial 001's stand-in data: ``torch.randn(n, d)`` rows with ``torch.randint(0, k)``
    labels, unrelated to the rows (nothing to learn; it shows the shapes of one step).

    ``n_features`` d defaults to 2 and ``n_classes`` k to 2; ``noise`` does not apply.

    Example
    -------
    >>> X, y = random(5, None, seed=0)
    >>> X.shape, sorted(set(y.tolist())) <= [0, 1]
    ((5, 2), True)
    """
    check_args("random", n_samples, label_noise, imbalance)
    k, d = classes_and_features("random", n_classes, n_features, default_classes=2)

    def draw(n: int, s: int) -> Arrays:
        g = torch.Generator().manual_seed(s)
        X = torch.randn(n, d, generator=g)  # (n, d)
        return X.numpy(), torch.randint(0, k, (n,), generator=g).numpy()

    return finish_classification("random", draw, n_samples, seed, k, label_noise, imbalance)


__all__ = ["DEFAULT_NOISE", "blobs", "circles", "disk", "flip_labels", "gaussians", "line",
           "linear", "moons", "random", "spiral", "xor"]
