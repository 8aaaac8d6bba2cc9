"""What every toy-data generator in :mod:`mlplab.data.synthetic` shares: the checks of its
arguments, what ``noise=None`` means, and the labels' post-processing (class imbalance by
resampling, seeded label flips).

Example
-------
>>> resolve_noise("circles", None), resolve_noise("circles", 0.2)
(0.03, 0.2)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mlplab.errors import ConfigError

Arrays = tuple[np.ndarray, np.ndarray]
Draw = Callable[[int, int], Arrays]  # (n rows, seed) -> (X (n, d), y (n,)), exactly n rows

# What noise=None means, per generator (the value tutorials use).
DEFAULT_NOISE: dict[str, float] = {
    "disk": 0.0,  # jitter added to the points after labelling
    "circles": 0.03,  # learnpytorch.io's make_circles(noise=0.03)
    "moons": 0.1,
    "blobs": 1.0,  # cluster_std
    "gaussians": 1.0,  # std of each cluster
    "xor": 0.0,  # jitter after labelling, as in the TF playground
    "spiral": 0.2,  # angle noise (radians), as in the CS231n spiral
    "linear": 2.0,  # std of the Gaussian noise on y (tutorial 003: torch.randn(100, 1) * 2)
    "line": 0.0,  # tutorial 002's straight line has no noise
    "random": 0.0,  # unused: the labels are already unrelated to the rows
}


def check_args(name: str, n_samples: int, label_noise: float,
               imbalance: float | None) -> None:
    """The arguments every generator takes: n_samples, label_noise and imbalance."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, int | np.integer) \
            or n_samples < 1:
        raise ConfigError(f"{name}: bad n_samples", expected="an integer >= 1",
                          found=repr(n_samples))
    if not 0.0 <= label_noise < 1.0:
        raise ConfigError(f"{name}: bad label_noise", expected="a fraction in [0, 1)",
                          found=repr(label_noise))
    if imbalance is not None and not 0.0 < imbalance < 1.0:
        raise ConfigError(f"{name}: bad imbalance", expected="a fraction in (0, 1)",
                          found=repr(imbalance), hint="e.g. --imbalance 0.1")


def classes_and_features(name: str, n_classes: int | None, n_features: int | None, *,
                         default_classes: int) -> tuple[int, int]:
    """(k classes, d features) of a generator with both settings (2 features by default)."""
    k = default_classes if n_classes is None else n_classes
    d = 2 if n_features is None else n_features
    if k < 2 or d < 1:
        raise ConfigError(f"{name}: bad shape", expected="n_classes >= 2 and n_features >= 1",
                          found=f"n_classes={k}, n_features={d}")
    return k, d


def only_2d(name: str, n_features: int | None) -> None:
    """Refuse ``n_features`` other than 2 for a 2-D generator."""
    if n_features is not None and n_features != 2:
        raise ConfigError(f"{name} data is 2-D", expected="n_features 2 or unset",
                          found=str(n_features), hint="n_features applies to blobs, "
                          "gaussians and linear")


def only_1d(name: str, n_features: int | None) -> None:
    """Refuse ``n_features`` other than 1 for a one-feature generator."""
    if n_features is not None and n_features != 1:
        raise ConfigError(f"{name} data has one feature", expected="n_features 1 or unset",
                          found=str(n_features))


def only_binary(name: str, n_classes: int | None) -> None:
    """Refuse ``n_classes`` other than 2 for a two-class generator."""
    if n_classes is not None and n_classes != 2:
        raise ConfigError(f"{name} data has 2 classes", expected="n_classes 2 or unset",
                          found=str(n_classes), hint="n_classes applies to blobs and spiral")


def planar_binary_noise(name: str, n_samples: int, noise: float | None, label_noise: float,
                        imbalance: float | None, n_classes: int | None,
                        n_features: int | None) -> float:
    """The checks of a 2-D, two-class generator (disk, circles, moons, xor); returns its noise.

    Example
    -------
    >>> planar_binary_noise("moons", 10, None, 0.0, None, None, 2)
    0.1
    """
    check_args(name, n_samples, label_noise, imbalance)
    only_2d(name, n_features)
    only_binary(name, n_classes)
    return resolve_noise(name, noise)


