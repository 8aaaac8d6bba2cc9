"""Tasks: what the network's outputs mean, which loss trains them, how they decode.

Each task (binary, multiclass, multilabel, regression) owns its head size, default loss and
decoding: raw outputs -> probabilities -> labels. :func:`resolve_task` also catches the output /
loss pairings that tutorials get wrong (a softmax fed to ``CrossEntropyLoss``, a sigmoid fed to
``BCEWithLogitsLoss``, raw logits fed to ``BCELoss``) and refuses or warns.

Example
-------
>>> spec = resolve_task("binary", n_classes=2, n_targets=1, loss="auto", output="logits")
>>> spec.loss, spec.n_outputs
('bce_logits', 1)
>>> import torch
>>> spec.proba(torch.tensor([[0.0]])).tolist()
[[0.5, 0.5]]
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import torch
from torch import nn

from mlplab import registry
from mlplab.errors import ConfigError, DataError, MlplabWarning

TASK_NAMES = ("binary", "multiclass", "multilabel", "regression")

# (task, output) -> loss used when loss is "auto"
_AUTO_LOSS = {
    ("binary", "logits"): "bce_logits",
    ("binary", "sigmoid"): "bce",
    ("multiclass", "logits"): "cross_entropy",
    ("multiclass", "softmax"): "nll",
    ("binary", "softmax"): "nll",
    ("multiclass", "log_softmax"): "nll",
    ("binary", "log_softmax"): "nll",
    ("multilabel", "logits"): "bce_logits",
    ("multilabel", "sigmoid"): "bce",
    ("regression", "logits"): "mse",
}

# (output, loss) pairs that silently train the wrong thing -> why, and what to do instead
_REFUSED = {
    ("softmax", "cross_entropy"): (
        "a softmax output fed to cross_entropy applies softmax twice (CrossEntropyLoss expects "
        "raw logits), which flattens the gradients",
        "use --loss nll with a softmax output, or --output logits with cross_entropy; in your "
        "own module, remove the final nn.Softmax (CrossEntropyLoss applies it)"),
    ("sigmoid", "bce_logits"): (
        "a sigmoid output fed to bce_logits applies sigmoid twice (BCEWithLogitsLoss expects "
        "raw logits)", "use --output logits with bce_logits, or --loss bce with sigmoid"),
    ("logits", "bce"): (
        "bce (BCELoss) needs probabilities in [0, 1] but the model outputs raw logits",
        "use --loss bce_logits, or --output sigmoid with bce"),
    ("softmax", "bce"): ("bce expects one sigmoid probability per label, not a softmax",
                         "use --output sigmoid with bce"),
    ("softmax", "bce_logits"): ("bce_logits expects raw logits, not a softmax",
                                "use --output logits"),
    ("log_softmax", "bce"): ("bce expects one sigmoid probability per label, not log-"
                             "probabilities", "use --output sigmoid with bce"),
    ("log_softmax", "bce_logits"): ("bce_logits expects raw logits, not log-probabilities",
                                    "use --output logits"),
}

# (output, loss) -> the torch class that computes the loss on that output, where it is not
# the registry's: nll on log-probabilities is torch's own NLLLoss (the registry's nll takes the
# log of softmax probabilities first)
_LOSS_ON_OUTPUT = {("log_softmax", "nll"): nn.NLLLoss}

# losses over one score per class, with class indices as targets
CLASS_INDEX_LOSSES = frozenset({"cross_entropy", "nll"})

# which losses each task accepts
_TASK_LOSSES = {
    "binary": {"bce_logits", "bce", "cross_entropy", "nll", "mse", "l1"},
    "multiclass": {"cross_entropy", "nll"},
    "multilabel": {"bce_logits", "bce"},
    "regression": {"mse", "l1", "poisson"},
}

# regression losses on a link: the model outputs link(value); decoding applies the inverse
_INVERSE_LINKS = {"poisson": torch.exp}
# losses whose targets must be >= 0 -> why
_NON_NEGATIVE = {"poisson": "the poisson loss models counts or rates"}


@dataclass(frozen=True)
class TaskSpec:
    """A resolved task: names, head size and the decode rules.

    ``n_outputs`` is the width of the model's last layer; ``n_classes`` the number of classes
    (labels for multilabel, targets for regression).
    """

    name: str
    loss: str
    output: str
    n_outputs: int
    n_classes: int
    threshold: float = 0.5

    @property
    def is_classification(self) -> bool:
        return self.name != "regression"

    @property
    def score_name(self) -> str:
        """What :meth:`score` measures: ``"r2"`` for regression, else ``"accuracy"``."""
        return "accuracy" if self.is_classification else "r2"

    def torch_loss(self, **kwargs: Any) -> nn.Module:
        """The loss module for this output and loss (``kwargs``: e.g. ``reduction``)."""
        own = _LOSS_ON_OUTPUT.get((self.output, self.loss))
        return own(**kwargs) if own is not None else registry.LOSSES[self.loss].build(**kwargs)

    @cached_property
    def _mean_loss(self) -> nn.Module:
        return self.torch_loss()

    @cached_property
    def _elementwise_loss(self) -> nn.Module:
        return self.torch_loss(reduction="none")

    def sample_losses(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-sample losses (B,): the loss of each row, averaged over its outputs."""
        return self._elementwise_loss(out, y).reshape(len(out), -1).mean(dim=1)

    def batch_loss(self, out: torch.Tensor, y: torch.Tensor,
                   w: torch.Tensor | None = None) -> torch.Tensor:
        """The mean loss of a batch (0-dim); with per-sample weights ``sum(w*l) / sum(w)``.

        Unweighted, it is torch's own reduced loss (one fused operator), exactly what a plain
        PyTorch loop computes.

        Example
        -------
        >>> t = resolve_task("regression", n_classes=1, n_targets=1, loss="mse",
        ...                  output="logits")
        >>> out, y = torch.tensor([[1.0], [3.0]]), torch.tensor([[0.0], [0.0]])
        >>> float(t.batch_loss(out, y)), float(t.batch_loss(out, y, torch.tensor([1.0, 0.0])))
        (5.0, 1.0)
        """
        if w is None:
            return self._mean_loss(out, y)  # type: ignore[no-any-return]
        return (self.sample_losses(out, y) * w).sum() / w.sum()

    def score(self, out: torch.Tensor, y: torch.Tensor) -> float:
        """Accuracy (exact match per row for multilabel), or R² for regression.

        Example
        -------
        >>> t = resolve_task("binary", n_classes=2, n_targets=1, loss="auto", output="logits")
        >>> t.score(torch.tensor([[2.0], [-1.0], [3.0]]), torch.tensor([[1.0], [0.0], [0.0]]))
        0.6666666865348816
        """
        if self.name == "regression":
            resid = ((y - self.proba(out)) ** 2).sum()
            total = ((y - y.mean(dim=0)) ** 2).sum()
            return float(1.0 - resid / total) if float(total) > 0 else float("nan")
        pred = self.labels(self.proba(out))
        if self.name == "multilabel":
            return float((pred == y.long()).all(dim=1).float().mean())
        return float((pred == y.reshape(-1).long()).float().mean())

    def targets(self, y: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
        """Encoded targets (from TargetEncoder) as the tensor the loss wants.

        binary: float (n, 1) for one-output heads, long (n,) for a 2-way head;
        multiclass: long (n,); multilabel: float (n, L); regression: float (n, t).
        """
        a = np.asarray(y)
        if self.loss in CLASS_INDEX_LOSSES:
            return torch.as_tensor(a.reshape(-1), device=device).long()
        a = a.reshape(len(a), 1) if a.ndim == 1 else a  # (n,) -> (n, 1); (n, L) stays
        if self.loss in _NON_NEGATIVE and a.size and float(a.min()) < 0:
            raise DataError(f"{_NON_NEGATIVE[self.loss]}: its targets must be >= 0",
                            found=f"a target of {float(a.min()):g}",
                            hint="mlplab train standardises regression targets: add --set "
                                 "data.scale_target=false (or use --loss mse)")
        return torch.as_tensor(a, device=device).float()

    def proba(self, out: torch.Tensor) -> torch.Tensor:
        """Model outputs -> probabilities: (n, 2) binary, (n, k) multiclass, (n, L) multilabel.

        Regression returns the predicted values (n, t): ``exp(out)`` for the poisson loss
        (a log link), else ``out``.

        Example
        -------
        >>> t = resolve_task("regression", n_classes=1, n_targets=1, loss="poisson",
        ...                  output="logits")
        >>> t.proba(torch.tensor([[0.0], [1.0]])).tolist()
        [[1.0], [2.7182817459106445]]
        """
        if self.name == "regression":
            link = _INVERSE_LINKS.get(self.loss)
            return out if link is None else link(out)
        if self.name == "multilabel":
            return out if self.output == "sigmoid" else torch.sigmoid(out)
        if self.n_outputs == 1:  # binary, one unit
            if self.output == "sigmoid":
                p1 = out
            elif self.loss in ("mse", "l1"):
                p1 = out.clamp(0.0, 1.0)  # a regression-style score on 0/1 targets
            else:
                p1 = torch.sigmoid(out)
            return torch.cat([1.0 - p1, p1], dim=1)
        if self.output == "softmax":
            return out
        return out.exp() if self.output == "log_softmax" else torch.softmax(out, dim=1)

    def labels(self, proba: torch.Tensor) -> torch.Tensor:
        """Probabilities -> class indices (n,), or 0/1 (n, L) for multilabel."""
        if self.name == "binary":
            return (proba[:, 1] >= self.threshold).long()
        if self.name == "multilabel":
            return (proba >= self.threshold).long()
        if self.name == "multiclass":
            return proba.argmax(dim=1)
        return proba

    def check_output_shape(self, out: torch.Tensor) -> None:
        """Refuse a model whose output width does not fit the task (user modules)."""
        width = out.shape[1] if out.dim() == 2 else 1
        if out.dim() != 2 or width != self.n_outputs:
            raise ConfigError(
                f"the model's output does not fit a {self.name} task with {self.loss}",
                expected=f"shape (batch, {self.n_outputs})", found=f"{tuple(out.shape)}",
                hint="make the last layer nn.Linear(..., "
                     f"{self.n_outputs}) or change the task / loss")

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "loss": self.loss, "output": self.output,
                "n_outputs": self.n_outputs, "n_classes": self.n_classes,
                "threshold": self.threshold}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> TaskSpec:
        return cls(name=str(d["name"]), loss=str(d["loss"]), output=str(d["output"]),
                   n_outputs=int(d["n_outputs"]),  # type: ignore[call-overload]
                   n_classes=int(d["n_classes"]),  # type: ignore[call-overload]
                   threshold=float(d.get("threshold", 0.5)))  # type: ignore[arg-type]


