"""The estimators' parameters: scikit-learn's names -> mlplab's (tables), scikit-learn's
``_parameter_constraints`` extended by mlplab's extras, the checks constraints cannot express,
and the :class:`~mlplab.config.RunConfig` a set of parameters means.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np
import scipy.special
from sklearn.neural_network import MLPClassifier as _SkClassifier
from sklearn.neural_network import MLPRegressor as _SkRegressor
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from mlplab import registry
from mlplab.config import RunConfig, set_path
from mlplab.errors import ConfigError
from mlplab.tasks import CLASS_INDEX_LOSSES, TaskSpec

# --- scikit-learn names -> mlplab names (tables, not if-chains) ----------------------------

ACTIVATIONS = {"logistic": "sigmoid", **{a: a for a in registry.ACTIVATIONS}}
# solver -> mlplab optimizer; 'lbfgs' is the estimator's own full-batch solver (.lbfgs), which
# RunConfig cannot name: its run_config_ records full-batch plain sgd's keys instead
SOLVERS = {"adam": "adam", "sgd": "sgd", "adamw": "adamw", "rmsprop": "rmsprop", "lbfgs": "sgd"}
STOCHASTIC_SOLVERS = ("adam", "sgd", "adamw", "rmsprop")
REGRESSION_LOSSES = {"squared_error": "mse", "absolute_error": "l1", "poisson": "poisson",
                     "mse": "mse", "l1": "l1"}
OUT_ACTIVATIONS = {"binary": "logistic", "multilabel": "logistic", "multiclass": "softmax",
                   "regression": "identity"}
LOSS_OUT_ACTIVATIONS = {"poisson": "exp"}  # a loss on a link names the output's inverse link


def out_activation(task: TaskSpec) -> str:
    """scikit-learn's ``out_activation_`` for a task: 'exp' for Poisson, else by task."""
    return LOSS_OUT_ACTIVATIONS.get(task.loss, OUT_ACTIVATIONS[task.name])


# per-row terms that do not depend on the prediction and that scikit-learn's ``loss_`` has but
# torch's loss omits: PoissonNLLLoss(log_input=True) is exp(z) - y z, scikit-learn's half
# Poisson deviance y log(y / exp(z)) - y + exp(z) = that + (y log y - y)
LOSS_CONSTANTS = {"poisson": lambda y: scipy.special.xlogy(y, y) - y}


# scikit-learn's loss of a row is the sum of its outputs' losses (half the squared error for
# regression), where torch's losses take the mean over outputs: scikit-learn's loss is torch's
# mean loss times loss_scale(task). Losses on class indices (cross-entropy) have one term
# per row already.
HALVED_LOSSES = {"mse": 0.5}


def loss_scale(task: TaskSpec) -> float:
    """scikit-learn's loss over torch's mean loss: outputs summed, squared error halved.

    Example
    -------
    >>> from mlplab.tasks import resolve_task
    >>> loss_scale(resolve_task("regression", n_classes=1, n_targets=4, loss="mse",
    ...                         output="logits"))
    2.0
    """
    per_row = 1 if task.loss in CLASS_INDEX_LOSSES else task.n_outputs
    return HALVED_LOSSES.get(task.loss, 1.0) * per_row


def loss_constant(task: TaskSpec, Y: np.ndarray, w: np.ndarray | None) -> float:
    """The (weighted) mean of the loss's constant term over the training targets ``Y``."""
    term = LOSS_CONSTANTS.get(task.loss)
    if term is None:
        return 0.0
    per_row = term(np.asarray(Y, dtype=np.float64)).reshape(len(Y), -1).mean(axis=1)
    return float(np.average(per_row, weights=w))
