"""scikit-learn estimators on mlplab's training: :class:`MLPClassifier` and :class:`MLPRegressor`.

Drop-in replacements for scikit-learn's classes of the same names: the same parameter names,
defaults and meanings, plus mlplab's extras (``loss``, ``dropout``, ``batchnorm``, ``init``,
``scheduler``, ``class_weight``, ``threshold``, ``device``, and ``config`` for any other
:class:`~mlplab.config.RunConfig` key). ``fit`` turns the parameters into a RunConfig (kept as
``run_config_``) and trains with :func:`mlplab.training.loop.fit`, the loop ``mlplab train`` runs.

They do no preprocessing: give them numbers, e.g. behind a ``StandardScaler`` in a
``Pipeline``. :func:`save` writes a normal run directory (safetensors + JSON, no pickle) and
:func:`load_estimator` reads it back; ``mlplab.load`` reads the same directory as a
:class:`~mlplab.runs.run.Run`, so ``mlplab show/predict/evaluate`` work on it too.

Example
-------
>>> from sklearn.datasets import make_moons
>>> X, y = make_moons(200, noise=0.1, random_state=0)
>>> clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=300,
...                     random_state=0).fit(X, y)
>>> bool(clf.score(X, y) > 0.9), clf.classes_.tolist(), clf.predict_proba(X[:2]).shape
(True, [0, 1], (2, 2))
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import column_or_1d

from mlplab.errors import DataError
from mlplab.sklearn import params, rundir
from mlplab.sklearn.base import _MLPBase


def _stochastic(est: _MLPBase) -> bool:
    """``partial_fit`` exists for the mini-batch solvers only (scikit-learn's rule and
    wording): L-BFGS optimises the full objective, there is no "one more epoch" of it."""
    if est.solver not in params.STOCHASTIC_SOLVERS:
        raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                             f"{est.solver} is not stochastic.")
    return True


class MLPClassifier(ClassifierMixin, _MLPBase):
    """A multi-layer perceptron classifier: scikit-learn's API, mlplab's PyTorch training.

    Binary, multiclass and multi-label (a 2-D 0/1 ``y``) targets. Parameters up to
    ``max_fun`` are scikit-learn's (same names, defaults and meanings; ``activation`` also takes
    mlplab's names such as ``'gelu'``; ``solver`` also ``'adamw'``/``'rmsprop'``;
    ``solver='lbfgs'`` is full-batch L-BFGS, :mod:`mlplab.sklearn.lbfgs`). ``module=`` takes
    your own ``nn.Module`` class (with ``module__*`` parameters) or instance
    (:mod:`mlplab.sklearn.learner`).

    Parameters
    ----------
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate,
    learning_rate_init, power_t, max_iter, shuffle, random_state, tol, verbose, warm_start,
    momentum, nesterovs_momentum, early_stopping, validation_fraction, beta_1, beta_2, epsilon,
    n_iter_no_change, max_fun
        As in :class:`sklearn.neural_network.MLPClassifier`, checked by its
        ``_parameter_constraints`` (``InvalidParameterError``, same wording). ``alpha`` is
        scikit-learn's L2 on the weight matrices only, on scikit-learn's objective (the loss
        summed over outputs).
    class_weight : None, 'balanced' or dict
        Multiplies the sample weights per class, as in scikit-learn's linear models.
    loss : str
        ``'auto'`` (binary cross-entropy on logits, or cross-entropy for multiclass) or an
        mlplab loss name (``'cross_entropy'`` gives a two-unit head for binary data).
    init : str
        ``'glorot'`` (default): scikit-learn's initialisation, the same initial weights for an
        integer ``random_state``; or an mlplab scheme (``'default'``, ``'kaiming'``, ...).
    dropout, batchnorm
        mlplab's model options (``model.dropout``, ``model.batchnorm``).
    scheduler : str
        mlplab's learning-rate schedule (``'none'``, ``'cosine'``, ``'onecycle'``, ...).
    threshold : float
        Binary decision threshold on the positive class's probability.
    device : str
        ``'auto'``, ``'cpu'``, ``'cuda'``, ...
    config : dict, optional
        Further RunConfig overrides by dotted key, e.g. ``{"train.clip_grad_norm": 1.0}``.

    Attributes
    ----------
    classes_, n_features_in_, feature_names_in_, loss_, loss_curve_, validation_scores_,
    best_validation_score_, best_loss_, n_iter_, t_, n_outputs_, n_layers_, out_activation_,
    coefs_, intercepts_
        As in scikit-learn (``n_iter_`` counts the last call's epochs; ``coefs_`` and
        ``intercepts_`` are live views: writing into them changes the model).
    model_ : mlplab.models.MLP
        The trained PyTorch module.
    run_config_ : RunConfig
        The configuration the last ``fit`` trained with.
    task_ : TaskSpec
        Task, loss and head.

    Example
    -------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((16,), learning_rate_init=0.05, max_iter=100, random_state=0)
    >>> bool(clf.fit(X, y).score(X, y) > 0.9), clf.out_activation_
    (True, 'softmax')
    """

    _parameter_constraints = params.CLASSIFIER_CONSTRAINTS

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",  # type: ignore[no-untyped-def]
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 class_weight=None, loss="auto", dropout=0.0, batchnorm=False, init="glorot",
                 scheduler="none", threshold=0.5, device="auto", config=None, module=None,
                 preset="sklearn", **kwargs):
        params.store(self, locals())

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPClassifier:
        """Train on ``X`` (n, d) and labels ``y`` (n,) or a 0/1 label matrix (n, L)."""
        return self._fit(X, y, sample_weight)  # type: ignore[return-value]

    @available_if(_stochastic)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None,
                    classes: Any = None) -> MLPClassifier:
        """One epoch over ``X, y``; the first call needs ``classes`` (all labels), later calls
        may repeat them but not change them."""
        if not hasattr(self, "model_") and classes is None and np.ndim(y) == 1:
            raise DataError("classes must be passed on the first call to partial_fit.",
                            hint="partial_fit(X, y, classes=np.unique(all_labels))")
        return self._fit(X, y, sample_weight, incremental=True,  # type: ignore[return-value]
                         classes=classes)

    def _threshold(self) -> float:
        return float(self.threshold)

    def _loss(self) -> str:
        return str(self.loss)

    def _encode(self, y: np.ndarray, first: bool, classes: Any,
                incremental: bool) -> tuple[np.ndarray, str, int]:
        """Labels -> class indices (n,) or a float 0/1 matrix (n, L); sets ``classes_``."""
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)  # (its type_of_target is the costly part: a 2-D y
        # is the only one that can be a label matrix, so only that one is typed again)
        if y.ndim == 2 and type_of_target(y) == "multilabel-indicator":
            if first:
                self.classes_ = np.arange(y.shape[1])
            elif self.task_.name != "multilabel" or len(self.classes_) != y.shape[1]:
                raise DataError("y does not match the labels of the previous fit",
                                expected=f"{len(self.classes_)} label columns",
                                found=f"{y.shape[1]}")
            return y.astype(np.float32), "multilabel", y.shape[1]
        if y.ndim == 2:
            raise DataError("multiclass-multioutput targets are not supported",
                            expected="labels (n,) or a 0/1 label matrix (n, L)",
                            hint="train one classifier per output column")
        seen = np.unique(y)
        if first:
            # one class is accepted, as in scikit-learn: every prediction is that class
            self.classes_ = seen if classes is None else np.unique(np.asarray(classes))
        elif self.task_.name == "multilabel":
            raise DataError("y is not a label matrix like in the previous fit")
        elif incremental and classes is not None and \
                not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
            # scikit-learn's checks and wordings, for partial_fit and for warm_start
            raise DataError(f"`classes={classes!r}` is not the same as on last call to "
                            f"partial_fit, was: {self.classes_!r}")
        elif not incremental and not np.array_equal(seen, self.classes_):
            raise DataError("warm_start can only be used where `y` has the same classes as in "
                            f"the previous call to fit. Previously got {self.classes_}, `y` "
                            f"has {seen}")
        unknown = np.setdiff1d(seen, self.classes_)
        if len(unknown):
            raise DataError(f"y has classes not in classes_: {unknown.tolist()[:5]}",
                            expected=f"labels among {self.classes_.tolist()[:10]}",
                            hint="pass every label in classes= on the first partial_fit")
        task = "binary" if len(self.classes_) <= 2 else "multiclass"
        return np.searchsorted(self.classes_, y).astype(np.int64), task, \
            max(2, len(self.classes_))

    def decision_function(self, X: Any) -> np.ndarray:
        """Raw scores: logits (n,) for binary, (n, k) multiclass, (n, L) multi-label."""
        out = self._forward(X)
        if self.task_.name == "binary":
            return (out[:, 0] if out.shape[1] == 1 else out[:, 1] - out[:, 0]).numpy()
        return out.numpy()  # type: ignore[no-any-return]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (n, k) — (n, 2) for binary, (n, L) for multi-label."""
        out = self._forward(X)
        if len(self.classes_) == 1:  # a single class has probability 1
            return np.ones((len(out), 1))
        return self.task_.proba(out).numpy()  # type: ignore[no-any-return]

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """``log(predict_proba(X))``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))  # type: ignore[no-any-return]

    def predict(self, X: Any) -> np.ndarray:
        """Labels (n,) from ``classes_``, or a 0/1 matrix (n, L) for multi-label."""
        out = self._forward(X)
        idx = self.task_.labels(self.task_.proba(out)).numpy()
        if len(self.classes_) == 1:
            idx = np.zeros_like(idx)
        return idx if self.task_.name == "multilabel" else self.classes_[idx]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _MLPBase):
    """A multi-layer perceptron regressor: scikit-learn's API, mlplab's PyTorch training.

    Parameters are those of :class:`sklearn.neural_network.MLPRegressor` (``loss`` is
    ``'squared_error'``, ``'poisson'`` or ``'absolute_error'``, or mlplab's ``'mse'``/``'l1'``),
    plus the mlplab extras of :class:`MLPClassifier` (without ``class_weight`` and
    ``threshold``). ``'poisson'`` trains on a log link (``out_activation_ = 'exp'``; targets
    must be >= 0) and its ``loss_`` is scikit-learn's half Poisson deviance. The objective is
    scikit-learn's: half the squared error summed over targets (docs/estimator.md lists every
    difference).

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = X @ np.array([1.0, -2.0, 0.5])
    >>> reg = MLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.01, max_iter=300,
    ...                    random_state=0)
    >>> bool(reg.fit(X, y).score(X, y) > 0.95), reg.predict(X[:3]).shape
    (True, (3,))
    """

    _task_kind = "regressor"
    _parameter_constraints = params.REGRESSOR_CONSTRAINTS

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,  # type: ignore[no-untyped-def]
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dropout=0.0, batchnorm=False, init="glorot", scheduler="none",
                 device="auto", config=None, module=None, preset="sklearn", **kwargs):
        params.store(self, locals())

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """Train on ``X`` (n, d) and targets ``y`` (n,) or (n, t)."""
        return self._fit(X, y, sample_weight)  # type: ignore[return-value]

    @available_if(_stochastic)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """One epoch over ``X, y``, continuing from the current weights."""
        return self._fit(X, y, sample_weight, incremental=True)  # type: ignore[return-value]

    def _loss(self) -> str:
        return params.REGRESSION_LOSSES[self.loss]

    def _encode(self, y: np.ndarray, first: bool, classes: Any,
                incremental: bool) -> tuple[np.ndarray, str, int]:
        Y = np.array(y, dtype=np.float64).reshape(len(y), -1)  # (n, t); the model's dtype later
        if not first and Y.shape[1] != self.n_outputs_:
            raise DataError("y has a different number of targets than in the previous fit",
                            expected=str(self.n_outputs_), found=str(Y.shape[1]))
        return Y, "regression", Y.shape[1]

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values (n,), or (n, t) for several targets."""
        raw = self._forward(X)  # checks that the estimator is fitted
        out = self.task_.proba(raw).numpy()  # the values: exp(raw) for poisson
        if getattr(X, "dtype", None) == np.float32:  # scikit-learn predicts in X's dtype
            out = out.astype(np.float32)
        return out[:, 0] if out.shape[1] == 1 else out  # type: ignore[no-any-return]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


