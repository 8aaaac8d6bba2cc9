"""The tutorial helpers, for any ``nn.Module`` on raw tensors or arrays.

PyTorch tutorials end with a hand-written ``plot_decision_boundary(model, X, y)``, an accuracy
function and a loss plot. These do the same with mlplab's figures and scikit-learn's metrics,
taking what tutorials produce as it is:

- labels as class indices (n,), an (n, 1) float column, one-hot rows, or 0/1 label sets
  (n, L) for multilabel;
- a model ending in one logit, k logits, a sigmoid, a softmax or a log-softmax — detected from
  its last layer and its outputs, or stated with ``output=``;
- tensors on any device (the model is evaluated where it lives, in eval mode, and left in the
  mode it was in), NumPy arrays or lists.

Example
-------
>>> import torch
>>> from torch import nn
>>> X = torch.randn(200, 2)
>>> y = (X[:, 0] > 0).float().unsqueeze(1)          # (n, 1) float labels
>>> model = nn.Sequential(nn.Linear(2, 1), nn.Sigmoid())
>>> with torch.no_grad():
...     _ = model[0].weight.copy_(torch.tensor([[5.0, 0.0]])), model[0].bias.zero_()
>>> evaluate(model, X, y)["accuracy"]
1.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from mlplab.errors import ConfigError, DataError
from mlplab.inspect.notebook import show_figures_inline
from mlplab.inspect.plots.boundary import boundary_figure
from mlplab.inspect.plots.curves import learning_curves
from mlplab.inspect.plots.view import PlotData, model_outputs, plane_for
from mlplab.metrics import classification_metrics
from mlplab.outputs import PROBE_ROWS, read_output
from mlplab.tasks import TaskSpec

OUTPUTS = ("logits", "sigmoid", "softmax", "log_softmax")
TASKS = ("binary", "multiclass", "multilabel")

# history keys that tutorials use -> the columns mlplab's learning curves read
HISTORY_KEYS = {
    "epoch": "epoch", "epochs": "epoch", "epoch_count": "epoch", "lr": "lr",
    "loss": "train_loss", "train_loss": "train_loss", "loss_values": "train_loss",
    "val_loss": "val_loss", "test_loss": "test_loss", "test_loss_values": "test_loss",
    "acc": "train_accuracy", "accuracy": "train_accuracy", "train_acc": "train_accuracy",
    "train_accuracy": "train_accuracy", "val_acc": "val_accuracy",
    "val_accuracy": "val_accuracy", "test_acc": "test_accuracy",
    "test_accuracy": "test_accuracy",
}


class _Exp(nn.Module):
    """Turns log-probabilities back into probabilities (a log-softmax head)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.exp()


@dataclass
class Adapted:
    """A user's model and data as mlplab's figures and metrics take them."""

    model: nn.Module  # outputs probabilities or logits as ``task`` decodes them
    task: TaskSpec
    X: np.ndarray  # float32 (n, d)
    y: np.ndarray  # class indices (n,) or 0/1 label sets (n, L)
    class_names: list[str]
    output: str = ""  # what the model outputs, and how that was known, in words


def _numpy(a: Any) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def _labels(y: np.ndarray, task: str | None) -> tuple[np.ndarray, list[Any], str]:
    """(encoded labels, class values, task) from labels as tutorials hold them."""
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2:
        if not np.isin(y, (0, 1)).all():
            raise DataError("2-D labels must be one-hot rows or 0/1 label sets",
                            found=f"values {np.unique(y)[:5].tolist()}",
                            hint="pass class indices of shape (n,)")
        one_hot = bool((y.sum(axis=1) == 1).all())
        if task == "multilabel" or (task is None and not one_hot):
            return y.astype(np.int64), list(range(y.shape[1])), "multilabel"
        return y.argmax(axis=1), list(range(y.shape[1])), task or ""
    if y.ndim != 1:
        raise DataError("labels must be 1-D class indices, an (n, 1) column or one-hot rows",
                        found=f"shape {y.shape}")
    if y.dtype.kind == "f":
        if not np.array_equal(y, np.round(y)):
            raise DataError("the labels are not whole numbers: these helpers draw and score "
                            "classifiers", found=f"e.g. {y[~np.isclose(y, np.round(y))][0]}",
                            hint="pass class indices (0, 1, ...)")
        y = y.astype(np.int64)
    if y.dtype.kind in "iu" and len(y) and y.min() >= 0:
        return y.astype(np.int64), list(range(int(y.max()) + 1)), task or ""
    values, idx = np.unique(y, return_inverse=True)
    return idx.astype(np.int64), values.tolist(), task or ""


