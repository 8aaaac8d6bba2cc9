"""What :class:`~.estimator.MLPClassifier` and :class:`~.estimator.MLPRegressor` share:
training through ``training.loop.fit`` with scikit-learn's rules as a callback
(:mod:`.rules`), prediction that never changes the model (:mod:`.layers`), the thread policy
(:mod:`mlplab.threads`) around both, and pickling with tensors stored as numpy arrays.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state, compute_sample_weight
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
from torch import nn

from mlplab import registry, threads
from mlplab.config import RunConfig
from mlplab.errors import DataError, TrainingError
from mlplab.models import MLP, build_model, build_seeded, resolve_device
from mlplab.sklearn import arrays, lbfgs, learner, messages, params, pickling, preset
from mlplab.sklearn.layers import PREDICT_CHUNK, LiveArrays, assign, forward64, glorot_init
from mlplab.sklearn.optimizer import build_optimizer
from mlplab.sklearn.rules import SklearnRules, ValRows
from mlplab.sklearn.sparse import SparseRunner, dense_rows
from mlplab.tasks import TaskSpec
from mlplab.training.loop import DataTensors, build_scheduler, fit


class _MLPBase(BaseEstimator):
    """What the classifier and the regressor share: checks, config, training, prediction."""

    _task_kind = "classifier"
    # fitted attributes (set by fit; declared for type checkers only)
    model_: Any  # mlplab.models.MLP, or the module= of the user
    task_: TaskSpec
    run_config_: RunConfig
    n_iter_: int
    t_: int
    best_loss_: float | None
    _optimizer: torch.optim.Optimizer | None

    def _threshold(self) -> float:
        return 0.5

    def _loss(self) -> str:
        return "auto"

    def _encode(self, y: np.ndarray, first: bool, classes: Any,
                incremental: bool) -> tuple[np.ndarray, str, int]:
        raise NotImplementedError

    # --- training ------------------------------------------------------------------------

    def _fit(self, X: Any, y: Any, sample_weight: Any = None, *, incremental: bool = False,
             classes: Any = None) -> _MLPBase:
        self._validate_params()
        params.check(self, incremental)
        if self.preset == "best":
            preset.check(self, incremental, sample_weight)
        first = not hasattr(self, "model_") or not (incremental or self.warm_start)
        X, y = validate_data(self, X, y, reset=first, accept_sparse=["csr", "csc", "coo"],
                             multi_output=True, y_numeric=self._task_kind == "regressor",
                             dtype=(np.float64, np.float32))
        Y, task_name, n_classes = self._encode(y, first, classes, incremental)
        if first:
            self._reset(task_name, n_classes, Y)
        if self.preset == "best":  # mlplab.train's recipe on every row (.preset)
            preset.fit(self, X, Y, task_name, params.seed(self))
            return self
        seed = params.seed(self) if first else self.run_config_.seed
        own = learner.build(self, X.shape[1], self.task_.n_outputs, seed) \
            if first and self.module is not None else None
        # scikit-learn trains in X's dtype (float32 or float64); a module= in its own, a
        # warm start or partial_fit in the weights' dtype
        dtype = X.dtype if first and own is None else \
            arrays.model_dtype(own if own is not None else self.model_)
        beyond = arrays.beyond_float32(X, dtype)
        X = X.tocsr().astype(dtype, copy=False) if sp.issparse(X) else arrays.dense_copy(X, dtype)
        w = self._weights(sample_weight, X, y, dtype)
        if own is not None:
            self._read_output(own, X, task_name, n_classes, Y)
        # scikit-learn's stream: the initial weights, then the early-stopping split
        rs = self.random_state
        rng = check_random_state(rs if isinstance(rs, numbers.Integral) else seed)
        lbfgs = self.solver == "lbfgs"
        n = X.shape[0]
        n_val = math.ceil(float(self.validation_fraction) * n) if self.early_stopping and \
            not lbfgs else 0  # train_test_split's size
        if n_val and n - n_val < 1:  # train_test_split's check and wording
            raise ValueError(f"With n_samples={n}, test_size={self.validation_fraction} and "
                             "train_size=None, the resulting train set will be empty. Adjust "
                             "any of the aforementioned parameters.")
        w_mean = 1.0 if w is None else float(w.mean())
        start = len(self.loss_curve_)  # epochs so far (warm starts and partial_fit calls)
        epochs = 1 if incremental else int(self.max_iter)
        cfg = params.run_config(self, self.task_, n - n_val, w_mean, seed, start + epochs,
                                self._threshold())
        # the thread policy for the whole fit, not only fit's loop (which applies the same
        # count): torch calls before it (building the module and the optimizer, the fused
        # runner's probe) on the caller's threads wait for a busy core at every parallel
        # region; the caller's count comes back afterwards
        widths = [X.shape[1], *params.hidden_sizes(self), self.task_.n_outputs]
        with threads.restoring():
            threads.apply_flops(threads.mlp_flops(widths, _batch(cfg)), cfg.train.num_threads)
            if first:
                self.model_ = own if own is not None else \
                    self._build(cfg, X.shape[1], rng, dtype)
                self._assign_pending(incremental)
            tr, val_idx = self._split(Y, task_name, rng, n_val)
            w_tr = None if w is None else w[tr]
            if w_tr is not None and not w_tr.sum() > 0:
                raise DataError("sample weights of the training rows sum to zero or less",
                                hint="give the rows positive weights overall")
            try:
                if lbfgs:
                    self._train_lbfgs(X, Y, w, cfg)
                else:
                    self._train_stochastic(X, Y, w, tr, val_idx, cfg, incremental, start,
                                           epochs)
            except TrainingError as e:
                if not (self.early_stopping and not lbfgs and self._best_weights is not None):
                    # the loop's hint names CLI flags (--lr); the estimator's names parameters
                    raise _nonfinite(self, str(e).split(" (hint:")[0], beyond) from e
                # scikit-learn gh-29504: the best weights come back, the scores end in nan
                self.n_iter_ = len(self.loss_curve_) - start
                self.stop_reason_ = "diverged"
        self.run_config_ = cfg
        if not all(bool(torch.isfinite(p).all()) for p in self.model_.parameters()):
            raise _nonfinite(self, "the weights are not finite", beyond)
        return self

    def _train_stochastic(self, X: Any, Y: np.ndarray, w: np.ndarray | None,
                          tr: np.ndarray, val_idx: np.ndarray, cfg: RunConfig,
                          incremental: bool, start: int, epochs: int) -> None:
        """Mini-batch epochs through ``training.loop.fit`` with scikit-learn's rules."""
        n_tr = len(tr)
        w_tr = None if w is None else w[tr]
        bs = _batch(cfg)
        device = resolve_device(cfg.train.device)
        # a GPU, or a module= of the user's, gets dense rows
        sparse = sp.issparse(X) and device.type == "cpu" and isinstance(self.model_, MLP)
        model = self.model_.to(device)
        rows: Any = tr if len(val_idx) else slice(None)  # all rows: no copy by index
        data = DataTensors(X={"train": arrays.rows(X, rows, device, sparse)},
                           y={"train": arrays.targets(self, Y[rows], device, X.dtype)},
                           w=None if w_tr is None else torch.as_tensor(w_tr, device=device))
        val = None
        if len(val_idx):
            data.X["val"] = arrays.rows(X, val_idx, device, sparse)
            data.y["val"] = arrays.targets(self, Y[val_idx], device, X.dtype)
            val = ValRows(data.X["val"], Y[val_idx], None if w is None else w[val_idx])
        opt = self._optimizer if incremental and self._optimizer is not None else \
            build_optimizer(model, cfg, self.task_, w_tr is not None, sparse)
        self._optimizer = opt
        steps = -(-n_tr // bs)
        sched = None if incremental else build_scheduler(opt, cfg, epochs, steps)
        sgd = self.solver == "sgd"  # sgd's learning-rate schedules
        rules = SklearnRules(self, val, registry.weight_decay(cfg.optim), n_tr, start, sgd,
                             params.loss_constant(self.task_, Y[rows], w_tr),
                             params.loss_scale(self.task_))
        state = fit(model, self.task_, data, cfg, [rules], optimizer=opt, scheduler=sched,
                    start_epoch=start, runner=SparseRunner() if sparse else None)
        self._runner = state.runner_name  # which runner trained it (tests/sklearn)
        self.n_iter_ = state.epoch - start  # this call's epochs, as in scikit-learn
        self.stop_reason_ = state.stop_reason or "completed"
        if not incremental and not state.stop and self.n_iter_ >= epochs:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                          "and the optimization hasn't converged yet.", ConvergenceWarning,
                          stacklevel=4)

    def _train_lbfgs(self, X: Any, Y: np.ndarray, w: np.ndarray | None,
                     cfg: RunConfig) -> None:
        """Full-batch L-BFGS on every row (:mod:`.lbfgs`); early stopping does not apply,
        as in scikit-learn."""
        n = X.shape[0]
        device = resolve_device(cfg.train.device)
        sparse = sp.issparse(X) and device.type == "cpu" and isinstance(self.model_, MLP)
        model = self.model_.to(device)
        settings = lbfgs.LbfgsSettings(
            max_iter=int(self.max_iter), max_fun=int(self.max_fun), tol=float(self.tol),
            alpha=float(self.alpha), scale=params.loss_scale(self.task_),
            verbose=bool(self.verbose))
        res = lbfgs.fit(model, self.task_, arrays.rows(X, slice(None), device, sparse),
                        arrays.targets(self, Y, device, X.dtype), None if w is None else
                        torch.as_tensor(w, device=device), settings)
        constant = params.loss_constant(self.task_, Y, w) * settings.scale
        curve = [v + constant for v in res.losses]
        self.loss_curve_.extend(curve)
        self._optimizer, self._runner = None, "lbfgs"
        self.n_iter_ = res.n_iter
        self.t_ += n * res.n_iter
        self.stop_reason_ = res.limit or "converged"
        if curve:
            self.loss_ = curve[-1]
            best = np.inf if self.best_loss_ is None else self.best_loss_
            self.best_loss_ = float(min(best, *curve))
        if curve and not math.isfinite(curve[-1]):
            raise TrainingError(f"the loss became {curve[-1]} at iteration {res.n_iter}")
        if res.limit is not None:
            limit = {"max_iter": f"the maximum number of iterations (max_iter={self.max_iter})",
                     "max_fun": "the maximum number of function evaluations "
                                f"(max_fun={self.max_fun})"}[res.limit]
            warnings.warn(f"lbfgs failed to converge after {res.n_iter} iteration(s): "
                          f"{limit} was reached. Increase max_iter or max_fun, or scale the "
                          "data (e.g. with StandardScaler).", ConvergenceWarning, stacklevel=4)

    def _build(self, cfg: RunConfig, n_features: int, rng: np.random.RandomState,
               dtype: np.dtype[Any]) -> MLP:
        from mlplab.api import model_spec  # api imports the estimators' package lazily

        spec = model_spec(cfg, n_features, self.task_)
        tdtype = arrays.TORCH_DTYPES[np.dtype(dtype)]
        if self.init != params.GLOROT:  # fit seeds torch's generator (dropout)
            return build_seeded(spec, cfg.seed).to(tdtype)
        # scikit-learn's init draws from numpy; torch's default init (overwritten) must not
        # move the caller's global torch RNG, and seeding it costs ~2 ms (CUDA lazy-seed hooks)
        with torch.random.fork_rng(devices=[]):
            model = build_model(spec).to(tdtype)
        glorot_init(model, params.ACTIVATIONS[self.activation], rng)
        return model

    def _read_output(self, model: nn.Module, X: Any, task_name: str, n_classes: int,
                     Y: np.ndarray) -> None:
        """The task for a ``module=``'s output: what its forward returns (logits, sigmoid,
        softmax, log-softmax), two logits for a binary task meaning cross-entropy."""
        kind, width = learner.output_kind(model, X)
        loss = "cross_entropy" if task_name == "binary" and kind == "logits" and width == 2 \
            else self._loss()
        self.task_ = messages.resolve(self._task_kind, task_name, n_classes=n_classes,
                                      n_targets=1 if Y.ndim == 1 else Y.shape[1], loss=loss,
                                      output=kind, threshold=self._threshold())
        self.n_outputs_ = self.task_.n_outputs
        self.out_activation_ = params.out_activation(self.task_)
        self.n_layers_ = len(learner.linears(model)) + 1

    def _assign_pending(self, incremental: bool) -> None:
        """Weights assigned to ``coefs_`` / ``intercepts_`` before the first ``partial_fit``
        are its starting point, as in scikit-learn (``fit`` draws new ones)."""
        coefs = self.__dict__.pop("_pending_coefs", None)
        intercepts = self.__dict__.pop("_pending_intercepts", None)
        if incremental and coefs is not None and intercepts is not None:
            assign(self.coefs_, coefs)
            assign(self.intercepts_, intercepts)

    def _reset(self, task_name: str, n_classes: int, Y: np.ndarray) -> None:
        n_targets = 1 if Y.ndim == 1 else Y.shape[1]
        self.task_ = messages.resolve(self._task_kind, task_name, n_classes=n_classes,
                                      n_targets=n_targets, loss=self._loss(),
                                      output="logits", threshold=self._threshold())
        self.n_outputs_ = self.task_.n_outputs
        self.out_activation_ = params.out_activation(self.task_)
        self.n_layers_ = len(params.hidden_sizes(self)) + 2
        self.n_iter_, self.t_, self._no_improvement_count = 0, 0, 0
        self.loss_curve_: list[float] = []
        self._optimizer = None
        self._best_weights: dict[str, np.ndarray] | None = None  # early stopping's best
        if self.early_stopping and self.solver != "lbfgs":
            self.validation_scores_: list[float] | None = []
            self.best_validation_score_: float | None = -np.inf
            self.best_loss_ = None
        else:
            self.validation_scores_, self.best_validation_score_ = None, None
            self.best_loss_ = np.inf

    def _split(self, Y: np.ndarray, task: str, rng: np.random.RandomState,
               n_val: int) -> tuple[np.ndarray, np.ndarray]:
        """(training rows, validation rows): scikit-learn's early-stopping split
        (``train_test_split`` with ``test_size=validation_fraction``, so the validation size
        is rounded up; stratified for a binary classifier, as there)."""
        n = len(Y)
        if not n_val:
            return np.arange(n), np.zeros(0, dtype=np.int64)
        from sklearn.model_selection import train_test_split

        # scikit-learn stratifies when its label-binarised y has one column: binary only
        strat = (Y == 1).reshape(-1, 1) if task == "binary" else None
        tr, val = train_test_split(np.arange(n), random_state=rng,
                                   test_size=float(self.validation_fraction), stratify=strat)
        if len(val) < 2:  # scikit-learn's check and wording
            raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                             "or the size of your dataset.")
        return tr, val

    def _weights(self, sample_weight: Any, X: Any, y: np.ndarray,
                 dtype: np.dtype[Any]) -> np.ndarray | None:
        """Sample weights times class weights in ``dtype``; None when all are 1 (the plain
        mean loss)."""
        w = None if sample_weight is None else \
            _check_sample_weight(sample_weight, X, dtype=np.float64)
        cw = getattr(self, "class_weight", None)
        if cw is not None:
            cws = compute_sample_weight(cw, y)
            w = cws if w is None else w * cws
        if w is None or np.all(w == 1.0):
            return None
        return w.astype(dtype)

    # --- inference -----------------------------------------------------------------------

    def _forward(self, X: Any) -> torch.Tensor:
        """Raw outputs (n, n_outputs), float64; never changes ``model_`` (thread-safe)."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, accept_sparse=["csr", "csc", "coo"],
                          dtype=(np.float64, np.float32))
        model = self.model_
        X = X.tocsr() if sp.issparse(X) else X  # sparse rows are densified a chunk at a time
        dev, n = next(model.parameters()).device, X.shape[0]
        setting = self.run_config_.train.num_threads
        with threads.restoring():
            threads.apply(model, min(n, PREDICT_CHUNK), setting, backward=False)
            run = forward64 if isinstance(model, MLP) else learner.forward
            dt = arrays.model_dtype(model)  # X rounded as for training, then float64
            outs = [run(model, torch.from_numpy(dense_rows(X, i, i + PREDICT_CHUNK, dt)).to(dev))
                    for i in range(0, n, PREDICT_CHUNK)]
        out = torch.cat(outs) if len(outs) != 1 else outs[0]
        return out.cpu()

    @property
    def coefs_(self) -> LiveArrays:
        """Weight matrices (fan_in, fan_out) per layer, live views of the model's weights.

        Before the first fit, a list assigned here (and to ``intercepts_``) is where the
        first ``partial_fit`` starts from, as in scikit-learn.
        """
        if "_pending_coefs" in self.__dict__ and not hasattr(self, "model_"):
            return self.__dict__["_pending_coefs"]  # type: ignore[no-any-return]
        check_is_fitted(self, "model_")
        return LiveArrays([m.weight for m in _linears(self.model_)], transpose=True)

    @coefs_.setter
    def coefs_(self, values: list[Any]) -> None:
        if not hasattr(self, "model_"):
            self.__dict__["_pending_coefs"] = values
        else:
            assign(self.coefs_, values)

    @property
    def intercepts_(self) -> LiveArrays:
        """Bias vectors per layer, live views of the model's biases."""
        if "_pending_intercepts" in self.__dict__ and not hasattr(self, "model_"):
            return self.__dict__["_pending_intercepts"]  # type: ignore[no-any-return]
        check_is_fitted(self, "model_")
        return LiveArrays([m.bias for m in _linears(self.model_)], transpose=False)

    @intercepts_.setter
    def intercepts_(self, values: list[Any]) -> None:
        if not hasattr(self, "model_"):
            self.__dict__["_pending_intercepts"] = values
        else:
            assign(self.intercepts_, values)

    # --- pickling: tensors travel as numpy arrays ----------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        return pickling.pack(dict(super().__getstate__()))

    def __setstate__(self, state: dict[str, Any]) -> None:
        packed = pickling.take_packed(state)
        super().__setstate__(state)
        pickling.unpack(self, packed)

    # --- module__* parameters (skorch's convention) --------------------------------------

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The named parameters and every ``module__*`` one."""
        out = super().get_params(deep)
        out.update({k: v for k, v in vars(self).items() if k.startswith(learner.PREFIX)})
        return out  # type: ignore[no-any-return]

    def set_params(self, **kwargs: Any) -> _MLPBase:
        """Set parameters, ``module__*`` ones included."""
        # "kwargs" is __init__'s **kwargs set by name (scikit-learn's checks do): fit refuses
        for key in [k for k in kwargs if k.startswith(learner.PREFIX) or k == "kwargs"]:
            setattr(self, key, kwargs.pop(key))
        return super().set_params(**kwargs)  # type: ignore[no-any-return]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


# scikit-learn's message when its solver ends on non-finite weights (tests match it)
NONFINITE = ("Solver produced non-finite parameter weights. The input data may contain large "
             "values and need to be preprocessed.")


def _nonfinite(est: Any, what: str, beyond: bool) -> ValueError:
    """scikit-learn's ValueError for a diverged fit, with what happened and what to change."""
    why = " X has values beyond float32's range, and this model trains in float32 (fitted " \
          "first on float32 X, or a module= in float32)." if beyond else ""
    return ValueError(f"{NONFINITE} ({what}){why} Scale X (e.g. with StandardScaler) or lower "
                      f"learning_rate_init (now {est.learning_rate_init}).")


def _linears(model: nn.Module) -> list[nn.Linear]:
    return model.linears() if isinstance(model, MLP) else learner.linears(model)


def _batch(cfg: RunConfig) -> int:
    """The batch size run_config wrote (an int: the estimator resolves 'auto' itself)."""
    bs = cfg.train.batch_size
    assert isinstance(bs, int)
    return bs