# scikit-learn's initialisation (uniform +-sqrt(factor / (fan_in + fan_out)) on weights and
# biases, factor 2 for logistic units, else 6): the estimators' default, measured better than
# PyTorch's default at scikit-learn's small max_iter (docs/estimator.md)
GLOROT = "glorot"
INITS = (GLOROT, *registry.INITS)
# "sklearn": scikit-learn's training rules (the default); "best": mlplab.train's recipe (.preset)
PRESETS = ("sklearn", "best")

_EXTRAS: dict[str, Any] = {
    "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
    "batchnorm": ["boolean"],
    "init": [StrOptions(set(INITS))],
    "scheduler": [StrOptions(set(registry.SCHEDULERS))],
    "device": [str],
    "config": [None, dict],
    "module": "no_validation",  # an nn.Module class or instance: learner.check
    "preset": [StrOptions(set(PRESETS))],
}
_NAMES = {"activation": [StrOptions(set(ACTIVATIONS))],
          "solver": [StrOptions(set(SOLVERS))]}

# scikit-learn's constraints for its own parameters (so errors read exactly as there), with
# mlplab's wider activation/solver names and its extras
CLASSIFIER_CONSTRAINTS: dict[str, Any] = {
    **_SkClassifier._parameter_constraints, **_NAMES, **_EXTRAS,
    "class_weight": [None, StrOptions({"balanced"}), dict],
    "loss": [StrOptions({"auto", *registry.LOSSES})],
    "threshold": [Interval(numbers.Real, 0, 1, closed="neither")],
}
REGRESSOR_CONSTRAINTS: dict[str, Any] = {
    **_SkRegressor._parameter_constraints, **_NAMES, **_EXTRAS,
    "loss": [StrOptions(set(REGRESSION_LOSSES))],
}


def store(est: Any, params: dict[str, Any]) -> None:
    """``__init__`` stores its arguments verbatim (scikit-learn's rule); ``fit`` checks them.
    ``kwargs`` holds ``module__*`` parameters (stored under their own names)."""
    kwargs = params.pop("kwargs", {})
    for key, value in params.items():
        if key not in ("self", "__class__"):
            setattr(est, key, value)
    for key, value in kwargs.items():  # fit refuses names other than module__* (check)
        setattr(est, key, value)


def check(est: Any, incremental: bool) -> None:
    """What ``_parameter_constraints`` cannot say (run after ``est._validate_params()``)."""
    unknown = [k for k in vars(est) if k not in est.get_params(deep=False) and
               not k.endswith("_") and not k.startswith("_")]
    if unknown:
        raise TypeError(f"{type(est).__name__} got unexpected parameters {unknown} (beyond "
                        "its named ones, only module__* parameters are taken)")
    if est.module is not None:
        from mlplab.sklearn import learner

        learner.check(est)
    hidden = hidden_sizes(est)
    if any(h <= 0 for h in hidden):  # scikit-learn's own check and wording
        raise ValueError(f"hidden_layer_sizes must be > 0, got {hidden}.")
    if incremental and est.early_stopping:
        raise ConfigError("partial_fit does not support early_stopping=True")
    if incremental and getattr(est, "class_weight", None) == "balanced":
        # SGDClassifier's refusal: each chunk's class counts would give different weights
        raise ConfigError(
            "class_weight 'balanced' is not supported for partial_fit. In order to use "
            "'balanced' weights, use compute_class_weight('balanced', classes=classes, y=y). "
            "In place of y you can use a large enough sample of the full training set target "
            "to properly estimate the class frequency distributions. Pass the resulting "
            "weights as the class_weight parameter.")
    if est.scheduler != "none" and est.learning_rate != "constant" and est.solver == "sgd":
        raise ConfigError(f"learning_rate='{est.learning_rate}' and scheduler="
                          f"'{est.scheduler}' both set the learning rate",
                          hint="keep one: learning_rate='constant' or scheduler='none'")


def hidden_sizes(est: Any) -> list[int]:
    """``hidden_layer_sizes`` as a list (an int, a tuple or an array, as scikit-learn takes)."""
    h = est.hidden_layer_sizes
    return [int(h)] if np.ndim(h) == 0 else [int(v) for v in np.asarray(h).ravel()]