def _task(kind: str, width: int, n_labels: int, wanted: str, threshold: float) -> TaskSpec:
    """The task that decodes a ``width``-wide ``kind`` output for ``n_labels`` classes (-1:
    multilabel); ``wanted`` is the task the caller asked for, or ""."""
    output = "softmax" if kind == "log_softmax" else kind
    if n_labels == -1:
        if width < 1 or output == "softmax":
            raise ConfigError("a multilabel model needs one logit or sigmoid per label",
                              found=f"{width} outputs ({kind})")
        return TaskSpec(name="multilabel", loss="bce" if output == "sigmoid" else "bce_logits",
                        output=output, n_outputs=width, n_classes=width, threshold=threshold)
    if width == 1:
        if n_labels > 2:
            raise ConfigError("one output unit can only separate two classes",
                              found=f"{n_labels} classes in y",
                              hint=f"end the model with nn.Linear(..., {n_labels})")
        if output == "softmax":
            raise ConfigError("a softmax over one output is always 1.0",
                              hint="end with one logit or a sigmoid")
        return TaskSpec(name="binary", loss="bce" if output == "sigmoid" else "bce_logits",
                        output=output, n_outputs=1, n_classes=2, threshold=threshold)
    if n_labels > width:
        raise ConfigError("the model has fewer outputs than y has classes",
                          found=f"{width} outputs, {n_labels} classes")
    if output == "sigmoid":
        output = "logits"  # k sigmoids scored as one class: the largest wins, as with logits
    name = wanted or ("binary" if width == 2 else "multiclass")
    if name == "binary" and width != 2:
        raise ConfigError("task 'binary' needs one output unit or two", found=f"{width} outputs")
    return TaskSpec(name=name, loss="cross_entropy", output=output, n_outputs=width,
                    n_classes=width, threshold=threshold)


def adapt(model: nn.Module, X: Any, y: Any, *, output: str | None = None,
          task: str | None = None, threshold: float = 0.5) -> Adapted:
    """Detect the task and the output kind of ``model`` on ``X, y``.

    Parameters
    ----------
    output : "logits", "sigmoid", "softmax" or "log_softmax"; default detected.
    task : "binary", "multiclass" or "multilabel"; default from the labels' shape and the
        model's output width.

    Example
    -------
    >>> a = adapt(torch.nn.Linear(3, 4), torch.randn(10, 3), torch.arange(10) % 4)
    >>> a.task.name, a.task.n_classes, a.class_names
    ('multiclass', 4, ['0', '1', '2', '3'])
    """
    if output is not None and output not in OUTPUTS:
        raise ConfigError(f"unknown output '{output}'", expected="one of " + ", ".join(OUTPUTS))
    if task is not None and task not in TASKS:
        raise ConfigError(f"unknown task '{task}'", expected="one of " + ", ".join(TASKS))
    Xn = _numpy(X).astype(np.float32)
    Xn = Xn.reshape(-1, 1) if Xn.ndim == 1 else Xn
    yn = _numpy(y)
    if len(Xn) != len(yn):
        raise DataError("X and y have different lengths", found=f"{len(Xn)} vs {len(yn)}")
    y_idx, classes, kind = _labels(yn, task)
    probe = TaskSpec(name="regression", loss="mse", output="logits", n_outputs=1, n_classes=1)
    out = torch.as_tensor(model_outputs(model, probe, Xn[:PROBE_ROWS]))
    width = out.reshape(len(out), -1).shape[1]
    found = read_output(model, Xn, output or "auto")  # a stated output wins, if forward can
    detected = found.kind
    n_labels = -1 if kind == "multilabel" else len(classes)
    spec = _task(detected, width, n_labels, "" if kind == "multilabel" else kind, threshold)
    if spec.name != "multilabel" and len(classes) < spec.n_classes:
        classes = [*classes, *range(len(classes), spec.n_classes)]  # classes absent from y
    net = nn.Sequential(model, _Exp()) if detected == "log_softmax" else model
    names = [str(int(c)) if isinstance(c, float) and c.is_integer() else str(c) for c in classes]
    return Adapted(net, spec, Xn, y_idx, names, str(found))


