"""Classification and regression metrics: scikit-learn's functions, and their batched twins.

:func:`classification_metrics` and :func:`regression_metrics` call scikit-learn. A sweep's K
members need the same numbers for K predictions at once: :func:`classification_metrics_batch`
and :func:`regression_metrics_batch` compute them over (K, n) arrays in a few NumPy calls
(scikit-learn's input checks cost more than the arithmetic at this size), and
``tests/test_metrics.py`` proves them equal to the scikit-learn path on random inputs and
edge cases (one class, ties, classes never predicted).

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
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import sklearn.metrics as skm
from scipy.stats import rankdata

if TYPE_CHECKING:
    from mlplab.tasks import TaskSpec

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


def metrics_for(task: TaskSpec, y: np.ndarray, pred: np.ndarray, *,
                n_classes: int | None = None,
                unscale: Callable[[np.ndarray], np.ndarray] | None = None,
                sample_weight: np.ndarray | None = None) -> dict[str, Any]:
    """The final metrics of ``task``'s predictions: the one definition that the run's metrics
    per split, the streamed test metrics and :meth:`Run.evaluate <mlplab.runs.run.Run>` use.

    ``y`` holds encoded targets (class indices, 0/1 label sets, or regression targets in the
    model's units); ``pred`` is ``task.proba(outputs)``: probabilities, or values in the
    model's units (``exp`` of a poisson head's log-rates). Regression is scored in the
    target's own units: ``unscale`` (the target encoder's ``inverse_values``) maps both back.
    The per-epoch score of the history and the playground is :meth:`TaskSpec.score`.

    Example
    -------
    >>> from mlplab.tasks import resolve_task
    >>> t = resolve_task("regression", n_classes=1, n_targets=1, loss="mse", output="logits")
    >>> metrics_for(t, np.array([[1.0], [2.0], [3.0]]), np.array([[1.0], [2.0], [4.0]]))
    {'n': 3, 'r2': 0.5, 'mae': 0.3333333333333333, 'rmse': 0.5773502691896257}
    """
    if task.is_classification:
        return classification_metrics(y, pred, task=task.name, threshold=task.threshold,
                                      n_classes=n_classes, sample_weight=sample_weight)
    back = unscale or (lambda a: a)
    return regression_metrics(back(y), back(pred), sample_weight=sample_weight)


# --- batched over K members ---------------------------------------------------------------


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, 0 where den is 0 (scikit-learn's ``zero_division=0``)."""
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den != 0)


def _prf(tp: np.ndarray, pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, ...]:
    """Precision, recall and F1 from counts (float64), as precision_recall_fscore_support."""
    tp, pred, true = (a.astype(np.float64) for a in (tp, pred, true))
    return _ratio(tp, pred), _ratio(tp, true), _ratio(2.0 * tp, true + pred)


def _auc(pos: np.ndarray, score: np.ndarray) -> np.ndarray:
    """ROC AUC of each row (K, n) (Mann-Whitney with mid-ranks, which is the trapezoidal
    AUC of the ROC curve); NaN where a row holds one class only."""
    ranks = rankdata(score, axis=-1)
    n_pos = pos.sum(-1).astype(np.float64)
    n_neg = pos.shape[-1] - n_pos
    u = (ranks * pos).sum(-1) - n_pos * (n_pos + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), u / (n_pos * n_neg), np.nan)


def _roc_auc_batch(y: np.ndarray, proba: np.ndarray, task: str, k: int) -> list[float | None]:
    if task == "binary":
        return [_finite(a) for a in _auc(y == 1, proba[..., 1])]
    if task == "multilabel":  # macro over labels; undefined if any label has one class
        per = _auc(np.moveaxis(y, -1, 1) == 1, np.moveaxis(proba, -1, 1))  # (K, L)
        return [_finite(float(a.mean())) for a in per]
    out: list[float | None] = []
    for yk, pk in zip(y, proba, strict=True):  # one-vs-rest over the classes that occur
        present = np.unique(yk)
        if len(present) < 2:
            out.append(None)
            continue
        probs = pk[:, present] / pk[:, present].sum(axis=1, keepdims=True) \
            if len(present) < k else pk
        per = _auc(yk[None, :] == present[:, None], probs.T)
        out.append(_finite(float(per.mean())))
    return out


