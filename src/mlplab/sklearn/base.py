"""The machinery behind :mod:`.estimator`: parameter tables and checks, the RunConfig the
parameters mean, training through ``training.loop.fit``, scikit-learn's per-epoch rules as a
callback, and pickling with tensors stored as numpy arrays.
"""

from __future__ import annotations

import contextlib
import copy
import math
import numbers
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state, compute_sample_weight
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from mlplab import registry
from mlplab.config import OptimConfig, RunConfig, TrainConfig, set_path
from mlplab.errors import ConfigError, DataError
from mlplab.models import MLP, ModelSpec, build_model, resolve_device
from mlplab.runs.run import PREDICT_CHUNK
from mlplab.tasks import TaskSpec, resolve_task
from mlplab.training.callbacks import Callback
from mlplab.training.loop import (
    DataTensors,
    TrainState,
    build_optimizer,
    build_scheduler,
    evaluate_split,
    fit,
)

# --- scikit-learn names -> mlplab names (tables, not if-chains) ----------------------------

ACTIVATIONS = {"logistic": "sigmoid", **{a: a for a in registry.ACTIVATIONS}}
SOLVERS = {"adam": "adam", "sgd": "sgd", "adamw": "adamw", "rmsprop": "rmsprop"}
UNSUPPORTED_SOLVERS = {
    "lbfgs": "L-BFGS needs a closure that re-evaluates the loss, which mlplab's mini-batch "
             "loop does not run; use solver='adam' (the default) or 'sgd'",
}
LEARNING_RATES = ("constant", "invscaling", "adaptive")  # scikit-learn's, for solver='sgd'
REGRESSION_LOSSES = {"squared_error": "mse", "absolute_error": "l1", "mse": "mse", "l1": "l1"}
OUT_ACTIVATIONS = {"binary": "logistic", "multilabel": "logistic", "multiclass": "softmax",
                   "regression": "identity"}


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool | np.bool_)


def _is_num(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool | np.bool_) and \
        math.isfinite(float(v))


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool | np.bool_)


# parameter -> (test, what it must be); checked in fit, never in __init__
_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "max_iter": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "n_iter_no_change": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "tol": (lambda v: _is_num(v) and v >= 0, "a number >= 0"),
    "alpha": (lambda v: _is_num(v) and v >= 0, "a number >= 0"),
    "learning_rate_init": (lambda v: _is_num(v) and v > 0, "a number > 0"),
    "power_t": (_is_num, "a number"),
    "validation_fraction": (lambda v: _is_num(v) and 0 < v < 1, "a number in (0, 1)"),
    "momentum": (lambda v: _is_num(v) and 0 <= v < 1, "a number in [0, 1)"),
    "beta_1": (lambda v: _is_num(v) and 0 <= v < 1, "a number in [0, 1)"),
    "beta_2": (lambda v: _is_num(v) and 0 <= v < 1, "a number in [0, 1)"),
    "epsilon": (lambda v: _is_num(v) and v > 0, "a number > 0"),
    "dropout": (lambda v: _is_num(v) and 0 <= v < 1, "a number in [0, 1)"),
    "threshold": (lambda v: _is_num(v) and 0 < v < 1, "a number in (0, 1)"),
    "batch_size": (lambda v: v == "auto" or _is_int(v), "'auto' or an integer"),
    "hidden_layer_sizes": (lambda v: (_is_int(v) and v >= 1) or (isinstance(v, tuple | list) and
                           all(_is_int(h) and h >= 1 for h in v)), "a tuple of integers >= 1"),
    "verbose": (lambda v: _is_bool(v) or _is_int(v), "True or False"),
    "config": (lambda v: v is None or isinstance(v, dict), "None or a dict of dotted keys"),
    **{name: (_is_bool, "True or False") for name in ("shuffle", "early_stopping", "warm_start",
                                                       "nesterovs_momentum", "batchnorm")},
}
# parameter -> table of its allowed names
_CHOICES: dict[str, dict[str, Any]] = {
    "activation": ACTIVATIONS, "solver": {**SOLVERS, **UNSUPPORTED_SOLVERS},
    "learning_rate": dict.fromkeys(LEARNING_RATES), "init": registry.INITS,
    "scheduler": registry.SCHEDULERS,
}


