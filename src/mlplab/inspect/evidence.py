"""What the diagnosis looks at: the history, the run's settings and statistics of the model.

:func:`model_stats` works on any ``nn.Module`` through hooks on its Linear layers: the input of
each Linear after the first is the previous hidden layer's output, whatever produced it (an
activation module or ``torch.relu`` in ``forward``). Activation modules seen between two
Linear calls name the activation; otherwise it is inferred from the values' range.

Example
-------
>>> import torch
>>> from mlplab.models import ModelSpec, build_model
>>> from mlplab.tasks import resolve_task
>>> task = resolve_task("binary", n_classes=2, n_targets=1, loss="auto", output="logits")
>>> net = build_model(ModelSpec(2, [4], ["relu"], 1), seed=0)
>>> s = model_stats(net, task, torch.randn(64, 2), torch.ones(64, 1))
>>> s["activations"], s["linear"], len(s["grad_norms"])
(['relu'], False, 2)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from mlplab.tasks import TaskSpec

STAT_ROWS = 4096  # rows used for gradient / activation statistics
REFERENCE_ROWS = 2000  # rows for the k-nearest-neighbours reference score
# activation module type -> config name (modules a user's forward may call)
ACTIVATION_TYPES: dict[type[nn.Module], str] = {
    nn.ReLU: "relu", nn.LeakyReLU: "leaky_relu", nn.GELU: "gelu", nn.Tanh: "tanh",
    nn.Sigmoid: "sigmoid", nn.ELU: "elu", nn.SiLU: "silu"}
SATURATION = {"sigmoid": lambda a: (a < 0.01) | (a > 0.99), "tanh": lambda a: a.abs() > 0.99}


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and bool(np.isfinite(v))


@dataclass
class Evidence:
    """What the checks look at. Only ``history`` and ``task`` are required; the settings
    default to "unknown" and checks that need them stay quiet."""

    history: list[dict[str, Any]]
    task: str
    lr: float | None = None
    optimizer: str | None = None
    scale: str | None = None  # data.scale
    schedule: dict[str, Any] = field(default_factory=dict)  # ScheduleConfig as a dict
    clip: float | None = None
    init: str | None = None
    epochs: int | None = None
    custom: bool = False  # the user's own nn.Module
    activations: list[str] = field(default_factory=list)  # one per hidden layer
    linear: bool | None = None  # the model is an affine function of its input
    stats: list[dict[str, Any]] = field(default_factory=list)  # model_stats during training
    stat_epochs: list[int] = field(default_factory=list)  # the epoch of each entry of stats
    final: dict[str, Any] | None = None  # model_stats of the final model
    class_counts: list[int] | None = None  # train rows per class (binary / multiclass)
    n_classes: int | None = None
    split_rows: dict[str, int] = field(default_factory=dict)  # rows per non-empty split
    reference: float | None = None  # k-NN score on the training rows (cross-validated)
    feature_std: list[float] = field(default_factory=list)  # std of each input the model saw
    # the final score per split (run.metrics): what the model scores without a history,
    # e.g. an imported model or epochs 0
    final_scores: dict[str, float] = field(default_factory=dict)

    @property
    def chance_loss(self) -> float | None:
        """Cross-entropy of a model that knows nothing (uniform over the classes)."""
        if self.task in ("binary", "multilabel"):
            return float(np.log(2))
        if self.task == "multiclass" and self.n_classes:
            return float(np.log(self.n_classes))
        return None

    @property
    def score(self) -> str:
        return "r2" if self.task == "regression" else "accuracy"

    def series(self, key: str) -> np.ndarray:
        return np.array([r[key] for r in self.history if _num(r.get(key))], dtype=np.float64)

    def epochs_of(self, key: str) -> np.ndarray:
        return np.array([r["epoch"] for r in self.history if _num(r.get(key))], dtype=np.int64)

    def last(self, key: str) -> float | None:
        for r in reversed(self.history):
            if _num(r.get(key)):
                return float(r[key])
        return None

    def train_score(self) -> float | None:
        last = self.last(f"train_{self.score}")
        return last if last is not None else self.final_scores.get("train")


# --- statistics from any module ------------------------------------------------------------


def _trace(model: nn.Module, x: torch.Tensor) -> tuple[list[torch.Tensor], list[str | None],
                                                       torch.Tensor]:
    """Forward ``x`` once: each hidden layer's output (the input of every Linear call after
    the first), the activation module seen before it (or None) and the last Linear's output."""
    events: list[tuple[str, Any]] = []
    handles = []
    for m in model.modules():
        if isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(
                lambda mod, inp, out: events.append(("linear", (inp[0], out)))))
        elif type(m) in ACTIVATION_TYPES:
            name = ACTIVATION_TYPES[type(m)]
            handles.append(m.register_forward_hook(
                lambda mod, inp, out, name=name: events.append(("act", name))))
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    hidden: list[torch.Tensor] = []
    names: list[str | None] = []
    seen: str | None = None
    last_out = x
    for kind, value in events:
        if kind == "act":
            seen = value
            continue
        if last_out is not x:  # a Linear after the first: its input is a hidden layer
            hidden.append(value[0])
            names.append(seen)
        seen, last_out = None, value[1]
    return hidden, names, last_out


def _infer_activation(a: torch.Tensor) -> str:
    """The activation a hidden layer's values suggest, when no module was seen."""
    lo, hi = float(a.min()), float(a.max())
    if lo >= 0.0 and hi <= 1.0 and (a > 0).any():
        return "sigmoid" if (a > 0).all() else "relu"
    if lo >= 0.0:
        return "relu"
    if lo >= -1.0 and hi <= 1.0:
        return "tanh"
    return "identity"