def classification_metrics_batch(y: np.ndarray, proba: np.ndarray, *, task: str,
                                 threshold: float = 0.5,
                                 n_classes: int | None = None) -> list[dict[str, Any]]:
    """:func:`classification_metrics` of K members at once (no sample weights).

    ``y`` holds each member's class indices (K, n) or 0/1 matrices (K, n, L); ``proba`` is
    (K, n, k). Returns K dicts equal to ``classification_metrics(y[i], proba[i], ...)``.

    Example
    -------
    >>> y = np.array([[0, 1, 1, 0], [1, 1, 1, 1]])
    >>> p1 = np.array([[0.1, 0.8, 0.4, 0.3], [0.9, 0.8, 0.7, 0.2]])
    >>> a, b = classification_metrics_batch(y, np.stack([1 - p1, p1], -1), task="binary")
    >>> a["accuracy"], a["roc_auc"], b["recall"], b["roc_auc"]
    (0.75, 1.0, 0.75, None)
    """
    y = np.asarray(y)
    proba = np.asarray(proba, dtype=np.float64)
    K, n = proba.shape[:2]
    k = n_classes or proba.shape[-1]
    if n == 0:
        return [{"n": 0} for _ in range(K)]
    if task == "binary":
        pred = (proba[..., 1] >= threshold).astype(np.int64)
    elif task == "multilabel":
        pred = (proba >= threshold).astype(np.int64)
    else:
        pred = proba.argmax(-1)
    if task == "multilabel":  # per label [[tn, fp], [fn, tp]] (K, L, 2, 2)
        cell = 2 * np.moveaxis(y, -1, 1).astype(np.int64) + np.moveaxis(pred, -1, 1)
        L = cell.shape[1]
        offs = (np.arange(K)[:, None, None] * L + np.arange(L)[None, :, None]) * 4
        cm: np.ndarray = np.bincount((offs + cell).ravel(),
                                     minlength=K * L * 4).reshape(K, L, 2, 2)
        p, r, f = _prf(cm[..., 1, 1], cm[..., :, 1].sum(-1), cm[..., 1, :].sum(-1))
        acc = (y == pred).all(-1).mean(-1)
    else:
        offs = np.arange(K)[:, None] * k * k
        cm = np.bincount((offs + y.astype(np.int64) * k + pred).ravel(),
                         minlength=K * k * k).reshape(K, k, k)
        tp = np.diagonal(cm, axis1=1, axis2=2)
        p, r, f = _prf(tp, cm.sum(1), cm.sum(2))  # predicted (column) and true (row) sums
        acc = (y == pred).mean(-1)
    if task == "binary":
        scores = {"precision": p[:, 1], "recall": r[:, 1], "f1": f[:, 1],
                  "precision_macro": p.mean(-1), "recall_macro": r.mean(-1),
                  "f1_macro": f.mean(-1)}
    else:
        scores = {"precision": p.mean(-1), "recall": r.mean(-1), "f1": f.mean(-1)}
    clipped = np.clip(proba, 1e-15, 1 - 1e-15)
    if task == "multilabel":
        ll = -(y * np.log(clipped) + (1 - y) * np.log(1 - clipped)).reshape(K, -1).mean(-1)
    else:
        eps = np.finfo(np.float64).eps  # scikit-learn's clip after the normalisation
        norm = np.clip(clipped / clipped.sum(-1, keepdims=True), eps, 1 - eps)
        ll = -np.log(np.take_along_axis(norm, y[..., None].astype(np.int64), -1)[..., 0]
                     ).mean(-1)
    auc = _roc_auc_batch(y, proba, task, k)
    return [{"n": n, "accuracy": float(acc[i]),
             **{key: float(v[i]) for key, v in scores.items()},
             "roc_auc": auc[i], "log_loss": _finite(float(ll[i])),
             "confusion_matrix": cm[i].tolist()} for i in range(K)]


def regression_metrics_batch(y: np.ndarray, pred: np.ndarray) -> list[dict[str, Any]]:
    """:func:`regression_metrics` of K members at once: ``y`` and ``pred`` (K, n, t).

    Example
    -------
    >>> y = np.array([[[1.0], [2.0], [3.0]]])
    >>> regression_metrics_batch(y, y + 1.0)[0]
    {'n': 3, 'r2': -0.5, 'mae': 1.0, 'rmse': 1.0}
    """
    y = np.asarray(y, dtype=np.float64)
    y = y.reshape(y.shape[0], y.shape[1], -1)
    pred = np.asarray(pred, dtype=np.float64).reshape(y.shape)
    K, n = y.shape[:2]
    if n == 0:
        return [{"n": 0} for _ in range(K)]
    num = ((y - pred) ** 2).sum(1)  # (K, t)
    den = ((y - y.mean(1, keepdims=True)) ** 2).sum(1)
    # scikit-learn's force_finite: a constant target scores 1 if predicted exactly, else 0
    r2 = np.where(den != 0, 1 - _ratio(num, den), np.where(num == 0, 1.0, 0.0)).mean(-1)
    mae = np.abs(pred - y).mean(1).mean(-1)
    rmse = np.sqrt(((pred - y) ** 2).mean(1).mean(-1))
    return [{"n": n, "r2": _finite(float(r2[i])) if n > 1 else None, "mae": float(mae[i]),
             "rmse": float(rmse[i])} for i in range(K)]


def classification_report(y: np.ndarray, proba: np.ndarray, *, task: str,
                          class_names: list[str], threshold: float = 0.5) -> str:
    """scikit-learn's text report with the original class names."""
    pred = predict_labels(np.asarray(proba), task, threshold)
    labels = list(range(len(class_names)))
    kw: dict[str, Any] = {} if task == "multilabel" else {"labels": labels}
    return str(skm.classification_report(y, pred, target_names=[str(c) for c in class_names],
                                         zero_division=0, **kw))

