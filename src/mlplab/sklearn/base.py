"""What :class:`~.estimator.MLPClassifier` and :class:`~.estimator.MLPRegressor` share:
training through ``training.loop.fit`` with scikit-learn's rules as a callback
(:mod:`.rules`), prediction that never changes the model (:mod:`.layers`), the thread policy
(:mod:`mlplab.threads`) around both, and pickling with tensors stored as numpy arrays.
"""

from __future__ import annotations

import contextlib
import numbers
import warnings
from types import SimpleNamespace
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state, compute_sample_weight
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from mlplab import registry, threads
from mlplab.config import RunConfig
from mlplab.errors import ConfigError, DataError
from mlplab.models import MLP, ModelSpec, build_model, build_seeded, resolve_device
from mlplab.sklearn import params
from mlplab.sklearn.layers import PREDICT_CHUNK, LiveArrays, assign, forward64, glorot_init
from mlplab.sklearn.rules import SklearnRules
from mlplab.sklearn.sparse import CsrRows, SparseRunner, dense_rows
from mlplab.tasks import TaskSpec, resolve_task
from mlplab.training.loop import DataTensors, build_scheduler, fit
from mlplab.training.runners import support
from mlplab.training.runners.select import fused_takes

# torch optimizers with a fused CPU kernel (torch >= 2.4)
_FUSED = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD)


def build_optimizer(model: MLP, cfg: RunConfig, task: TaskSpec | None = None,
                    weighted: bool = False, sparse: bool = False) -> torch.optim.Optimizer:
    """``cfg.optim``'s optimizer with scikit-learn's L2: weight decay on the weight matrices
    only (biases and norm parameters in a second group without it).

    Its kernels: torch's foreach ones (the same bits as the engine's fused runner, which
    trains the run without autograd and ``torch.optim``'s per-step Python wherever it applies,
    and as ``train.fast='off'``'s plain eager steps); torch's fused CPU kernel only for runs
    that ``train.fast='auto'`` leaves to the eager runner (measured 0.40 -> 0.29 ms per Adam
    step of a 20-100-1 MLP). ``task``/``weighted``/``sparse`` say what the run trains (None: a
    run being restored, which keeps the kernel it was saved with; sparse rows train through
    :class:`~.sparse.SparseRunner`'s eager steps).
    """
    wd = registry.weight_decay(cfg.optim)
    mats = [p for p in model.parameters() if p.dim() > 1]
    rest = [p for p in model.parameters() if p.dim() <= 1]
    groups = [{"params": mats}, {"params": rest, "weight_decay": 0.0}] if wd > 0 and rest \
        else [{"params": list(model.parameters())}]
    opt = registry.OPTIMIZERS[cfg.optim.name](groups, cfg.optim)
    if type(opt) in _FUSED and all(p.device.type == "cpu" for p in model.parameters()) and \
            task is not None and cfg.train.fast == "auto" and \
            (sparse or not _fused_runner_takes(model, opt, task, cfg, weighted)):
        for group in opt.param_groups:
            group["foreach"], group["fused"] = False, True
    return opt


def _fused_runner_takes(model: MLP, opt: torch.optim.Optimizer, task: TaskSpec,
                        cfg: RunConfig, weighted: bool) -> bool:
    """Whether ``training.loop.fit`` will pick the fused runner for this run (its own rule:
    :func:`~mlplab.training.runners.select.fused_takes`)."""
    probe = SimpleNamespace(model=model, optimizer=opt, task=task)  # what the rule reads
    wanted = support.requested(cfg, weighted=weighted, mini_batch=True)
    return fused_takes(probe, wanted)  # type: ignore[arg-type]