def _store(est: BaseEstimator, params: dict[str, Any]) -> None:
    """``__init__`` stores its arguments verbatim (scikit-learn's rule); ``fit`` checks them."""
    for key, value in params.items():
        if key not in ("self", "__class__"):
            setattr(est, key, value)


class _Rules(Callback):
    """scikit-learn's end-of-epoch rules, applied as a callback of ``fit``.

    Records ``loss_curve_`` (mean train loss + the L2 term, as scikit-learn reports it) and
    ``validation_scores_``; counts epochs without improvement by more than ``tol``; applies the
    ``invscaling`` / ``adaptive`` learning rates of ``solver='sgd'``; stops after
    ``n_iter_no_change`` bad epochs and, with early stopping, restores the best weights.
    """

    every = 1

    def __init__(self, est: Any, val: tuple[torch.Tensor, torch.Tensor] | None,
                 l2: float, n_train: int) -> None:
        self.est, self.val, self.l2, self.n_train = est, val, l2, n_train
        self.best_state: dict[str, torch.Tensor] | None = None

    def on_epoch(self, state: TrainState) -> None:
        est: Any = self.est
        loss = float(state.last_loss) if state.last_loss is not None else float("nan")
        if self.l2 > 0:
            with torch.no_grad():
                sq = sum(float((p * p).sum()) for p in state.model.parameters() if p.dim() > 1)
            loss += 0.5 * self.l2 * sq
        est.loss_curve_.append(loss)
        est.t_ += self.n_train
        if est.verbose:
            print(f"Iteration {state.epoch}, loss = {loss:.8f}")
        improved = self._improved(state, loss)
        est._no_improvement_count = 0 if improved else est._no_improvement_count + 1
        lr0 = float(est.learning_rate_init)
        sgd = SOLVERS.get(est.solver) == "sgd"
        if sgd and est.learning_rate == "invscaling":
            _set_lr(state, lr0 / (est.t_ + 1) ** float(est.power_t))
        if est._no_improvement_count > est.n_iter_no_change:
            what = "Validation score" if self.val is not None else "Training loss"
            msg = (f"{what} did not improve more than tol={est.tol:f} for "
                   f"{est.n_iter_no_change} consecutive epochs.")
            if sgd and est.learning_rate == "adaptive" and state.lr > 1e-6:
                _set_lr(state, state.lr / 5.0)
                est._no_improvement_count = 0
                if est.verbose:
                    print(f"Setting learning rate to {state.lr:f}")
            else:
                state.stop, state.stop_reason = True, msg
                if est.verbose:
                    print(msg)

    def _improved(self, state: TrainState, loss: float) -> bool:
        est: Any = self.est
        if self.val is None:
            best = est.best_loss_
            est.best_loss_ = min(best, loss)
            return not loss > best - est.tol
        _, score = evaluate_split(state.model, state.task, state.extra["eval_loss_fn"],
                                  *self.val)
        est.validation_scores_.append(score)
        best = est.best_validation_score_
        if score > best:
            est.best_validation_score_ = score
            self.best_state = copy.deepcopy(state.model.state_dict())
        return not score < best + est.tol

    def on_train_end(self, state: TrainState) -> None:
        if self.best_state is not None:
            state.model.load_state_dict(self.best_state)


def _set_lr(state: TrainState, lr: float) -> None:
    for group in state.optimizer.param_groups:
        group["lr"] = lr