def rebalance(draw: Draw, n: int, seed: int, minority: float, name: str) -> Arrays:
    """Draw enough points, then keep ``round(minority * n)`` of class 1 and the rest class 0."""
    n1 = min(n - 1, max(1, round(minority * n))) if n > 1 else 1
    n0 = n - n1
    m = n
    for _ in range(12):  # doubling: at most 4096x the requested size
        X, y = draw(m, seed)
        idx0, idx1 = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
        if len(idx0) >= n0 and len(idx1) >= n1:
            rng = np.random.default_rng([seed, 2])
            keep = np.concatenate([rng.choice(idx0, n0, replace=False),
                                   rng.choice(idx1, n1, replace=False)])
            keep = keep[rng.permutation(n)]  # mix the classes again
            return X[keep], y[keep]
        m *= 2
    raise ConfigError(f"{name}: cannot reach imbalance {minority}",
                      hint="use a value closer to 0.5")


def flip_labels(y: np.ndarray, n_classes: int, fraction: float, seed: int) -> np.ndarray:
    """Move ``round(fraction * n)`` seeded-random labels to a different random class.

    Example
    -------
    >>> y = np.zeros(10, dtype=np.int64)
    >>> int((flip_labels(y, 2, 0.3, seed=0) != y).sum())
    3
    """
    if fraction <= 0:
        return y
    rng = np.random.default_rng([seed, 1])  # its own stream: the points do not move
    n_flip = round(fraction * len(y))
    idx = rng.choice(len(y), n_flip, replace=False)
    out = y.copy()
    # adding 1..k-1 modulo k always lands on another class
    out[idx] = (out[idx] + rng.integers(1, n_classes, size=n_flip)) % n_classes
    return out


def finish_classification(name: str, draw: Draw, n_samples: int, seed: int, n_classes: int,
                          label_noise: float, imbalance: float | None) -> Arrays:
    """``draw`` n rows (resampled to ``imbalance`` if set), flip ``label_noise`` of the labels,
    and return float32 X and int64 y."""
    if imbalance is not None and n_classes != 2:
        raise ConfigError(f"{name}: imbalance needs two classes", found=f"{n_classes} classes",
                          hint="drop --imbalance or use n_classes 2")
    if imbalance is None:
        X, y = draw(n_samples, seed)
    else:
        X, y = rebalance(draw, n_samples, seed, imbalance, name)
    y = flip_labels(np.asarray(y, dtype=np.int64), n_classes, label_noise, seed)
    return np.ascontiguousarray(X, dtype=np.float32), y


def resolve_noise(name: str, noise: float | None) -> float:
    """``noise``, or the generator's default for None; refuses negatives and NaN."""
    value = DEFAULT_NOISE[name] if noise is None else float(noise)
    if not value >= 0:  # also rejects NaN
        raise ConfigError(f"{name}: bad noise", expected="a number >= 0", found=repr(noise))
    return value


def shuffled(X: np.ndarray, y: np.ndarray, seed: int) -> Arrays:
    """The rows in a seeded random order (a stream of its own: the points do not move)."""
    perm = np.random.default_rng([seed, 3]).permutation(len(y))
    return X[perm], y[perm]


def regression_only(name: str, label_noise: float, imbalance: float | None,
                    n_classes: int | None) -> None:
    """Refuse the classification-only settings for a regression generator."""
    if label_noise > 0 or imbalance is not None or n_classes is not None:
        raise ConfigError(f"{name} is a regression dataset",
                          found="label_noise, imbalance or n_classes set",
                          hint="these apply to classification datasets only")


__all__ = ["DEFAULT_NOISE", "Arrays", "Draw", "check_args", "classes_and_features",
           "finish_classification", "flip_labels", "only_1d", "only_2d", "only_binary",
           "planar_binary_noise", "rebalance", "regression_only", "resolve_noise", "shuffled"]