ESTIMATORS: dict[str, type[_MLPBase]] = {"MLPClassifier": MLPClassifier,
                                         "MLPRegressor": MLPRegressor}

# --- run directories ----------------------------------------------------------------------


def save(estimator: _MLPBase, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a fitted estimator as a normal mlplab run directory (no pickle).

    ``model.json`` gets ``training.estimator`` (the class, its parameters and fitted
    attributes), which :func:`load_estimator` reads back; ``mlplab.load`` and the CLI read the
    directory as a :class:`~mlplab.runs.run.Run`. A Pipeline is refused (save its last step,
    or the whole pipeline with joblib); an existing directory needs ``overwrite=True``.

    Example
    -------
    >>> import tempfile
    >>> from sklearn.datasets import make_blobs
    >>> X, y = make_blobs(60, centers=2, random_state=0)
    >>> clf = MLPClassifier((8,), max_iter=20, random_state=0).fit(X, y)
    >>> d = save(clf, tempfile.mkdtemp() + "/clf")
    >>> (load_estimator(d).predict(X) == clf.predict(X)).all()
    np.True_
    """
    return rundir.write(estimator, Path(path), overwrite)


def load_estimator(path: str | Path, device: str = "cpu") -> _MLPBase:
    """Read back an estimator written by :func:`save` (weights via safetensors only)."""
    return rundir.read(Path(path), ESTIMATORS, device)  # type: ignore[no-any-return]


__all__ = ["ESTIMATORS", "MLPClassifier", "MLPRegressor", "load_estimator", "save"]