def batch_size(est: Any, n: int) -> int:
    """scikit-learn's batch size for ``n`` training rows (warns and clips above ``n``)."""
    if est.batch_size == "auto":
        return min(200, n)
    if est.batch_size > n:
        warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going "
                      "to be clipped", UserWarning, stacklevel=5)
    return int(np.clip(est.batch_size, 1, n))


def seed(est: Any) -> int:
    """The integer seed ``random_state`` stands for (drawn once from a RandomState/None)."""
    rs = est.random_state
    if isinstance(rs, numbers.Integral):
        return int(rs)
    return int(check_random_state(rs).randint(0, 2**31 - 1))


def run_config(est: Any, task: TaskSpec, n_train: int, w_mean: float, seed_: int,
               epochs: int, threshold: float) -> RunConfig:
    """The RunConfig these parameters mean for ``n_train`` rows (kept as ``run_config_``).

    mlplab's losses are means over outputs; scikit-learn's objective is ``c`` times that
    (:func:`loss_scale`) plus ``alpha / (2 * batch weight sum) * ||W||^2``. The optimizer
    steps on that objective are those of mlplab's mean loss with the L2 coefficient divided
    by ``c`` and, for sgd, the learning rate multiplied by ``c`` (for Adam and RMSprop, which
    divide by the gradient's scale, ``epsilon`` divided by ``c``): the same updates, exactly.
    """
    bs = n_train if est.solver == "lbfgs" else batch_size(est, n_train)
    solver = SOLVERS[est.solver]
    sgd = solver == "sgd"
    c = loss_scale(task)
    optim: dict[str, Any] = {
        "name": solver, "lr": float(est.learning_rate_init) * (c if sgd else 1.0),
        "eps": float(est.epsilon) / c,
        "momentum": float(est.momentum) if sgd and est.solver == "sgd" else 0.0,
        "nesterov": bool(est.solver == "sgd" and est.nesterovs_momentum and est.momentum > 0),
        "betas": [float(est.beta_1), float(est.beta_2)],
        # scikit-learn's penalty alpha/(2 * batch weight sum) * |W|^2, a coupled L2 (the
        # estimator applies it to weight matrices only, see base.build_optimizer)
        "weight_decay": float(est.alpha) / (bs * w_mean * c)}
    d = {"name": type(est).__name__, "seed": seed_, "task": task.name,
         "data": {"source": "estimator", "scale": "none", "test_size": 0.0,
                  "val_size": float(est.validation_fraction) if est.early_stopping else 0.0},
         "model": {"hidden": hidden_sizes(est), "activation": ACTIVATIONS[est.activation],
                   "output": "logits", "dropout": float(est.dropout),
                   "batchnorm": bool(est.batchnorm),
                   "init": "default" if est.init == GLOROT else est.init, "ensemble": 1},
         "loss": task.loss, "optim": optim, "schedule": {"name": est.scheduler},
         # scikit-learn's stopping rule is the estimator's own (sklearn.rules), not fit's
         "train": {"epochs": epochs, "batch_size": bs, "eval_every": epochs, "early_stopping": None,
                   "shuffle": bool(est.shuffle), "device": est.device,
                   "threshold": threshold},
         "log": {"quiet": True, "plots": False}}
    for key, value in (est.config or {}).items():  # typed values: no string parsing
        set_path(d, key, value)
    cfg = RunConfig.from_dict(d)
    if cfg.model.ensemble != 1:
        raise ConfigError("model.ensemble is not a scikit-learn training option",
                          hint="preset='best' trains mlplab.train's recipe, ensemble included")
    if getattr(cfg.model, "crosses", None):
        raise ConfigError("model.crosses is not an estimator option",
                          hint="add computed columns with a transformer before the estimator "
                               "(e.g. PolynomialFeatures in a Pipeline)")
    return cfg
