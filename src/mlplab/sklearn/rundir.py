"""Estimators as run directories: the writing and reading behind :func:`mlplab.save` and
:func:`mlplab.load_estimator` (safetensors + JSON; no pickle). ``model.json`` gets
``training.estimator`` (the class, its parameters and fitted attributes); ``mlplab.load`` and
the CLI read the same directory as a :class:`~mlplab.runs.run.Run`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from mlplab.errors import RunError
from mlplab.sklearn.base import _MLPBase
from mlplab.sklearn.pickling import weights_dtype

_FITTED = ("n_features_in_", "n_outputs_", "n_layers_", "out_activation_", "n_iter_", "t_",
           "loss_", "loss_curve_", "validation_scores_", "best_loss_",
           "best_validation_score_", "stop_reason_")


def check_saveable(est: Any, path: Path, overwrite: bool) -> None:
    """Refuse what :func:`write` cannot save, with messages for Python callers."""
    if hasattr(est, "steps"):  # a Pipeline: its other steps are scikit-learn objects
        raise RunError(f"mlplab.save writes one mlplab estimator, not a {type(est).__name__}",
                       hint="save the fitted estimator: mlplab.save(pipe[-1], path) (the other "
                            "steps are not saved), or the whole pipeline with "
                            "joblib.dump(pipe, 'pipe.joblib')")
    if not isinstance(est, _MLPBase):
        raise RunError(f"mlplab.save writes an mlplab estimator, got {type(est).__name__}",
                       hint="pass a fitted mlplab.MLPClassifier or mlplab.MLPRegressor")
    check_is_fitted(est, "model_")
    if est.module is not None:
        raise RunError("mlplab.save writes the built-in MLP's run directory; this estimator "
                       f"trains your own module ({type(est.model_).__name__})",
                       hint="save it with joblib.dump(est, 'est.joblib') (the module's class "
                            "must be importable where it is loaded)")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise RunError(f"'{path}' exists and is not empty",
                       hint="pass overwrite=True to replace it, or choose another path")


def write(est: Any, path: Path, overwrite: bool) -> Path:
    """Save fitted ``est`` as a run directory at ``path``; returns the path."""
    import pandas as pd

    from mlplab.data import Preprocessor, TargetEncoder
    from mlplab.runs.run import Run

    check_saveable(est, path, overwrite)
    n = int(est.n_features_in_)
    names = [str(c) for c in getattr(est, "feature_names_in_", [f"x{i + 1}" for i in range(n)])]
    identity = Preprocessor.fit(pd.DataFrame(np.zeros((1, n)), columns=names), scale="none")
    task = est.task_.name
    targets = ["y"] if est.n_outputs_ == 1 or task != "regression" else \
        [f"y{i + 1}" for i in range(est.n_outputs_)]
    if task == "multilabel":
        targets = [f"y{i + 1}" for i in range(len(est.classes_))]
        encoder = TargetEncoder(task, targets, targets)
    else:
        encoder = TargetEncoder(task, [_plain(c) for c in getattr(est, "classes_", [])],
                                targets)
    info = {"epochs_run": len(est.loss_curve_), "stop_reason": est.stop_reason_,
            "estimator": _fitted_json(est)}
    score = "val_r2" if task == "regression" else "val_accuracy"
    vals = est.validation_scores_ or []
    history = [{"epoch": i + 1, "train_loss": loss, **({score: vals[i]} if i < len(vals) else {})}
               for i, loss in enumerate(est.loss_curve_)]
    run = Run(config=est.run_config_, model=est.model_, task=est.task_, preprocessor=identity,
              target_encoder=encoder, metrics={"training": info}, history=history, info=info)
    return run.save(path, overwrite=overwrite)


def read(path: Path, classes: dict[str, type], device: str) -> Any:
    """The estimator saved at ``path`` (one of ``classes`` by name), weights via safetensors."""
    from mlplab.config import RunConfig
    from mlplab.models import MLP, ModelSpec
    from mlplab.runs import store as runs
    from mlplab.tasks import TaskSpec

    config_d, info, state = runs.read_run_files(path)
    meta = (info.get("training") or {}).get("estimator")
    if not isinstance(meta, dict) or meta.get("class") not in classes:
        raise RunError(f"'{path}' was not saved from an mlplab estimator",
                       hint="use mlplab.load(path) for runs trained by `mlplab train`")
    kwargs = dict(meta["params"])
    if isinstance(kwargs["hidden_layer_sizes"], list):
        kwargs["hidden_layer_sizes"] = tuple(kwargs["hidden_layer_sizes"])
    if isinstance(kwargs.get("class_weight"), list):
        kwargs["class_weight"] = {k: v for k, v in kwargs["class_weight"]}
    est: Any = classes[meta["class"]](**kwargs)
    model = MLP(ModelSpec.from_dict(info["architecture"])).to(weights_dtype(state))
    model.load_state_dict(state)
    est.model_ = model.to(device).eval()
    est.run_config_ = RunConfig.from_dict(config_d)
    est.task_ = TaskSpec.from_dict(info["task"])
    for key, value in meta["fitted"].items():
        setattr(est, key, value)
    if meta.get("classes") is not None:
        est.classes_ = np.asarray(meta["classes"], dtype=meta["classes_dtype"])
    if meta.get("feature_names_in") is not None:
        est.feature_names_in_ = np.asarray(meta["feature_names_in"], dtype=object)
    if est.best_loss_ is None and not est.early_stopping:
        est.best_loss_ = math.inf
    est._optimizer, est._no_improvement_count = None, 0
    return est


def _plain(v: Any) -> Any:
    """JSON-safe scalars: numpy numbers -> Python, non-finite floats -> None."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _fitted_json(est: Any) -> dict[str, Any]:
    params = {}
    for key, value in est.get_params(deep=False).items():
        if key == "random_state" and not isinstance(value, int | None):
            value = None  # a RandomState object: its stream is not saved
        elif key == "class_weight" and isinstance(value, dict):
            value = [[_plain(k), _plain(v)] for k, v in value.items()]
        elif isinstance(value, tuple | list | np.ndarray):
            value = [_plain(v) for v in value]
        params[key] = _plain(value)
    fitted: dict[str, Any] = {k: getattr(est, k, None) for k in _FITTED}
    fitted["loss_curve_"] = [_plain(v) for v in fitted["loss_curve_"]]
    if fitted["validation_scores_"] is not None:
        fitted["validation_scores_"] = [_plain(v) for v in fitted["validation_scores_"]]
    fitted = {k: _plain(v) for k, v in fitted.items()}
    classes = getattr(est, "classes_", None)
    names = getattr(est, "feature_names_in_", None)
    return {"class": type(est).__name__, "params": params, "fitted": fitted,
            "classes": None if classes is None else [_plain(c) for c in classes],
            "classes_dtype": None if classes is None else str(classes.dtype),
            "feature_names_in": None if names is None else [str(c) for c in names],
            "torch": torch.__version__}