def _is_affine(model: nn.Module, x: torch.Tensor) -> bool:
    """True when the last Linear's output is a non-constant affine function of the input
    (checked on midpoints of row pairs): the model draws straight boundaries whatever its
    depth. A constant output (a collapsed network) is not called linear."""
    if len(x) < 2:
        return False
    a, b = x, x.roll(1, dims=0)
    outs = [_trace(model, v)[2].double() for v in (a, b, (a + b) / 2)]
    size = 1e-4 * (1.0 + outs[0].abs().max())
    gap = (outs[2] - (outs[0] + outs[1]) / 2).abs().max()
    return bool(gap <= size and (outs[0] - outs[1]).abs().max() > size)


def model_stats(model: nn.Module, task: TaskSpec, X: torch.Tensor, y: torch.Tensor,
                rows: int = STAT_ROWS) -> dict[str, Any]:
    """Loss, gradient norm per Linear layer, and per hidden layer its activation, the
    fraction of dead units (0 for every row) and of saturated outputs, on ``rows`` rows.

    Uses ``torch.autograd.grad`` (the parameters' ``.grad`` and the optimizer are untouched);
    the model is evaluated in eval mode and left in the mode it was in.
    """
    from mlplab.training.loop import make_loss

    x, t = X[:rows], y[:rows]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    params = [m.weight for m in linears if m.weight.requires_grad]
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            loss = make_loss(task, weighted=False)(model(x), t)
            grads = torch.autograd.grad(loss, params, allow_unused=True)
        with torch.inference_mode():
            hidden, seen, _ = _trace(model, x)
            linear = _is_affine(model, x)
    finally:
        model.train(was_training)
    linear = linear and not any(seen)  # an activation module is there: it is not built linear
    names = [s or ("identity" if linear else _infer_activation(a))
             for a, s in zip(hidden, seen, strict=True)]
    return {"loss": float(loss.detach()),
            "grad_norms": [float(g.norm()) if g is not None else 0.0 for g in grads],
            "activations": names, "linear": linear,
            "dead": [float((a == 0).all(dim=0).float().mean()) if n != "identity" else 0.0
                     for a, n in zip(hidden, names, strict=True)],
            "saturated": [float(SATURATION[n](a).float().mean()) if n in SATURATION else None
                          for a, n in zip(hidden, names, strict=True)],
            # ReLU layers: the fraction of units dead or positive on every row; at 1.0 in
            # every layer the net is one affine map on these rows (effectively linear)
            "one_sided": [float(((a > 0).all(dim=0) | (a == 0).all(dim=0)).float().mean())
                          if n == "relu" else None for a, n in zip(hidden, names, strict=True)]}


def reference_score(X: np.ndarray, y: np.ndarray, task: str,
                    rows: int = REFERENCE_ROWS) -> float | None:
    """Cross-validated score of a k-nearest-neighbours model on the training rows: what a
    flexible boundary reaches on this data (None when there are too few rows)."""
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    X, y = X[:rows], np.asarray(y)[:rows]
    if len(X) < 20:
        return None
    if task in ("binary", "multiclass"):
        yy = y.reshape(-1).astype(int)
        if np.bincount(yy).min(initial=len(yy)) < 5:
            return None
        return float(cross_val_score(KNeighborsClassifier(7), X, yy, cv=5).mean())
    if task == "regression":
        return float(cross_val_score(KNeighborsRegressor(7), X, y.reshape(len(y), -1),
                                     cv=5, scoring="r2").mean())
    return None


def evidence_for(run: Any, p: Any = None, snapshots: Any = None) -> Evidence:
    """Collect the evidence for a :class:`~mlplab.runs.run.Run` (``p``: its Prepared data, for the
    final statistics, class counts and the reference score; ``snapshots``: statistics taken
    during training)."""
    from mlplab.models import MLP

    cfg = run.config
    info = run.info or {}
    ev = Evidence(history=list(run.history), task=run.task.name, lr=cfg.optim.lr,
                  optimizer=cfg.optim.name, scale=cfg.data.scale,
                  schedule=cfg.schedule.model_dump(), clip=cfg.train.clip_grad_norm,
                  init=cfg.model.init, epochs=cfg.train.epochs,
                  custom=not isinstance(run.model, MLP), n_classes=run.task.n_classes,
                  split_rows={s: int(info[f"n_{s}"]) for s in ("train", "val", "test")
                              if info.get(f"n_{s}")})
    score = "accuracy" if run.task.is_classification else "r2"
    ev.final_scores = {s: float(m[score]) for s, m in (run.metrics or {}).items()
                       if isinstance(m, dict) and _num(m.get(score))}
    if snapshots is not None:
        ev.stats = list(getattr(snapshots, "stats", []) or [])
        ev.stat_epochs = list(getattr(snapshots, "epochs", []) or [])
    if p is not None and len(p.X["train"]):
        data = p.tensors(next(run.model.parameters()).device)
        ev.final = model_stats(run.model, run.task, data.X["train"], data.y["train"])
        ev.feature_std = np.asarray(p.X["train"], dtype=np.float64).std(axis=0).tolist()
        ev.reference = reference_score(np.asarray(p.X["train"]), p.y["train"], ev.task)
        if run.task.name in ("binary", "multiclass"):
            ev.class_counts = np.bincount(np.asarray(p.y["train"]).reshape(-1).astype(int),
                                          minlength=run.task.n_classes).tolist()
    elif ev.stats:
        ev.final = ev.stats[-1]
    if ev.final is not None:
        ev.activations = list(ev.final.get("activations") or [])
        ev.linear = ev.final.get("linear")
    return ev


__all__ = ["Evidence", "evidence_for", "model_stats", "reference_score"]