def resolve_task(task: str, *, n_classes: int, n_targets: int, loss: str, output: str,
                 threshold: float = 0.5) -> TaskSpec:
    """Pick the loss and head size for a task, refusing pairings that train the wrong thing.

    ``n_classes`` is the number of classes (binary: 2; multilabel: number of labels) and
    ``n_targets`` the number of target columns.
    """
    if task not in TASK_NAMES:
        raise ConfigError(f"unknown task '{task}'", expected="one of " + ", ".join(TASK_NAMES))
    if task == "binary" and n_classes != 2:
        raise DataError("task is binary but the target has the wrong number of classes",
                        expected="2 classes", found=f"{n_classes}", hint="use --task multiclass")
    if loss == "auto":
        if (task, output) not in _AUTO_LOSS:
            hint = "use --output logits" if output != "logits" else None
            raise ConfigError(f"no default loss for a {task} task with a {output} output",
                              hint=hint or "choose --loss")
        loss = _AUTO_LOSS[(task, output)]
    if (output, loss) in _REFUSED:
        why, hint = _REFUSED[(output, loss)]
        raise ConfigError(f"refusing output '{output}' with loss '{loss}': {why}", hint=hint)
    if loss not in _TASK_LOSSES[task]:
        raise ConfigError(f"loss '{loss}' does not fit a {task} task",
                          expected="one of " + ", ".join(sorted(_TASK_LOSSES[task])),
                          hint=_loss_hint(task))
    if task == "regression" and output != "logits":
        raise ConfigError(f"a regression model with a {output} output can only predict "
                          "values in [0, 1]", hint="use --output logits (a plain linear head)")
    if task == "multiclass" and output == "sigmoid":
        raise ConfigError("a multiclass model needs class scores, not per-class sigmoids",
                          hint="use --output logits with cross_entropy")
    if loss == "nll" and output == "softmax":
        warnings.warn("a softmax output with nll takes the log of probabilities, which loses "
                      "precision once a probability underflows; --output logits with "
                      "cross_entropy computes the same loss stably", MlplabWarning, stacklevel=2)
    if task == "binary" and loss in ("mse", "l1"):
        warnings.warn(f"training a binary classifier with {loss} works but learns more slowly "
                      "than bce_logits (its gradient vanishes when a sigmoid saturates)",
                      MlplabWarning, stacklevel=2)
    n_out = _head_size(task, loss, n_classes, n_targets)
    if output in ("softmax", "log_softmax") and n_out == 1:
        raise ConfigError(f"a {output.replace('_', '-')} over one output is always "
                          f"{'1.0' if output == 'softmax' else '0.0'}",
                          hint="use --output sigmoid, or --loss cross_entropy for 2 outputs")
    return TaskSpec(task, loss, output, n_out, n_classes, threshold)


def _head_size(task: str, loss: str, n_classes: int, n_targets: int) -> int:
    if task == "binary":
        return 2 if loss in CLASS_INDEX_LOSSES else 1
    if task == "regression":
        return n_targets
    return n_classes


def _loss_hint(task: str) -> str:
    return {"binary": "--loss bce_logits is the usual choice",
            "multiclass": "--loss cross_entropy (for 0/1 label sets use --task multilabel)",
            "multilabel": "--loss bce_logits (one sigmoid per label)",
            "regression": "--loss mse, l1, or poisson (counts, targets >= 0)"}[task]
