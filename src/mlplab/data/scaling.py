"""Per-column statistics of the numeric preprocessing: scaling, missing-value fill, the
smooth clip of robust scaling. :class:`~mlplab.data.encoders.Preprocessor` fits and applies
them; the predictor and the ONNX graph fold them into the first layer.

Example
-------
>>> scaling(np.array([1.0, 2.0, 3.0, 4.0]), "minmax")
(1.0, 3.0)
>>> numeric_fill(np.array([1.0, 5.0, 5.0]), "most_frequent")
5.0
"""

from __future__ import annotations

import numpy as np

CLIP = 3.0  # robust scaling bends values smoothly towards +-CLIP (RealMLP's smooth clip)


def smooth_clip(x: np.ndarray) -> np.ndarray:
    """``x / sqrt(1 + (x / 3)^2)``: close to ``x`` near 0, never beyond +-3.

    >>> smooth_clip(np.array([0.0, 1.0, 1e9])).round(3).tolist()
    [0.0, 0.949, 3.0]
    """
    return x / np.sqrt(1.0 + (x / CLIP) ** 2)  # type: ignore[no-any-return]


def numeric_fill(seen: np.ndarray, impute: str) -> float:
    """The value a numeric column's missing entries get: mean, median or the most frequent
    training value (``impute``); 0 when training saw none."""
    if len(seen) == 0:
        return 0.0  # nothing observed in training: neutral value
    if impute == "mean":
        return float(seen.mean())
    if impute == "median":
        return float(np.median(seen))
    values, counts = np.unique(seen, return_counts=True)  # ties -> the smallest value
    return float(values[np.argmax(counts)])


def scaling(vals: np.ndarray, scale: str) -> tuple[float, float]:
    """(center, spread) so that ``(x - center) / spread`` is the scaled value."""
    if scale == "standard":
        center, spread = float(vals.mean()), float(vals.std())
    elif scale == "robust":  # median and IQR; a constant-ish column falls back to std
        q25, center, q75 = (float(q) for q in np.quantile(vals, [0.25, 0.5, 0.75]))
        spread = q75 - q25 if q75 > q25 else float(vals.std())
    elif scale == "minmax":
        center, spread = float(vals.min()), float(vals.max() - vals.min())
    else:
        center, spread = 0.0, 1.0
    return center, spread if spread > 0 and np.isfinite(spread) else 1.0


__all__ = ["CLIP", "numeric_fill", "scaling", "smooth_clip"]
