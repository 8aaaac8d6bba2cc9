"""Classification and regression metrics, computed with scikit-learn's functions.

Example
-------
>>> import numpy as np
>>> y = np.array([0, 1, 1, 0])
>>> p = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
>>> m = classification_metrics(y, p, task="binary")
>>> m["accuracy"], m["confusion_matrix"]
(0.5, [[1, 1], [1, 1]])
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import sklearn.metrics as skm

CLASSIFICATION_KEYS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
REGRESSION_KEYS = ("r2", "mae", "rmse")


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def predict_labels(proba: np.ndarray, task: str, threshold: float = 0.5) -> np.ndarray:
    """Probabilities -> class indices (binary, multiclass) or 0/1 matrices (multilabel)."""
    if task == "binary":
        return (proba[:, 1] >= threshold).astype(np.int64)
    if task == "multilabel":
        return (proba >= threshold).astype(np.int64)
    return proba.argmax(axis=1).astype(np.int64)


def classification_metrics(y: np.ndarray, proba: np.ndarray, *, task: str,
                           threshold: float = 0.5, n_classes: int | None = None,
                           sample_weight: np.ndarray | None = None) -> dict[str, Any]:
    """Accuracy, precision, recall, F1, ROC-AUC, log loss and the confusion matrix.

    ``y`` holds class indices (n,) or a 0/1 matrix (n, L) for multilabel; ``proba`` is (n, k).
    Binary scores are for the positive class (index 1), with their macro averages beside
    them (``precision_macro``, ``recall_macro``, ``f1_macro``); multiclass and multilabel are
    macro-averaged over all ``k`` classes, present or not, so every split averages the same
    set. ROC-AUC is ``None`` where it is undefined (one class present).
    """
    y = np.asarray(y)
    proba = np.asarray(proba, dtype=np.float64)
    k = n_classes or proba.shape[1]
    pred = predict_labels(proba, task, threshold)
    avg = "binary" if task == "binary" else "macro"
    out: dict[str, Any] = {"n": len(y)}
    if len(y) == 0:
        return out
    w = sample_weight
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined precision on a class never predicted -> 0
        out["accuracy"] = float(skm.accuracy_score(y, pred, sample_weight=w))
        labels = list(range(k))  # every class, so train and test average the same set
        p, r, f, _ = skm.precision_recall_fscore_support(
            y, pred, average=avg, labels=None if task == "binary" else labels,
            zero_division=0, sample_weight=w)
        out.update(precision=float(p), recall=float(r), f1=float(f))  # type: ignore[arg-type]
        if task == "binary":  # the macro averages beside the positive class's scores
            p, r, f, _ = skm.precision_recall_fscore_support(
                y, pred, average="macro", labels=labels, zero_division=0, sample_weight=w)
            out.update(precision_macro=float(p), recall_macro=float(r),  # type: ignore[arg-type]
                       f1_macro=float(f))
        out["roc_auc"] = _roc_auc(y, proba, task, k, w)
        clipped = np.clip(proba, 1e-15, 1 - 1e-15)
        if task == "multilabel":
            ll = -np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))
        else:
            ll = skm.log_loss(y, clipped / clipped.sum(axis=1, keepdims=True),
                              labels=list(range(k)), sample_weight=w)
        out["log_loss"] = _finite(float(ll))
    if task == "multilabel":
        out["confusion_matrix"] = skm.multilabel_confusion_matrix(y, pred).tolist()
    else:
        out["confusion_matrix"] = skm.confusion_matrix(y, pred, labels=list(range(k))).tolist()
    return out


def _roc_auc(y: np.ndarray, proba: np.ndarray, task: str, k: int,
             w: np.ndarray | None) -> float | None:
    try:
        if task == "binary":
            return _finite(skm.roc_auc_score(y, proba[:, 1], sample_weight=w))
        if task == "multilabel":
            return _finite(skm.roc_auc_score(y, proba, average="macro", sample_weight=w))
        present = np.unique(y)
        if len(present) < 2:
            return None
        if len(present) < k:  # one-vs-rest over the classes that occur
            probs = proba[:, present] / proba[:, present].sum(axis=1, keepdims=True)
            return _finite(skm.roc_auc_score(y, probs, multi_class="ovr", labels=present,
                                             sample_weight=w))
        return _finite(skm.roc_auc_score(y, proba, multi_class="ovr", sample_weight=w))
    except ValueError:
        return None


def regression_metrics(y: np.ndarray, pred: np.ndarray,
                       sample_weight: np.ndarray | None = None) -> dict[str, Any]:
    """R², MAE and RMSE (averaged over targets)."""
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    pred = np.asarray(pred, dtype=np.float64).reshape(len(pred), -1)
    out: dict[str, Any] = {"n": len(y)}
    if len(y) == 0:
        return out
    out["r2"] = _finite(skm.r2_score(y, pred, sample_weight=sample_weight)) if len(y) > 1 \
        else None
    out["mae"] = float(skm.mean_absolute_error(y, pred, sample_weight=sample_weight))
    out["rmse"] = float(math.sqrt(skm.mean_squared_error(y, pred, sample_weight=sample_weight)))
    return out


def classification_report(y: np.ndarray, proba: np.ndarray, *, task: str,
                          class_names: list[str], threshold: float = 0.5) -> str:
    """scikit-learn's text report with the original class names."""
    pred = predict_labels(np.asarray(proba), task, threshold)
    labels = list(range(len(class_names)))
    kw: dict[str, Any] = {} if task == "multilabel" else {"labels": labels}
    return str(skm.classification_report(y, pred, target_names=[str(c) for c in class_names],
                                         zero_division=0, **kw))

