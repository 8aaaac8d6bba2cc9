"""Curves and tables as figures: learning curves (with the learning rate), confusion matrices,
ROC and precision-recall curves (one-vs-rest), calibration, and regression fits/residuals.

Every number drawn comes from scikit-learn's functions on the same inputs, so the figures can
be checked against them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sklearn.metrics as skm
from matplotlib.figure import Figure

from mlplab.inspect.plots.style import (
    INK,
    SPLIT_COLORS,
    SPLIT_MARKERS,
    SPLIT_STYLES,
    class_colors,
    house_style,
    new_figure,
    styled,
)

_SPLITS = ("train", "val", "test")
LEGEND_INSIDE_MAX = 8  # more curves than this: their legend goes under the axes
LEGEND_COLUMNS = 3


def _series(history: list[dict[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    pts = [(r["epoch"], r[key]) for r in history
           if r.get(key) is not None and r.get(key) == r.get(key)]  # drop None and NaN
    if not pts:
        return np.zeros(0), np.zeros(0)
    e, v = zip(*pts, strict=True)
    return np.asarray(e, dtype=np.float64), np.asarray(v, dtype=np.float64)


@house_style
def learning_curves(history: list[dict[str, Any]], *, score: str = "accuracy",
                    marker_epoch: int | None = None) -> Figure:
    """Loss (left, with the learning rate on a second axis) and ``score`` (right) per epoch,
    train / val / test on shared axes. The accuracy axis fits every curve drawn; accuracy
    given in percent (a value above 1) is drawn as a fraction.

    Example
    -------
    >>> h = [{"epoch": e, "train_loss": 1 / e, "test_loss": 1.2 / e, "train_accuracy": 0.9,
    ...       "test_accuracy": 0.85, "lr": 0.01} for e in (1, 2, 3)]
    >>> [ax.get_title() for ax in learning_curves(h).axes][:2]
    ['Loss', 'Accuracy']
    """
    fig = new_figure(8.6, 3.3)
    ax_loss, ax_score = fig.subplots(1, 2)
    drawn: list[np.ndarray] = []  # every score value drawn: the axis must fit them all
    for split in _SPLITS:
        e, v = _series(history, f"{split}_loss")
        if len(e):
            ax_loss.plot(e, v, SPLIT_STYLES[split], color=SPLIT_COLORS[split], lw=1.8,
                         label=split)
        e, v = _series(history, f"{split}_{score}")
        if len(e) and score == "accuracy" and v.max() > 1:
            v = v / 100  # accuracy given in percent (50, 60, 70): shown as fractions
        if len(e):
            drawn.append(v)
            ax_score.plot(e, v, SPLIT_STYLES[split], color=SPLIT_COLORS[split], lw=1.8,
                          label=split)
    losses = [r[k] for r in history for k in ("train_loss", "val_loss", "test_loss")
              if isinstance(r.get(k), float) and r[k] > 0]
    if losses and max(losses) / max(min(losses), 1e-12) > 30:
        ax_loss.set_yscale("log")  # losses that fall by orders of magnitude
    e, lr = _series(history, "lr")
    if len(e):
        ax_lr = ax_loss.twinx()
        ax_lr.plot(e, lr, color="#999999", lw=1.0, ls="-.", label="learning rate")
        ax_lr.set_ylabel("learning rate", color="#777777")
        ax_lr.tick_params(axis="y", colors="#777777", labelsize=7)
        ax_lr.spines["right"].set_visible(True)
        if lr.min() > 0 and lr.max() / lr.min() > 20:
            ax_lr.set_yscale("log")
        elif lr.max() == lr.min():
            ax_lr.set_ylim(0, lr.max() * 2)
        h1, l1 = ax_loss.get_legend_handles_labels()
        h2, l2 = ax_lr.get_legend_handles_labels()
        ax_loss.legend(h1 + h2, l1 + l2, loc="upper right")
    else:
        ax_loss.legend(loc="upper right")
    ax_loss.set_title("Loss")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_score.set_title("R²" if score == "r2" else score.capitalize())
    ax_score.set_xlabel("epoch")
    ax_score.set_ylabel(score)
    if score == "accuracy" and drawn:
        ax_score.set_ylim(max(0.0, min(float(v.min()) for v in drawn) - 0.05), 1.01)
    ax_score.legend(loc="lower right")
    if marker_epoch is not None:
        for ax in (ax_loss, ax_score):
            ax.axvline(marker_epoch, color=INK, lw=0.8, alpha=0.6)
    return styled(fig)


def confusion_counts(y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """(k, k) counts: rows are true classes, columns predictions (scikit-learn's layout)."""
    return skm.confusion_matrix(y, pred, labels=list(range(k)))


@house_style
def confusion_figure(y: np.ndarray, pred: np.ndarray, class_names: list[str], *,
                     split: str = "test") -> Figure:
    """Confusion matrix as counts (left) and normalised by true class (right).

    Example
    -------
    >>> fig = confusion_figure(np.array([0, 1, 1]), np.array([0, 1, 0]), ["a", "b"])
    >>> sorted(t.get_text() for t in fig.axes[0].texts)
    ['0', '1', '1', '1']
    """
    k = len(class_names)
    cm = confusion_counts(np.asarray(y).reshape(-1), np.asarray(pred).reshape(-1), k)
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = np.nan_to_num(cm / cm.sum(axis=1, keepdims=True))
    side = min(3.0 + 0.35 * k, 8.0)
    fig = new_figure(2 * side + 0.8, side)
    axes = fig.subplots(1, 2)
    for ax, mat, fmt, name in ((axes[0], cm, "d", "counts"), (axes[1], norm, ".2f",
                                                                 "normalised by true class")):
        img = ax.imshow(mat, cmap="Blues", vmin=0, vmax=mat.max() if mat.max() > 0 else 1)
        if k <= 20:
            for i in range(k):
                for j in range(k):
                    dark = mat[i, j] > 0.6 * (mat.max() or 1)
                    ax.text(j, i, format(mat[i, j], fmt), ha="center", va="center",
                            fontsize=8 if k < 10 else 6, color="white" if dark else INK)
        ticks = np.arange(k)
        ax.set_xticks(ticks, [str(c) for c in class_names], rotation=45 if k > 4 else 0,
                      ha="right" if k > 4 else "center")
        ax.set_yticks(ticks, [str(c) for c in class_names])
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"Confusion matrix ({name}, {split})", fontsize=9)
        fig.colorbar(img, ax=ax, shrink=0.8)
    return fig


