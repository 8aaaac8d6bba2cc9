"""Real datasets that ship with mlplab or scikit-learn; nothing is downloaded.

Each loader returns ``(X, y)``: the features with their real column names and a one-column
target frame holding the ORIGINAL class labels (``"setosa"``, ``"malignant"``, ``"Adelie"``,
digits 0-9), so saved models report the names people know.

Example
-------
>>> X, y = iris()
>>> X.shape, list(y.columns), sorted(y["species"].unique())
((150, 4), ['species'], ['setosa', 'versicolor', 'virginica'])
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd
import sklearn.datasets as skd

Frames = tuple[pd.DataFrame, pd.DataFrame]

PENGUINS_TARGET = "species"


def _from_sklearn(bunch: object, target: str, named: bool) -> Frames:
    """Split a scikit-learn ``Bunch`` (``as_frame=True``) into features and labelled target."""
    X = bunch.data.reset_index(drop=True)  # type: ignore[attr-defined]
    codes = np.asarray(bunch.target)  # type: ignore[attr-defined]
    if named:
        names = [str(t) for t in bunch.target_names]  # type: ignore[attr-defined]
        y = pd.DataFrame({target: pd.Series([names[i] for i in codes], dtype="str")})
    else:
        y = pd.DataFrame({target: codes.astype(np.int64)})
    return X, y


def breast_cancer() -> Frames:
    """Wisconsin diagnostic breast cancer: 569 rows, 30 features, "malignant"/"benign"."""
    return _from_sklearn(skd.load_breast_cancer(as_frame=True), "diagnosis", named=True)


def iris() -> Frames:
    """Fisher's iris: 150 rows, 4 measurements (cm), 3 species."""
    return _from_sklearn(skd.load_iris(as_frame=True), "species", named=True)


def wine() -> Frames:
    """Wine recognition: 178 rows, 13 chemical features, cultivars "class_0".."class_2"."""
    return _from_sklearn(skd.load_wine(as_frame=True), "cultivar", named=True)


def digits() -> Frames:
    """Handwritten digits: 1797 rows of 8x8 pixel intensities (0-16), labels 0-9."""
    return _from_sklearn(skd.load_digits(as_frame=True), "digit", named=False)


def penguins() -> Frames:
    """Palmer penguins: 344 rows, mixed numeric/categorical features, missing values.

    Read from the CSV shipped in ``mlplab/datasets`` (CC0, see its README). The target is
    ``species`` (Adelie, Chinstrap, Gentoo); the features are island, the four body
    measurements, sex and year.

    Example
    -------
    >>> X, y = penguins()
    >>> X.shape, int(X["sex"].isna().sum()), y["species"].nunique()
    ((344, 7), 11, 3)
    """
    path = resources.files("mlplab") / "datasets" / "penguins.csv"
    with path.open("r", encoding="utf-8") as f:
        frame = pd.read_csv(f, na_values=["NA"], keep_default_na=True)
    y = frame[[PENGUINS_TARGET]].copy()
    X = frame.drop(columns=[PENGUINS_TARGET])
    return X, y


__all__ = ["breast_cancer", "digits", "iris", "penguins", "wine"]
