"""scikit-learn's end-of-epoch rules for the estimators, as a callback of ``training.loop.fit``.

What ``MLPClassifier._fit_stochastic`` does after each epoch, in the same order: record the
epoch's loss (mean train loss + the L2 term) in ``loss_curve_`` and ``loss_``, count
``t_``, print ``Iteration i, loss = ...`` when verbose, score the validation rows
(``validation_scores_``, ``Validation score: ...``) or compare the training loss with
``best_loss_``, apply ``solver='sgd'``'s ``invscaling`` / ``adaptive`` learning rates, and stop
after ``n_iter_no_change`` epochs without an improvement of ``tol``. With early stopping the
best-scoring weights come back at the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.metrics import accuracy_score, r2_score

from mlplab.training.callbacks import Callback
from mlplab.training.loop import TrainState
from mlplab.training.step import EVAL_CHUNK


@dataclass
class ValRows:
    """The early-stopping rows: inputs as trained on (a tensor or CSR rows), the encoded
    targets (class indices, a 0/1 matrix or values) and their sample weights."""

    X: Any
    Y: np.ndarray
    w: np.ndarray | None


def val_score(state: TrainState, val: ValRows) -> float:
    """scikit-learn's validation score: accuracy (subset accuracy for multi-label) or R²
    averaged over targets (``r2_score``'s default, 0 for a constant target), weighted by
    the rows' sample weights; nan when a prediction is not finite (gh-29504)."""
    model, task = state.model, state.task
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            outs = [model(val.X[i:i + EVAL_CHUNK]) for i in range(0, len(val.X), EVAL_CHUNK)]
    finally:
        model.train(was_training)
    out = (torch.cat(outs) if len(outs) > 1 else outs[0]).double().cpu()
    pred = task.proba(out)
    if not bool(torch.isfinite(pred).all()):
        return math.nan
    if task.name == "regression":
        return float(r2_score(val.Y, pred.numpy(), sample_weight=val.w))
    labels = task.labels(pred).numpy()
    truth = val.Y.astype(np.int64) if task.name == "multilabel" else val.Y.reshape(-1)
    return float(accuracy_score(truth, labels, sample_weight=val.w))


class SklearnRules(Callback):
    """scikit-learn's per-epoch rules; one host sync per epoch (the loss), none per step.

    ``est`` is the estimator (its ``loss_curve_`` etc. are updated in place), ``val`` the
    validation rows with early stopping, ``l2`` the coupled L2 coefficient per weight
    matrix (``alpha / (batch_size * scale)``), ``scale`` scikit-learn's loss over mlplab's
    mean loss (:func:`.params.loss_scale`; sgd's learning rate is multiplied by it),
    ``n_train`` the training rows, ``start`` the epoch count before this call (``n_iter_``
    counts this call's epochs, as in scikit-learn), ``constant``
    the loss's prediction-free term that torch omits and scikit-learn's ``loss_`` includes
    (:func:`.params.loss_constant`).
    """

    every = 1

    def __init__(self, est: Any, val: ValRows | None, l2: float, n_train: int, start: int,
                 sgd: bool, constant: float = 0.0, scale: float = 1.0) -> None:
        self.est, self.val, self.l2, self.n_train = est, val, l2, n_train
        self.start, self.sgd, self.constant, self.scale = start, sgd, constant, scale

    def on_epoch(self, state: TrainState) -> None:
        est: Any = self.est
        loss = state.last_loss if state.last_loss is not None else torch.tensor(float("nan"))
        if self.l2 > 0:
            with torch.no_grad():
                sq = sum((p * p).sum() for p in state.model.parameters() if p.dim() > 1)
            loss = loss + 0.5 * self.l2 * sq
        est.loss_ = self.scale * (float(loss) + self.constant)
        est.loss_curve_.append(est.loss_)
        est.t_ += self.n_train
        if est.verbose:
            print(f"Iteration {state.epoch - self.start}, loss = {est.loss_:.8f}")
        if not math.isfinite(est.loss_):  # diverged: the loop raises, the estimator decides
            if self.val is not None:
                est.validation_scores_.append(math.nan)
            state.stop, state.stop_reason = True, "diverged"
            return
        improved = self._improved(state, est.loss_)
        est._no_improvement_count = 0 if improved else est._no_improvement_count + 1
        if self.sgd and est.learning_rate == "invscaling":
            _set_lr(state, self.scale * float(est.learning_rate_init) /
                    (est.t_ + 1) ** float(est.power_t))
        if est._no_improvement_count > est.n_iter_no_change:
            what = "Validation score" if self.val is not None else "Training loss"
            msg = (f"{what} did not improve more than tol={est.tol:f} for "
                   f"{est.n_iter_no_change} consecutive epochs.")
            if self.sgd and est.learning_rate == "adaptive" and state.lr / self.scale > 1e-6:
                _set_lr(state, state.lr / 5.0)
                est._no_improvement_count = 0
                if est.verbose:
                    print(f"{msg} Setting learning rate to {state.lr / self.scale:f}")
            else:
                state.stop, state.stop_reason = True, msg
                if est.verbose:
                    small = self.sgd and est.learning_rate == "adaptive"
                    print(f"{msg}{' Learning rate too small.' if small else ''} Stopping.")

    def _improved(self, state: TrainState, loss: float) -> bool:
        est: Any = self.est
        if self.val is None:
            best = est.best_loss_
            est.best_loss_ = min(best, loss)
            return not loss > best - est.tol
        score = val_score(state, self.val)
        est.validation_scores_.append(score)
        if est.verbose:
            print(f"Validation score: {score:f}")
        best = est.best_validation_score_
        if score > best:
            est.best_validation_score_ = score
            # kept on the estimator as numpy (picklable): a warm-started fit that never beats
            # it ends on these weights, as scikit-learn's _best_coefs
            est._best_weights = {k: v.detach().cpu().numpy().copy() for k, v in
                                 state.model.state_dict().items()}
        return not score < best + est.tol

    def on_train_end(self, state: TrainState) -> None:
        best = getattr(self.est, "_best_weights", None)
        if self.val is not None and best is not None:
            state.model.load_state_dict({k: torch.from_numpy(v) for k, v in best.items()})


def _set_lr(state: TrainState, lr: float) -> None:
    for group in state.optimizer.param_groups:
        group["lr"] = lr