def _one_vs_rest(y: np.ndarray, proba: np.ndarray, task: str) -> list[tuple[int, np.ndarray,
                                                                            np.ndarray]]:
    """(class index, 0/1 truth, score) per curve: one for binary, one per class / label."""
    if task == "binary":
        return [(1, (np.asarray(y).reshape(-1) == 1).astype(int), proba[:, 1])]
    if task == "multilabel":
        return [(j, np.asarray(y)[:, j].astype(int), proba[:, j]) for j in range(proba.shape[1])]
    yy = np.asarray(y).reshape(-1)
    return [(j, (yy == j).astype(int), proba[:, j]) for j in range(proba.shape[1])]


@house_style
def roc_pr_figure(y: np.ndarray, proba: np.ndarray, class_names: list[str], task: str, *,
                  split: str = "test") -> Figure:
    """ROC (left) and precision-recall (right) curves with AUC / average precision;
    one-vs-rest per class for multiclass and per label for multilabel."""
    fig = new_figure(8.6, 3.6)
    ax_roc, ax_pr = fig.subplots(1, 2)
    colors = class_colors(max(len(class_names), 2))
    both: list[tuple[Any, str]] = []  # (line, "name  AUC  AP") for a legend below the axes
    for j, truth, score in _one_vs_rest(y, np.asarray(proba), task):
        if truth.min() == truth.max():
            continue  # a class absent from (or alone in) this split has no curve
        name = class_names[j] if task != "binary" else f"{class_names[1]} (positive)"
        fpr, tpr, _ = skm.roc_curve(truth, score)
        auc = skm.auc(fpr, tpr)
        line, = ax_roc.plot(fpr, tpr, color=colors[j], lw=1.8, label=f"{name}  AUC {auc:.3f}")
        prec, rec, _ = skm.precision_recall_curve(truth, score)
        ap = skm.average_precision_score(truth, score)
        ax_pr.plot(rec, prec, color=colors[j], lw=1.8, drawstyle="steps-post",
                   label=f"{name}  AP {ap:.3f}")
        ax_pr.axhline(truth.mean(), color=colors[j], lw=0.6, ls=":", alpha=0.8)
        both.append((line, f"{name}  AUC {auc:.3f}  AP {ap:.3f}"))
    ax_roc.plot([0, 1], [0, 1], color="#AAAAAA", lw=0.8, ls="--", label="chance")
    ovr = " (one-vs-rest)" if task != "binary" else ""
    ax_roc.set(title=f"ROC{ovr}, {split}", xlabel="false positive rate",
               ylabel="true positive rate", xlim=(-0.01, 1.01), ylim=(-0.01, 1.01))
    ax_pr.set(title=f"Precision-recall{ovr}, {split}", xlabel="recall", ylabel="precision",
              xlim=(-0.01, 1.01), ylim=(-0.01, 1.04))
    if len(both) <= LEGEND_INSIDE_MAX:
        ax_roc.legend(loc="lower right")
        ax_pr.legend(loc="lower left")
    else:  # many classes: one legend in columns under both plots, the figure grown to fit
        rows = -(-len(both) // LEGEND_COLUMNS)
        fig.set_size_inches(8.6, 3.6 + 0.16 * rows)
        fig.legend(*zip(*both, strict=True), loc="outside lower center", ncol=LEGEND_COLUMNS,
                   fontsize=6.5, frameon=False)
    return styled(fig)


@house_style
def calibration_figure(y: np.ndarray, proba: np.ndarray, *, split: str = "test",
                       n_bins: int = 10) -> Figure:
    """Binary calibration: observed frequency of class 1 against the predicted probability,
    with the histogram of predicted probabilities below."""
    from sklearn.calibration import calibration_curve

    p1 = np.asarray(proba)[:, 1]
    truth = np.asarray(y).reshape(-1).astype(int)
    frac, mean_pred = calibration_curve(truth, p1, n_bins=n_bins, strategy="uniform")
    fig = new_figure(4.4, 4.6)
    ax, ax_h = fig.subplots(2, 1, height_ratios=[3, 1], sharex=True)
    ax.plot([0, 1], [0, 1], color="#AAAAAA", ls="--", lw=0.8, label="perfectly calibrated")
    ax.plot(mean_pred, frac, "-", color=SPLIT_COLORS.get(split, "#D55E00"), lw=1.8,
            marker=SPLIT_MARKERS.get(split, "o"), label=split)
    brier = skm.brier_score_loss(truth, p1)
    ax.set(title=f"Calibration ({split}, Brier {brier:.3f})",
           ylabel="observed fraction of class 1", xlim=(0, 1), ylim=(-0.02, 1.02))
    ax.legend(loc="upper left")
    ax_h.hist(p1, bins=n_bins, range=(0, 1), color="#56B4E9", edgecolor="white")
    ax_h.set(xlabel="predicted P(class 1)", ylabel="count")
    return styled(fig)


@house_style
def residuals_figure(y: np.ndarray, pred: np.ndarray, target: str, *,
                     split: str = "test") -> Figure:
    """Regression: predicted against true (left) and residuals against predicted (right)."""
    yy = np.asarray(y, dtype=np.float64).reshape(len(y), -1)[:, 0]
    pp = np.asarray(pred, dtype=np.float64).reshape(len(pred), -1)[:, 0]
    fig = new_figure(8.0, 3.5)
    ax_fit, ax_res = fig.subplots(1, 2)
    lo, hi = float(min(yy.min(), pp.min())), float(max(yy.max(), pp.max()))
    color = SPLIT_COLORS.get(split, "#D55E00")
    ax_fit.plot([lo, hi], [lo, hi], color="#AAAAAA", ls="--", lw=0.8, label="y = ŷ")
    ax_fit.scatter(yy, pp, s=12, color=color, alpha=0.7, label=split,
                   marker=SPLIT_MARKERS.get(split, "o"))
    r2 = skm.r2_score(yy, pp) if len(yy) > 1 else float("nan")
    ax_fit.set(title=f"Predicted vs true ({split}, R² {r2:.3f})", xlabel=f"true {target}",
               ylabel=f"predicted {target}")
    ax_fit.legend(loc="upper left")
    ax_res.axhline(0, color=INK, lw=0.8)
    ax_res.scatter(pp, yy - pp, s=12, color=color, alpha=0.7, marker=SPLIT_MARKERS.get(split,
                                                                                       "o"))
    ax_res.set(title="Residuals", xlabel=f"predicted {target}", ylabel="true − predicted")
    return styled(fig)


@house_style
def compare_curves(histories: list[list[dict[str, Any]]], labels: list[str]) -> Figure:
    """Several runs' loss curves on shared axes: train solid, held-out dashed, one colour
    per run."""
    fig = new_figure(8.6, 3.4)
    ax_tr, ax_ho = fig.subplots(1, 2, sharey=True)
    colors = class_colors(len(labels))
    for hist, label, color in zip(histories, labels, colors, strict=True):
        e, v = _series(hist, "train_loss")
        ax_tr.plot(e, v, color=color, lw=1.8, label=label)
        for split in ("val", "test"):
            e, v = _series(hist, f"{split}_loss")
            if len(e):
                ax_ho.plot(e, v, "--", color=color, lw=1.8, label=f"{label} ({split})")
                break
    ax_tr.set(title="Train loss", xlabel="epoch", ylabel="loss")
    ax_ho.set(title="Held-out loss", xlabel="epoch")
    ax_tr.legend()
    ax_ho.legend()
    return styled(fig)


__all__ = ["calibration_figure", "compare_curves", "confusion_counts", "confusion_figure",
           "learning_curves", "residuals_figure", "roc_pr_figure"]