class _MLPBase(BaseEstimator):
    """What the classifier and the regressor share: checks, config, training, prediction."""

    _task_kind = "classifier"
    # fitted attributes (set by fit; declared for type checkers only)
    model_: MLP
    task_: TaskSpec
    run_config_: RunConfig
    n_iter_: int
    t_: int
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
        first = not hasattr(self, "model_") or not (incremental or self.warm_start)
        X, y = validate_data(self, X, y, reset=first, accept_sparse=["csr", "csc", "coo"],
                             multi_output=True, y_numeric=self._task_kind == "regressor",
                             dtype=(np.float64, np.float32))
        X = X.tocsr() if sp.issparse(X) else _dense32(X)
        Y, task_name, n_classes = self._encode(y, first, classes, incremental)
        w = self._weights(sample_weight, X, y)
        if first:
            self._reset(task_name, n_classes, Y)
        seed = params.seed(self) if first else self.run_config_.seed
        val_idx = self._val_rows(X.shape[0], Y, task_name, seed)
        tr = np.setdiff1d(np.arange(X.shape[0]), val_idx) if len(val_idx) else \
            np.arange(X.shape[0])
        n_tr = len(tr)
        w_tr = None if w is None else w[tr]
        if w_tr is not None and not w_tr.sum() > 0:
            raise DataError("sample weights of the training rows sum to zero or less",
                            hint="give the rows positive weights overall")
        start = len(self.loss_curve_)  # epochs so far (warm starts and partial_fit calls)
        epochs = 1 if incremental else int(self.max_iter)
        cfg = params.run_config(self, self.task_, n_tr, 1.0 if w_tr is None else
                                float(w_tr.mean()), seed, start + epochs, self._threshold())
        bs = params.batch_size(self, n_tr)
        widths = [X.shape[1], *params.hidden_sizes(self), self.task_.n_outputs]
        # the thread policy for the whole fit, not only fit's loop (which applies the same
        # count): torch calls before it (building the module and the optimizer, the fused
        # runner's probe) on the caller's threads wait for a busy core at every parallel
        # region; the caller's count comes back afterwards
        with threads.restoring():
            threads.apply_flops(threads.mlp_flops(widths, bs), cfg.train.num_threads)
            device = resolve_device(cfg.train.device)
            sparse = sp.issparse(X) and device.type == "cpu"  # a GPU gets dense rows
            if first:
                self.model_ = self._build(cfg, X.shape[1])
            model = self.model_.to(device)
            rows: Any = tr if len(val_idx) else slice(None)  # all rows: no copy by index
            data = DataTensors(X={"train": _rows(X, rows, device, sparse)},
                               y={"train": self.task_.targets(Y[rows], device)},
                               w=None if w_tr is None else torch.as_tensor(w_tr, device=device))
            val = None
            if len(val_idx):
                data.X["val"] = _rows(X, val_idx, device, sparse)
                data.y["val"] = self.task_.targets(Y[val_idx], device)
                val = (data.X["val"], data.y["val"])
            opt = self._optimizer if incremental and self._optimizer is not None else \
                build_optimizer(model, cfg, self.task_, w_tr is not None, sparse)
            steps = -(-n_tr // bs)
            sched = None if incremental else build_scheduler(opt, cfg, epochs, steps)
            sgd = params.SOLVERS[self.solver] == "sgd"
            rules = SklearnRules(self, val, registry.weight_decay(cfg.optim), n_tr, start, sgd,
                                 params.loss_constant(self.task_, Y[rows], w_tr))
            state = fit(model, self.task_, data, cfg, [rules], optimizer=opt, scheduler=sched,
                        start_epoch=start, runner=SparseRunner() if sparse else None)
        self._optimizer, self.run_config_ = opt, cfg
        self._runner = state.runner_name  # which runner trained it (tests/sklearn)
        self.n_iter_ = state.epoch - start  # this call's epochs, as in scikit-learn
        self.stop_reason_ = state.stop_reason or "completed"
        if not incremental and not state.stop and self.n_iter_ >= epochs:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                          "and the optimization hasn't converged yet.", ConvergenceWarning,
                          stacklevel=3)
        return self

    def _build(self, cfg: RunConfig, n_features: int) -> MLP:
        from mlplab.api import model_spec  # api imports the estimators' package lazily

        spec = model_spec(cfg, n_features, self.task_)
        if self.init != params.GLOROT:
            return build_seeded(spec, cfg.seed)  # fit seeds torch's generator (dropout)
        # scikit-learn's init draws from numpy; torch's default init (overwritten) must not
        # move the caller's global torch RNG, and seeding it costs ~2 ms (CUDA lazy-seed hooks)
        with torch.random.fork_rng(devices=[]):
            model = build_model(spec)
        rs = self.random_state
        glorot_init(model, params.ACTIVATIONS[self.activation],
                    check_random_state(rs if isinstance(rs, numbers.Integral) else cfg.seed))
        return model

    def _reset(self, task_name: str, n_classes: int, Y: np.ndarray) -> None:
        n_targets = 1 if Y.ndim == 1 else Y.shape[1]
        self.task_ = resolve_task(task_name, n_classes=n_classes, n_targets=n_targets,
                                  loss=self._loss(), output="logits",
                                  threshold=self._threshold())
        self.n_outputs_ = self.task_.n_outputs
        self.out_activation_ = params.out_activation(self.task_)
        self.n_layers_ = len(params.hidden_sizes(self)) + 2
        self.n_iter_, self.t_, self._no_improvement_count = 0, 0, 0
        self.loss_curve_: list[float] = []
        self._optimizer = None
        self._best_weights: dict[str, np.ndarray] | None = None  # early stopping's best
        if self.early_stopping:
            self.validation_scores_: list[float] | None = []
            self.best_validation_score_: float | None = -np.inf
            self.best_loss_: float | None = None
        else:
            self.validation_scores_, self.best_validation_score_ = None, None
            self.best_loss_ = np.inf

    def _val_rows(self, n: int, Y: np.ndarray, task: str, seed: int) -> np.ndarray:
        """Rows held out for early stopping (same split as ``mlplab train --val-size``)."""
        if not self.early_stopping:
            return np.zeros(0, dtype=np.int64)
        from mlplab.data.split import split_indices  # data's splitter pulls in pandas

        strat = Y if task in ("binary", "multiclass") else None
        val = split_indices(n, test_size=0.0, val_size=float(self.validation_fraction),
                            seed=seed, stratify=strat).val
        if len(val) < 2:  # scikit-learn's check and wording
            raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                             "or the size of your dataset.")
        return val

    def _weights(self, sample_weight: Any, X: Any, y: np.ndarray) -> np.ndarray | None:
        """Sample weights times class weights; None when all are 1 (the plain mean loss)."""
        w = None if sample_weight is None else \
            _check_sample_weight(sample_weight, X, dtype=np.float64)
        cw = getattr(self, "class_weight", None)
        if cw is not None:
            cws = compute_sample_weight(cw, y)
            w = cws if w is None else w * cws
        if w is None or np.all(w == 1.0):
            return None
        return w.astype(np.float32)

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
            outs = [forward64(model, torch.from_numpy(dense_rows(X, i, i + PREDICT_CHUNK))
                              .to(dev)) for i in range(0, n, PREDICT_CHUNK)]
        out = torch.cat(outs) if len(outs) != 1 else outs[0]
        return out.cpu()

    @property
    def coefs_(self) -> LiveArrays:
        """Weight matrices (fan_in, fan_out) per layer, live views of the model's weights."""
        check_is_fitted(self, "model_")
        return LiveArrays([m.weight for m in self.model_.linears()], transpose=True)

    @coefs_.setter
    def coefs_(self, values: list[Any]) -> None:
        assign(self.coefs_, values)

    @property
    def intercepts_(self) -> LiveArrays:
        """Bias vectors per layer, live views of the model's biases."""
        check_is_fitted(self, "model_")
        return LiveArrays([m.bias for m in self.model_.linears()], transpose=False)

    @intercepts_.setter
    def intercepts_(self, values: list[Any]) -> None:
        assign(self.intercepts_, values)

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


def _rows(X: Any, idx: Any, device: torch.device, sparse: bool) -> torch.Tensor:
    """``X[idx]`` as a tensor on ``device`` (indexed in numpy: torch indexing by a numpy
    array costs milliseconds per call), or as :class:`~.sparse.CsrRows` when ``sparse`` (the
    loop takes them where a tensor goes; :class:`~.sparse.SparseRunner` trains on them)."""
    if sparse:
        return CsrRows(X[idx])  # type: ignore[return-value]
    part = X[idx]
    part = part.toarray() if sp.issparse(part) else part  # a sparse X on a GPU: dense rows
    return torch.from_numpy(np.ascontiguousarray(part, dtype=np.float32)).to(device)


def _dense32(X: Any) -> np.ndarray:
    """A C-contiguous float32 copy (never a read-only view)."""
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