class _MLPBase(BaseEstimator):
    """What the classifier and the regressor share: checks, config, training, pickling."""

    _task_kind = "classifier"
    # fitted attributes (set by fit; declared for type checkers only)
    model_: MLP
    task_: TaskSpec
    run_config_: RunConfig
    n_iter_: int
    t_: int

    # --- parameters -> RunConfig ---------------------------------------------------------

    def _check_params(self) -> None:
        name = type(self).__name__
        for key, (ok, expected) in _RULES.items():
            if hasattr(self, key) and not ok(getattr(self, key)):
                raise ConfigError(f"bad {name} parameter {key}", expected=expected,
                                  found=repr(getattr(self, key)))
        for key, table in _CHOICES.items():
            registry.check_choice(f"{name} {key}", getattr(self, key), table)
        if self.solver in UNSUPPORTED_SOLVERS:
            raise ConfigError(f"solver '{self.solver}' is not supported",
                              hint=UNSUPPORTED_SOLVERS[self.solver])
        if self.scheduler != "none" and self.learning_rate != "constant" and \
                self.solver == "sgd":
            raise ConfigError(f"learning_rate='{self.learning_rate}' and scheduler="
                              f"'{self.scheduler}' both set the learning rate",
                              hint="keep one: learning_rate='constant' or scheduler='none'")
        if not self.shuffle and "shuffle" not in TrainConfig.model_fields:
            raise ConfigError("shuffle=False is not supported yet (mlplab shuffles every "
                              "epoch)", hint="use shuffle=True")

    def _hidden(self) -> list[int]:
        h = self.hidden_layer_sizes
        return [int(h)] if _is_int(h) else [int(v) for v in h]

    def _batch_size(self, n: int) -> int:
        if self.batch_size == "auto":
            return min(200, n)
        if not 1 <= self.batch_size <= n:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going "
                          "to be clipped", UserWarning, stacklevel=4)
        return int(np.clip(self.batch_size, 1, n))

    def _run_config(self, task: TaskSpec, n_train: int, w_mean: float, seed: int,
                    epochs: int) -> RunConfig:
        """The RunConfig these parameters mean for ``n_train`` rows (``run_config_``)."""
        bs = self._batch_size(n_train)
        solver = SOLVERS[self.solver]
        sgd = solver == "sgd"
        train: dict[str, Any] = {"epochs": epochs, "batch_size": bs, "eval_every": epochs,
                                 "device": self.device, "threshold": self._threshold()}
        if "shuffle" in TrainConfig.model_fields:
            train["shuffle"] = bool(self.shuffle)
        optim: dict[str, Any] = {
            "name": solver, "lr": float(self.learning_rate_init),
            "momentum": float(self.momentum) if sgd else 0.0,
            "nesterov": bool(sgd and self.nesterovs_momentum and self.momentum > 0),
            "betas": [float(self.beta_1), float(self.beta_2)],
            # scikit-learn's penalty is alpha/(2*sum of batch weights)*|W|^2 -> coupled L2
            "weight_decay": float(self.alpha) / (bs * w_mean)}
        if "eps" in OptimConfig.model_fields:
            optim["eps"] = float(self.epsilon)
        d = {"name": type(self).__name__, "seed": seed, "task": task.name,
             "data": {"source": "estimator", "scale": "none", "test_size": 0.0,
                      "val_size": float(self.validation_fraction) if self.early_stopping
                      else 0.0},
             "model": {"hidden": self._hidden(), "activation": ACTIVATIONS[self.activation],
                       "output": "logits", "dropout": float(self.dropout),
                       "batchnorm": bool(self.batchnorm), "init": self.init},
             "loss": task.loss, "optim": optim, "schedule": {"name": self.scheduler},
             "train": train, "log": {"quiet": True, "plots": False}}
        for key, value in (self.config or {}).items():  # typed values: no string parsing
            set_path(d, key, value)
        return RunConfig.from_dict(d)

    def _threshold(self) -> float:
        return 0.5

    def _seed(self) -> int:
        rs = self.random_state
        if _is_int(rs) and 0 <= rs < 2**32:
            return int(rs)
        return int(check_random_state(rs).randint(0, 2**31 - 1))

    # --- training ------------------------------------------------------------------------

    def _encode(self, y: np.ndarray, first: bool, classes: Any) -> tuple[np.ndarray, str, int]:
        raise NotImplementedError

    def _fit(self, X: Any, y: Any, sample_weight: Any = None, *, incremental: bool = False,
             classes: Any = None) -> _MLPBase:
        first = not hasattr(self, "model_") or not (incremental or self.warm_start)
        X, y = validate_data(self, X, y, reset=first, accept_sparse=["csr", "csc", "coo"],
                             multi_output=True, y_numeric=self._task_kind == "regressor",
                             dtype=(np.float64, np.float32))
        self._check_params()
        Xa = _dense32(X)
        Y, task_name, n_classes = self._encode(y, first, classes)
        w = self._weights(sample_weight, X, y)
        if first:
            self._reset(task_name, n_classes, Y)
        seed = self._seed() if first else self.run_config_.seed
        val_idx = self._val_rows(len(Xa), Y, task_name, seed, incremental)
        tr = np.setdiff1d(np.arange(len(Xa)), val_idx)
        w_tr = None if w is None else w[tr]
        if w_tr is not None and not w_tr.sum() > 0:
            raise DataError("sample weights of the training rows sum to zero",
                            hint="give some rows a positive weight")
        start = self.n_iter_
        epochs = 1 if incremental else int(self.max_iter)
        cfg = self._run_config(self.task_, len(tr), 1.0 if w_tr is None else
                               float(w_tr.mean()), seed, start + epochs)
        device = resolve_device(cfg.train.device)
        if first:
            from mlplab.api import model_spec

            torch.manual_seed(cfg.seed)
            self.model_ = build_model(model_spec(cfg, Xa.shape[1], self.task_), seed=cfg.seed)
        model = self.model_.to(device)
        Xt = torch.as_tensor(Xa, device=device)
        data = DataTensors(X={"train": Xt[tr]}, y={"train": self.task_.targets(Y[tr], device)},
                           w=None if w_tr is None else torch.as_tensor(w_tr, device=device))
        val = None
        if len(val_idx):
            data.X["val"], data.y["val"] = Xt[val_idx], self.task_.targets(Y[val_idx], device)
            val = (data.X["val"], data.y["val"])
        opt = getattr(self, "_optimizer", None) if incremental else None
        if opt is None:
            opt = build_optimizer(model, cfg)
            if "eps" not in OptimConfig.model_fields:
                for group in opt.param_groups:
                    group["eps"] = float(self.epsilon)
        steps = -(-len(tr) // (cfg.train.batch_size if isinstance(cfg.train.batch_size, int)
                               else len(tr)))
        sched = None if incremental else build_scheduler(opt, cfg, epochs, steps)
        self._no_improvement_count = 0
        rules = _Rules(self, val, cfg.optim.weight_decay * (self.alpha > 0), len(tr))
        state = fit(model, self.task_, data, cfg, [rules], optimizer=opt, scheduler=sched,
                    start_epoch=start)
        self._optimizer, self.run_config_ = opt, cfg
        self.n_iter_ = state.epoch
        self.stop_reason_ = state.stop_reason or "completed"
        if not incremental and not state.stop and state.epoch - start >= epochs:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                          "and the optimization hasn't converged yet.", ConvergenceWarning,
                          stacklevel=3)
        return self

    def _reset(self, task_name: str, n_classes: int, Y: np.ndarray) -> None:
        n_targets = 1 if Y.ndim == 1 else Y.shape[1]
        loss = self._loss()
        self.task_ = resolve_task(task_name, n_classes=n_classes, n_targets=n_targets,
                                  loss=loss, output="logits", threshold=self._threshold())
        self.n_outputs_ = self.task_.n_outputs
        self.out_activation_ = OUT_ACTIVATIONS[task_name]
        self.n_layers_ = len(self._hidden()) + 2
        self.n_iter_, self.t_ = 0, 0
        self.loss_curve_: list[float] = []
        self._optimizer = None
        if self.early_stopping:
            self.validation_scores_: list[float] | None = []
            self.best_validation_score_: float | None = -np.inf
            self.best_loss_: float | None = None
        else:
            self.validation_scores_, self.best_validation_score_ = None, None
            self.best_loss_ = np.inf

    def _loss(self) -> str:
        return "auto"

    def _val_rows(self, n: int, Y: np.ndarray, task: str, seed: int,
                  incremental: bool) -> np.ndarray:
        """Rows held out for early stopping (same split as ``mlplab train --val-size``)."""
        if not self.early_stopping or incremental:
            return np.zeros(0, dtype=np.int64)
        from mlplab.data.split import split_indices

        strat = Y if task in ("binary", "multiclass") else None
        return split_indices(n, test_size=0.0, val_size=float(self.validation_fraction),
                             seed=seed, stratify=strat).val

    def _weights(self, sample_weight: Any, X: Any, y: np.ndarray) -> np.ndarray | None:
        w = None if sample_weight is None else \
            _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        cw = getattr(self, "class_weight", None)
        if cw is not None:
            cws = compute_sample_weight(cw, y)
            w = cws if w is None else w * cws
        if w is None or np.all(w == 1.0):
            return None  # unweighted: the plain mean loss, exactly as without weights
        return w.astype(np.float32)

    # --- inference -----------------------------------------------------------------------

    def _forward(self, X: Any) -> torch.Tensor:
        """Raw outputs (n, n_outputs), float64, in eval mode."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, accept_sparse=["csr", "csc", "coo"],
                          dtype=(np.float64, np.float32))
        model = self.model_
        x = torch.as_tensor(_dense32(X), device=next(model.parameters()).device)
        was = model.training
        model.eval()
        # float64 inference (the float32 weights convert exactly, both ways): outputs do not
        # depend on how rows are batched, and probabilities keep the logits' order
        model.double()
        try:
            with torch.inference_mode():
                x = x.double()
                outs = [model(x[i:i + PREDICT_CHUNK]) for i in range(0, len(x), PREDICT_CHUNK)]
        finally:
            model.float()
            model.train(was)
        out = torch.cat(outs) if len(outs) != 1 else outs[0]
        return out.cpu()

    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weight matrices as scikit-learn lays them out: (fan_in, fan_out) per layer."""
        check_is_fitted(self, "model_")
        return [m.weight.detach().cpu().numpy().T.copy() for m in self.model_.linears()]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Bias vectors per layer."""
        check_is_fitted(self, "model_")
        return [m.bias.detach().cpu().numpy().copy() for m in self.model_.linears()]

    # --- pickling: tensors travel as numpy arrays ----------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        model = state.get("model_")
        if isinstance(model, MLP):
            state["model_"] = {"spec": model.spec.to_dict(), "weights": _numpy_tree(
                model.state_dict())}
        opt = state.get("_optimizer")
        if opt is not None:
            state["_optimizer"] = _numpy_tree(opt.state_dict())
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        packed_model, packed_opt = state.get("model_"), state.get("_optimizer")
        super().__setstate__(state)
        if isinstance(packed_model, dict):
            self.model_ = _unpack_model(packed_model, self.device)
        if isinstance(packed_opt, dict) and hasattr(self, "model_"):
            opt = build_optimizer(self.model_, self.run_config_)
            opt.load_state_dict(_torch_tree(packed_opt, next(self.model_.parameters()).device))
            self._optimizer = opt

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _dense32(X: Any) -> np.ndarray:
    """A C-contiguous float32 copy (sparse input densified; never a read-only view)."""
    if hasattr(X, "toarray"):
        X = X.toarray()
    return np.array(X, dtype=np.float32, order="C", copy=True)


def _numpy_tree(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().numpy().copy()
    if isinstance(obj, dict):
        return {k: _numpy_tree(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_numpy_tree(v) for v in obj)
    return obj


def _torch_tree(obj: Any, device: torch.device) -> Any:
    if isinstance(obj, np.ndarray):
        return torch.as_tensor(obj.copy(), device=device if obj.ndim else "cpu")
    if isinstance(obj, dict):
        return {k: _torch_tree(v, device) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_torch_tree(v, device) for v in obj)
    return obj


def _unpack_model(packed: dict[str, Any], device: str) -> MLP:
    model = MLP(ModelSpec.from_dict(packed["spec"]))
    model.load_state_dict({k: torch.as_tensor(np.array(v)) for k, v in packed["weights"].items()})
    dev = torch.device("cpu")
    with contextlib.suppress(ConfigError):  # saved on a GPU, loaded without one: stay on CPU
        dev = resolve_device(device)
    return model.to(dev).eval()
