"""A trained run: the model with its preprocessing, task and labels, ready to predict.

:class:`Run` is what :func:`mlplab.train` returns and :func:`mlplab.load` reads back from a run
directory. Inputs are raw feature rows (a DataFrame with the training columns, or an array in
that column order); outputs use the original class labels.
"""

from __future__ import annotations

import hashlib
import inspect
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from mlplab import threads
from mlplab._version import __version__
from mlplab.config import RunConfig
from mlplab.data import Preprocessor, TargetEncoder
from mlplab.data.columns import blank_tokens, to_float
from mlplab.errors import DataError, RunError
from mlplab.metrics import metrics_for
from mlplab.models import MLP, ModelSpec
from mlplab.runs import store as runs
from mlplab.runs.predictor import Predictor, param_key, same_params
from mlplab.runs.provenance import imported_from
from mlplab.tasks import TaskSpec

ArrayLike = Any  # DataFrame | ndarray | list of rows | tensor

# rows per forward pass: small enough for the activations to stay in cache (measured 4x
# faster than 256k-row chunks on 1M rows, see BENCHMARKS.md)
PREDICT_CHUNK = 4096

@dataclass
class Run:
    """A trained model and everything needed to use it on raw data.

    Attributes
    ----------
    config : RunConfig
        The full resolved configuration.
    model : torch.nn.Module
        The network (an :class:`~mlplab.models.MLP` unless a custom module was given).
    task : TaskSpec
        Task, loss, head and decision threshold.
    preprocessor, target_encoder
        Fitted on the training split; turn raw rows into tensors and class indices back into
        the original labels.
    metrics : dict
        ``{"train": {...}, "val": {...}, "test": {...}}``.
    history : list of dict
        One row per evaluation (epoch, losses, scores, lr, seconds).
    """

    config: RunConfig
    model: nn.Module
    task: TaskSpec
    preprocessor: Preprocessor
    target_encoder: TargetEncoder
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    path: Path | None = None
    info: dict[str, Any] = field(default_factory=dict)

    _predictor: tuple[list[tuple[int, int, int]], Predictor] | None = field(
        default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.model.eval()  # once, here: prediction must never switch the shared model's mode
        # scaling folded into the first layer, once, at construction/load (see predictor())
        self._predictor = (param_key(self.model),
                           Predictor(self.model, self.preprocessor, PREDICT_CHUNK))

    # --- inference -----------------------------------------------------------------------

    @property
    def classes(self) -> list[Any]:
        """Original class labels (label names for multilabel; empty for regression)."""
        return list(self.target_encoder.classes)

    @property
    def feature_names(self) -> list[str]:
        return list(self.preprocessor.input_columns)

    def as_frame(self, X: ArrayLike) -> pd.DataFrame:
        """Raw input rows as a DataFrame with the training columns."""
        cols = self.feature_names
        if isinstance(X, pd.DataFrame):
            return X
        arr = X.detach().cpu().numpy() if isinstance(X, torch.Tensor) else np.asarray(X)
        if arr.ndim == 1:
            arr = arr.reshape(1, -1)
        if arr.ndim != 2 or arr.shape[1] != len(cols):
            raise DataError("input rows have the wrong number of features",
                            expected=f"{len(cols)} columns ({', '.join(cols)})",
                            found=f"shape {arr.shape}")
        return pd.DataFrame(arr, columns=cols)

    def _raw_array(self, X: ArrayLike) -> np.ndarray | torch.Tensor | None:
        """Raw numbers in input-column order (n, d), taken without a copy where possible, when
        every input is a plain number; None when the input needs :meth:`features`."""
        pre = self.preprocessor
        if not pre.all_numeric:
            return None
        if isinstance(X, pd.DataFrame):
            return self._frame_numbers(X)
        raw = X.detach() if isinstance(X, torch.Tensor) else np.asarray(X)
        if raw.ndim not in (1, 2) or (raw.dtype.is_complex if isinstance(raw, torch.Tensor)
                                      else raw.dtype.kind not in "biuf"):
            return None
        raw = raw.reshape(1, -1) if raw.ndim == 1 else raw
        return raw if raw.shape[1] == len(pre.input_columns) else None  # else: features() says

    def _frame_numbers(self, X: pd.DataFrame) -> np.ndarray | None:
        """An all-numeric model's input columns of a frame as raw float32 numbers (n, d),
        parsed by value as the preprocessor parses them (text numbers, ``na_values`` tokens ->
        NaN), so every frame takes the same path whatever dtype pandas gave its columns;
        None when a column is missing or holds text that is not a number (features() says)."""
        pre = self.preprocessor
        X = X.set_axis([str(c) for c in X.columns], axis=1)
        cols = pre.input_columns
        if not all(c in X.columns for c in cols):
            return None
        if all(X[c].dtype.kind in "biuf" for c in cols):
            return X[cols].to_numpy(dtype=np.float32, na_value=np.nan)  # type: ignore[no-any-return]
        out = np.empty((len(X), len(cols)), dtype=np.float32)
        try:
            for j, c in enumerate(cols):
                out[:, j] = to_float(blank_tokens(X[c], pre.na_values), c, pre.na_values,
                                     pre.decimal)
        except DataError:
            return None
        return out

    def features(self, X: ArrayLike) -> torch.Tensor:
        """Raw rows -> the preprocessed float tensor the model takes (on the model's device)."""
        if not isinstance(X, pd.DataFrame) and self.preprocessor.all_numeric:
            raw = X.detach().cpu().numpy() if isinstance(X, torch.Tensor) else np.asarray(X)
            if raw.dtype.kind in "biuf":  # numbers in column order: no DataFrame detour
                raw = raw.reshape(1, -1) if raw.ndim == 1 else raw
                arr = self.preprocessor.transform_array(raw)
                return torch.as_tensor(arr, device=self.device)
        arr = self.preprocessor.transform(self.as_frame(X))
        return torch.as_tensor(arr, device=self.device)

    @property
    def device(self) -> torch.device:
        p = next(self.model.parameters(), None)
        return p.device if p is not None else torch.device("cpu")

    @torch.inference_mode()
    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """Raw model outputs (n, n_outputs): logits, or regression values in the target's
        own units (the model itself predicts standardised targets, or a log for poisson)."""
        if self.task.is_classification:
            return self._forward(X).cpu().numpy()
        return self.target_encoder.inverse_values(self._forward(X, self.task.proba).cpu().numpy())

    def _forward(self, X: ArrayLike, head: Callable[[torch.Tensor], torch.Tensor] | None = None
                 ) -> torch.Tensor:
        """``head(model(features(X)))`` in blocks of PREDICT_CHUNK rows, the last one
        zero-padded, written into one preallocated output (see :mod:`mlplab.runs.predictor`).

        Kernels compute in an order that depends on the shape: BLAS sums a 1-row matrix
        product differently from a 4096-row one, and vectorised ``sigmoid``/``exp`` round the
        tail of a tensor differently from its body. So every row goes through the same shapes
        at the same positions: its result never depends on which other rows are predicted with
        it. The model is in eval mode from construction on; prediction never changes it.

        A plain number array (or an all-numeric DataFrame) goes in raw: its linear scaling is
        folded into the first layer, or for ``robust`` scaling applied block by block while
        the block is in cache; anything else goes through :meth:`features` first.
        """
        fast = self.predictor()
        workers = self.config.train.num_threads or threads.allowed_threads()
        raw = self._raw_array(X)
        if raw is not None:
            return fast.predict(raw, raw=True, head=head, workers=workers)
        if fast.one_hot is not None:  # categories: each row's codes add first-layer rows
            return fast.predict_frame(self.as_frame(X), head=head, workers=workers)
        return fast.predict(self.features(X), raw=False, head=head, workers=workers)

    def predictor(self) -> Predictor:
        """The :class:`~mlplab.runs.predictor.Predictor` of the current weights: the one built
        with the run, or a new one if the model's weights changed since (it is never cached
        from a prediction, so predicting changes nothing)."""
        built = self._predictor
        if built is not None and same_params(built[0], self.model):
            return built[1]
        return Predictor(self.model, self.preprocessor, PREDICT_CHUNK)

    @torch.inference_mode()
    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities (n, k) — (n, 2) for binary, (n, L) for multilabel."""
        if not self.task.is_classification:
            raise RunError("predict_proba is for classifiers; this run is a regression",
                           hint="use predict")
        return self._forward(X, self.task.proba).cpu().numpy()

    @torch.inference_mode()
    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted original labels (n,), 0/1 label sets (n, L), or values (n,) / (n, t)."""
        if not self.task.is_classification:
            vals = self.target_encoder.inverse_values(
                self._forward(X, self.task.proba).cpu().numpy())
            return vals[:, 0] if vals.shape[1] == 1 else vals
        task = self.task
        return self._decode(self._forward(X, lambda z: task.labels(task.proba(z))).cpu().numpy())

    def _decode(self, idx: np.ndarray) -> np.ndarray:
        """Class indices -> the original labels (multilabel: the 0/1 sets themselves)."""
        return idx if self.task.name == "multilabel" else self.target_encoder.inverse(idx)

    def predict_frame(self, X: ArrayLike) -> pd.DataFrame:
        """The input rows with probability columns (``proba_<class>``) and the prediction."""
        frame = self.as_frame(X).copy()
        names = self.target_encoder.target_names
        if self.task.is_classification:
            proba = self.predict_proba(frame)  # one pass; the labels follow from it
            pred = self._decode(self.task.labels(torch.from_numpy(proba)).numpy())
            labels = self.classes
            for j, c in enumerate(labels):
                frame[f"proba_{c}"] = proba[:, j]
            if self.task.name == "multilabel":
                for j, c in enumerate(labels):
                    frame[f"predicted_{c}"] = pred[:, j]
            else:
                frame[f"predicted_{names[0]}"] = pred
        else:
            pred2 = self.predict(frame).reshape(len(frame), -1)
            for j, n in enumerate(names):
                frame[f"predicted_{n}"] = pred2[:, j]
        return frame

    def evaluate(self, X: ArrayLike, y: ArrayLike | None = None) -> dict[str, Any]:
        """Metrics on new data: ``X`` with the target column(s) in it, or ``X`` and ``y``."""
        names = self.target_encoder.target_names
        if y is None:
            if not isinstance(X, pd.DataFrame):
                raise DataError("evaluate needs targets", hint="pass y, or a frame with "
                                f"the target column(s) {', '.join(names)}")
            missing = [n for n in names if n not in X.columns]
            if missing:
                raise DataError(f"target column(s) {', '.join(missing)} not in the data",
                                hint=f"columns are: {', '.join(map(str, X.columns))}")
            y_frame = X[names]
            X = X.drop(columns=names)
        else:
            y_frame = y if isinstance(y, pd.DataFrame) else \
                pd.DataFrame(np.asarray(y).reshape(len(np.asarray(y)), -1), columns=names)
        y_enc = self.target_encoder.transform(y_frame)
        with torch.inference_mode():
            pred = self._forward(X, self.task.proba).cpu().numpy()
        return metrics_for(self.task, y_enc, pred, n_classes=len(self.classes),
                           unscale=self.target_encoder.inverse_values)

    # --- persistence ---------------------------------------------------------------------

    def model_json(self) -> dict[str, Any]:
        """Everything needed to rebuild and use the model (saved as ``model.json``)."""
        arch: dict[str, Any]
        if isinstance(self.model, MLP):
            arch = {"type": "mlp", **self.model.spec.to_dict()}
        else:
            arch = {"type": "custom", **describe_module(self.model)}
        return {
            "format": runs.MODEL_FORMAT,
            "format_version": runs.FORMAT_VERSION,
            "architecture": arch,
            "task": self.task.to_dict(),
            "classes": self.classes,
            "target": self.target_encoder.target_names,
            "features": self.feature_names,
            "feature_names_out": list(self.preprocessor.feature_names_out),
            "threshold": self.task.threshold,
            "preprocessing": self.preprocessor.to_dict(),
            "target_encoder": self.target_encoder.to_dict(),
            "target_scaler": self.target_encoder.scaler,  # regression: mean, scale per target
            "pos_label": self.target_encoder.pos_label,  # binary: the class scores are for
            "training": self.info,
            "versions": {"mlplab": __version__, "torch": torch.__version__,
                         "python": platform.python_version()},
        }

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the run directory (see :mod:`mlplab.runs.store`); returns its path."""
        path = Path(path)
        with runs.replacing(path, overwrite) as work:  # an earlier run stays until this is whole
            runs.write_run_files(work, config=self.config.to_dict(),
                                 model_json=self.model_json(),
                                 state_dict=self.model.state_dict(), metrics=self.metrics,
                                 history=self.history)
        self.path = path
        return path

    # --- in a notebook -------------------------------------------------------------------

    def _repr_html_(self) -> str:
        """Jupyter shows a run as its metrics, boundary, learning curves and diagnosis."""
        from mlplab.inspect.notebook import run_html  # figures load only when displayed

        return run_html(self)

    def plot(self, kind: str = "boundary") -> Any:
        """The matplotlib Figure of one kind ``mlplab plot --kind`` draws (``"boundary"``,
        ``"curves"``, ``"confusion"``, ``"roc"``, ...), on the run's own data."""
        from mlplab.inspect.notebook import run_figure

        return run_figure(self, kind)

    def __repr__(self) -> str:
        head = self.metrics.get("test") or self.metrics.get("train") or {}
        score = head.get("accuracy", head.get("r2"))
        s = f"{score:.4f}" if isinstance(score, float) else "?"
        source = imported_from(self)
        how = f", imported from {source!r}, not trained by mlplab" if source else ""
        return (f"Run(task={self.task.name}, classes={self.classes!r}, "
                f"path={str(self.path) if self.path else None!r}, score={s}{how})")


MODULE_SPEC_ATTR = "mlplab_module_spec"  # set by runs.importer.load_module: the --module text


def describe_module(model: nn.Module) -> dict[str, Any]:
    """A user's module as ``model.json`` records it: class, printed structure, source file
    and its sha256, and the ``--module`` text that rebuilds it (when it was built from one).

    Example
    -------
    >>> d = describe_module(nn.Sequential(nn.Linear(2, 1)))
    >>> d["class"], d["structure"].splitlines()[0]
    ('Sequential', 'Sequential(')
    """
    cls = type(model)
    try:
        source: str | None = inspect.getsourcefile(cls)
    except (TypeError, OSError):  # no source file: built-in, made at run time, or a notebook cell
        source = None
    sha = hashlib.sha256(Path(source).read_bytes()).hexdigest() \
        if source and Path(source).is_file() else None
    return {"class": cls.__qualname__, "module": cls.__module__, "structure": str(model),
            "source": source, "sha256": sha, "rebuild": getattr(model, MODULE_SPEC_ATTR, None)}


def load(path: str | Path, model: nn.Module | None = None, device: str = "cpu") -> Run:
    """Load a run directory written by :func:`mlplab.train` (weights via safetensors only).

    A run trained with a custom ``nn.Module`` needs an instance of it as ``model``.
    """
    from mlplab.config import RunConfig

    path = Path(path)
    config_d, info, state = runs.read_run_files(path)
    try:
        cfg = RunConfig.from_dict(config_d)
        task = TaskSpec.from_dict(info["task"])
        pre = Preprocessor.from_dict(info["preprocessing"])
        enc = TargetEncoder.from_dict(info["target_encoder"], info.get("target_scaler"))
        arch = info["architecture"]
    except (KeyError, TypeError, ValueError) as e:
        raise RunError(f"'{path}' has an incomplete model.json ({type(e).__name__}: {e})",
                       hint="re-save the run with this mlplab") from None
    if model is None:
        if arch.get("type") != "mlp":
            rebuild = arch.get("rebuild") or f"FILE.py:{arch.get('class')}"
            raise RunError(f"'{path}' holds a custom module ({arch.get('class')}); mlplab "
                           "does not run code named in a run directory",
                           hint=f"pass --module {rebuild} (mlplab.load(path, model=...) "
                                "in Python)")
        model = MLP(ModelSpec.from_dict(arch))
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise RunError(f"the weights in '{path}' do not fit the architecture",
                       found=str(e).splitlines()[0]) from None
    model.to(device).eval()
    return Run(config=cfg, model=model, task=task, preprocessor=pre, target_encoder=enc,
               metrics=runs.read_metrics(path), history=runs.read_history(path / "history.csv"),
               path=path, info=dict(info.get("training", {})))