def _plot_data(a: Adapted, feature_names: list[str] | None) -> PlotData:
    names = feature_names or [f"x{i + 1}" for i in range(a.X.shape[1])]
    if len(names) != a.X.shape[1]:
        raise DataError("feature_names does not match the columns of X",
                        found=f"{len(names)} names for {a.X.shape[1]} columns")
    return PlotData({"data": a.X}, {"data": a.y}, list(names), a.class_names, a.task)


def plot_decision_boundary(model: nn.Module, X: Any, y: Any, *, output: str | None = None,
                           task: str | None = None, class_names: list[str] | None = None,
                           feature_names: list[str] | None = None,
                           features: tuple[int | str, int | str] | None = None,
                           pca: bool = False, threshold: float = 0.5,
                           resolution: int | None = None,
                           title: str = "Decision boundary") -> Figure:
    """Draw what ``model`` predicts over the plane of ``X``, with the points of ``X, y``.

    Binary models show P(class 1) with the threshold line; multiclass models the class
    regions; multilabel models one panel per label. Misclassified points get a black ring.
    With more than two features the plane is the first two principal components (or the
    ``features`` pair, the others held at their median); one feature draws the predicted
    probability along it.

    Parameters
    ----------
    model : any ``nn.Module`` taking float rows (n, d).
    X, y : tensors, arrays or lists; ``y`` as class indices, an (n, 1) column, one-hot rows
        or 0/1 label sets.
    output, task : see :func:`adapt` (detected when omitted).
    class_names, feature_names : names for the legend and the axes.
    features : two feature indices (or names) to draw instead of the principal components.
    pca : use the principal components even for a feature pair's worth of columns.

    Returns
    -------
    matplotlib.figure.Figure

    Example
    -------
    >>> import torch
    >>> X = torch.randn(100, 2)
    >>> y = (X[:, 0] * X[:, 1] > 0).long()
    >>> fig = plot_decision_boundary(torch.nn.Linear(2, 2), X, y, resolution=40)
    >>> fig.axes[0].get_title().split(" · ")[0]
    'data'
    """
    a = adapt(model, X, y, output=output, task=task, threshold=threshold)
    if class_names is not None:
        if len(class_names) != len(a.class_names):
            raise DataError("class_names does not match the classes",
                            found=f"{len(class_names)} names for {len(a.class_names)} classes")
        a.class_names = [str(c) for c in class_names]
    data = _plot_data(a, feature_names)
    plane = None
    if data.n_features >= 2:
        method = "pca" if pca else "pair" if features is not None else "auto"
        plane = plane_for(data, method=method, features=features)
    show_figures_inline()
    return boundary_figure(a.model, data, plane=plane, splits=["data"], resolution=resolution,
                           title=title)


