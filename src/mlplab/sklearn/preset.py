"""``preset="best"``: the estimators trained by :func:`mlplab.train`'s default recipe.

scikit-learn's defaults stay the estimators' defaults (a drop-in). ``preset="best"`` trains
the same rows with the recipe ``mlplab train`` uses by default, measured in
``benchmarks/bench_defaults.py``: inputs standardised on the training rows (and, for
regression, the targets), AdamW at 0.01 with its weight decay, full batches up to 4,096 rows,
automatic early stopping on a held-out 10% that restores the best epoch, and on a full batch
an ensemble of 2 networks merged into one MLP (:mod:`mlplab.resolve`, :mod:`mlplab.ensemble`).
The fitted model is an ordinary ``model_``: the input scaling is folded into its first layer
and the target scaling into its last, so ``predict``, ``coefs_``, pickling and every other
reader of ``model_`` work as after any fit.

Only the architecture (``hidden_layer_sizes``, ``activation``, ``dropout``, ``batchnorm``),
``random_state``, ``device``, ``threshold`` and ``config`` (dotted RunConfig keys, changing the
recipe) are read; the training parameters scikit-learn's rules use are the recipe's, so one
set away from its default is refused rather than ignored.

Example
-------
>>> import numpy as np
>>> from mlplab import MLPClassifier
>>> X = np.random.default_rng(0).normal(size=(200, 3)); y = (X[:, 0] > 0).astype(int)
>>> est = MLPClassifier(preset="best", random_state=0).fit(X, y)
>>> est.run_config_.optim.name, est.run_config_.data.val_size
('adamw', 0.1)
>>> MLPClassifier(preset="best", alpha=0.1).fit(X, y)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: preset='best' trains with mlplab.train's recipe, which sets alpha: leave it ...
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import torch

from mlplab.config import RunConfig, set_path
from mlplab.errors import ConfigError
from mlplab.models import MLP
from mlplab.runs.predictor import _Linear, fold_scaling
from mlplab.sklearn.params import ACTIVATIONS, hidden_sizes

# what the recipe decides instead of scikit-learn's training parameters
RECIPE_SETS = ("solver", "alpha", "batch_size", "learning_rate", "learning_rate_init",
               "power_t", "max_iter", "shuffle", "tol", "momentum", "nesterovs_momentum",
               "early_stopping", "validation_fraction", "beta_1", "beta_2", "epsilon",
               "n_iter_no_change", "max_fun", "warm_start", "class_weight", "loss", "init",
               "scheduler", "module")
# scales the first layer can absorb exactly (an affine map; robust scaling's smooth clip is not)
FOLDABLE_SCALES = ("standard", "minmax", "none")


def check(est: Any, incremental: bool, sample_weight: Any) -> None:
    """Refuse what the recipe cannot honour, before any training: a training parameter set
    away from its default, ``partial_fit``, sample weights, a non-foldable input scale."""
    defaults = {k: p.default for k, p in inspect.signature(type(est).__init__).parameters.items()}
    for name in RECIPE_SETS:
        if name in defaults and not _same(getattr(est, name), defaults[name]):
            raise ValueError(
                f"preset='best' trains with mlplab.train's recipe, which sets {name}: leave it "
                f"at its default ({defaults[name]!r}), or change the recipe through config= "
                "(e.g. config={'optim.weight_decay': 0.01})")
    if incremental:
        raise ValueError("preset='best' trains whole fits only: partial_fit is not available "
                         "(use fit, or preset='sklearn')")
    if sample_weight is not None:
        raise ValueError("preset='best' does not take sample_weight: its automatic validation "
                         "split is drawn inside the recipe (use preset='sklearn')")
    scale = (est.config or {}).get("data.scale", RunConfig().data.scale)  # the recipe's own
    if scale not in FOLDABLE_SCALES:
        raise ConfigError(f"preset='best' folds the input scaling into the first layer, which "
                          f"data.scale={scale!r} does not allow",
                          hint=f"use one of {', '.join(FOLDABLE_SCALES)}")


def _same(value: Any, default: Any) -> bool:
    try:
        return bool(value == default) if not isinstance(value, np.ndarray) else False
    except (TypeError, ValueError):
        return False


def recipe(est: Any, task_name: str, seed: int) -> RunConfig:
    """The RunConfig ``preset="best"`` trains: ``mlplab.train``'s defaults, with the
    estimator's architecture, seed and device, every row given to ``fit`` used for training
    (no test split), and ``config`` on top."""
    d: dict[str, Any] = {
        "name": type(est).__name__, "seed": seed, "task": task_name,
        "data": {"test_size": 0.0, **({"pos_label": 1} if task_name == "binary" else {})},
        "model": {"hidden": hidden_sizes(est), "activation": ACTIVATIONS[est.activation],
                  "dropout": float(est.dropout), "batchnorm": bool(est.batchnorm)},
        "train": {"device": est.device, "threshold": float(getattr(est, "threshold", 0.5))},
        "log": {"quiet": True, "plots": False}}
    for key, value in (est.config or {}).items():  # typed values: no string parsing
        set_path(d, key, value)
    return RunConfig.from_dict(d)


def fit(est: Any, X: np.ndarray, Y: np.ndarray, task_name: str, seed: int) -> None:
    """Train the recipe on every row of ``X, Y`` (encoded as the estimator encodes them) and
    set the fitted attributes: ``model_`` (scaling folded in), ``run_config_`` (the
    resolved recipe), ``n_iter_``, ``loss_curve_`` (the training loss at each evaluation),
    ``best_loss_``, ``stop_reason_``, ``best_epoch_``."""
    from mlplab.api import train  # api imports the estimators' package lazily

    cfg = recipe(est, task_name, seed)
    X = np.asarray(X.toarray() if hasattr(X, "toarray") else X)
    run = train(cfg, data=(X, Y), save=False, progress=False)
    model = run.model
    if not isinstance(model, MLP) or run.task.n_outputs != est.task_.n_outputs:
        raise RuntimeError(f"preset='best' trained {run.task.n_outputs} outputs for the "
                           f"estimator's {est.task_.n_outputs}")
    if task_name in ("binary", "multiclass") and \
            [int(c) for c in run.classes] != list(range(len(run.classes))):
        raise RuntimeError(f"preset='best' read the classes as {run.classes}")
    fold(model, run.preprocessor, run.target_encoder.scaler)
    est.model_ = model.eval()
    est.run_config_ = run.config
    curve = [float(row["train_loss"]) for row in run.history]
    est.loss_curve_ = curve
    est.n_iter_ = int(run.info["epochs_run"])
    est.t_ = int(run.info["n_train"]) * est.n_iter_
    est.best_loss_ = min(curve) if curve else None
    est.stop_reason_ = str(run.info["stop_reason"])
    est.best_epoch_ = run.info["best_epoch"]  # the restored epoch (None: the last one)


def fold(model: MLP, pre: Any, scaler: dict[str, list[float]] | None) -> None:
    """Fold the input scaling ``(x - center) / spread`` into the first layer and the target
    scaling ``out * scale + mean`` into the last, in place (float64 maths, one rounding)."""
    if not pre.all_numeric or pre.clip or len(pre.input_columns) != model.spec.in_features:
        raise RuntimeError("preset='best' can fold only a numeric input scaling")
    linears = model.linears()
    first, last = linears[0], linears[-1]
    center = np.array([pre.center.get(c, 0.0) for c in pre.input_columns], dtype=np.float64)
    spread = np.array([pre.spread.get(c, 1.0) for c in pre.input_columns], dtype=np.float64)
    with torch.no_grad():
        folded = fold_scaling(_Linear(first.weight.detach().t().contiguous(),
                                      first.bias.detach()), center, spread)
        first.weight.copy_(folded.weight_t.t())
        first.bias.copy_(folded.bias)
        if scaler is not None:
            scale = torch.tensor(scaler["scale"], dtype=torch.float64)
            mean = torch.tensor(scaler["mean"], dtype=torch.float64)
            w, b = last.weight.double(), last.bias.double()
            last.weight.copy_(w * scale[:, None])
            last.bias.copy_(b * scale + mean)


__all__ = ["FOLDABLE_SCALES", "RECIPE_SETS", "check", "fit", "fold", "recipe"]