def evaluate(model: nn.Module, X: Any, y: Any, *, output: str | None = None,
             task: str | None = None, threshold: float = 0.5) -> dict[str, Any]:
    """Score ``model`` on ``X, y`` with scikit-learn's metrics.

    Returns ``{"n", "accuracy", "precision", "recall", "f1", "roc_auc", "log_loss",
    "confusion_matrix", "output"}``: binary scores are for class 1, multiclass and multilabel
    ones are macro averages; the confusion matrix has true classes as rows. ``output`` says
    what the model was read as outputting, and why (:func:`mlplab.outputs.read_output`:
    ``output=`` wins when given, and is refused when forward cannot return it).

    Example
    -------
    >>> import torch
    >>> model = torch.nn.Linear(1, 3)
    >>> with torch.no_grad():
    ...     _ = model.weight.copy_(torch.tensor([[-4.0], [0.0], [4.0]]))
    ...     _ = model.bias.copy_(torch.tensor([0.0, 1.0, 0.0]))
    >>> m = evaluate(model, [[-2.0], [0.0], [2.0]], [0, 1, 2])
    >>> m["accuracy"], m["confusion_matrix"]
    (1.0, [[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    """
    a = adapt(model, X, y, output=output, task=task, threshold=threshold)
    proba = model_outputs(a.model, a.task, a.X)
    return {**classification_metrics(a.y, proba, task=a.task.name, threshold=threshold,
                                     n_classes=a.task.n_classes), "output": a.output}


def history_rows(history: Any) -> list[dict[str, Any]]:
    """A training history as one row per epoch with mlplab's column names.

    Takes a :class:`~mlplab.runs.run.Run`, its ``history`` (a list of dicts), a dict of lists
    as tutorials collect it (``{"train_loss": [...], "test_acc": [...]}``, Keras-style
    ``loss`` / ``val_loss`` / ``accuracy``), or a plain list of losses. Tensors become floats;
    accuracies in percent become fractions.

    Example
    -------
    >>> history_rows({"train_loss": [0.7, 0.5], "test_acc": [60.0, 80.0]})
    [{'epoch': 1, 'train_loss': 0.7, 'test_accuracy': 0.6}, {'epoch': 2, 'train_loss': 0.5, 'test_accuracy': 0.8}]
    """  # noqa: E501
    history = getattr(history, "history", history)
    if isinstance(history, dict):
        unknown = [k for k in history if k not in HISTORY_KEYS]
        if unknown:
            raise DataError(f"unknown history key '{unknown[0]}'",
                            expected="some of " + ", ".join(sorted(HISTORY_KEYS)))
        n = max((len(v) for v in history.values()), default=0)
        rows = [{HISTORY_KEYS[k]: v[i] for k, v in history.items() if i < len(v)}
                for i in range(n)]
    elif history and not isinstance(history[0], dict):
        rows = [{"train_loss": v} for v in history]
    else:
        rows = [{HISTORY_KEYS.get(k, k): v for k, v in r.items()} for r in history]
    rows = [{k: float(v) if isinstance(v, torch.Tensor | np.generic) else v
             for k, v in r.items()} for r in rows]
    for i, r in enumerate(rows):
        r.setdefault("epoch", i + 1)
        rows[i] = {"epoch": r.pop("epoch"), **r}
    for key in {k for r in rows for k in r if k.endswith("_accuracy")}:
        if any(isinstance(r.get(key), int | float) and r[key] > 1.0 for r in rows):
            for r in rows:  # percent, as tutorials' accuracy_fn returns it
                if isinstance(r.get(key), int | float):
                    r[key] = r[key] / 100.0
    return rows


def plot_history(history: Any) -> Figure:
    """Loss (left, with the learning rate when recorded) and accuracy (right) per epoch.

    ``history`` is anything :func:`history_rows` takes.

    Example
    -------
    >>> fig = plot_history({"loss": [0.69, 0.4, 0.2], "val_loss": [0.7, 0.5, 0.4],
    ...                     "accuracy": [0.5, 0.8, 0.9]})
    >>> [ax.get_title() for ax in fig.axes]
    ['Loss', 'Accuracy']
    """
    show_figures_inline()
    return learning_curves(history_rows(history))


__all__ = ["adapt", "evaluate", "history_rows", "plot_decision_boundary", "plot_history"]
