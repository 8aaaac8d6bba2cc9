"""A training diagnosis in plain words, each finding with a suggested change.

The evidence is the history (losses and scores per evaluation), the model's gradient and
activation statistics (:func:`model_stats`, taken during training by the snapshot callback and
once more at the end), and the class counts. Each check is one function in :data:`CHECKS`;
each returns a :class:`Finding` or ``None``.

Example
-------
>>> rows = [{"epoch": e, "train_loss": l, "train_accuracy": a, "test_accuracy": a}
...         for e, l, a in [(10, 0.7, 0.5), (20, 2.5, 0.5), (30, 0.6, 0.5), (40, 3.1, 0.5),
...                         (50, 0.9, 0.5), (60, 4.0, 0.5)]]
>>> [f.code for f in diagnose(Evidence(rows, task="binary", lr=5.0))][:1]
['lr_too_high']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from mlplab.tasks import TaskSpec

STAT_ROWS = 4096  # rows used for gradient / activation statistics
SATURATION = {"sigmoid": lambda a: (a < 0.01) | (a > 0.99), "tanh": lambda a: a.abs() > 0.99}
LEVELS = ("problem", "warning", "info", "ok")


@dataclass
class Finding:
    """One observation: ``level`` is problem | warning | info | ok."""

    code: str
    level: str
    title: str
    detail: str
    suggestion: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    def text(self) -> str:
        """One paragraph: title, evidence and suggestion."""
        s = f"[{self.level}] {self.title}: {self.detail}"
        return s + (f" Try: {self.suggestion}" if self.suggestion else "")


@dataclass
class Evidence:
    """What the checks look at. Only ``history`` and ``task`` are required."""

    history: list[dict[str, Any]]
    task: str
    lr: float | None = None
    activations: list[str] = field(default_factory=list)  # one per hidden layer
    stats: list[dict[str, Any]] = field(default_factory=list)  # model_stats during training
    final: dict[str, Any] | None = None  # model_stats of the final model
    class_counts: list[int] | None = None  # train rows per class (binary / multiclass)
    n_classes: int | None = None

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

    def last(self, key: str) -> float | None:
        for r in reversed(self.history):
            if _num(r.get(key)):
                return float(r[key])
        return None


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and np.isfinite(v)


# --- statistics from a model -----------------------------------------------------------------


def model_stats(model: nn.Module, task: TaskSpec, X: torch.Tensor, y: torch.Tensor,
                rows: int = STAT_ROWS) -> dict[str, Any]:
    """Loss, gradient norm per Linear layer and, for mlplab MLPs, the fraction of dead units
    and of saturated activations per hidden layer, on the first ``rows`` rows.

    Uses ``torch.autograd.grad`` (the parameters' ``.grad`` and the optimizer are untouched);
    the model is evaluated in eval mode and left in the mode it was in.
    """
    from mlplab.models import MLP
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
        out: dict[str, Any] = {
            "loss": float(loss.detach()),
            "grad_norms": [float(g.norm()) if g is not None else 0.0 for g in grads]}
        if isinstance(model, MLP) and model.spec.hidden:
            with torch.inference_mode():
                acts = model.hidden_activations(x)
            names = model.spec.activations
            out["dead"] = [float((a == 0).all(dim=0).float().mean()) for a in acts]
            out["saturated"] = [float(SATURATION[n](a).float().mean()) if n in SATURATION
                                else None for a, n in zip(acts, names, strict=True)]
    finally:
        model.train(was_training)
    return out


# --- the checks --------------------------------------------------------------------------


def check_lr(ev: Evidence) -> Finding | None:
    """Loss that rises away from its best or jumps up and down: the steps are too big."""
    loss = ev.series("train_loss")
    if len(loss) < 4:
        return None
    d = np.diff(loss)
    rel = np.abs(d) / np.maximum(loss[:-1], 1e-12)
    ups = float((d > 0).mean())
    rising = loss[-1] > 1.5 * loss.min() + 1e-3 and loss[-1] > loss[0] * 0.5
    oscillating = ups >= 0.3 and float(np.median(rel)) > 0.05
    chance = ev.chance_loss
    blown = chance is not None and loss.max() > 3 * chance
    if not (rising or oscillating or blown):
        return None
    what = []
    if blown:
        what.append(f"the train loss reached {loss.max():.4g}, far above the {chance:.3f} of "
                    "guessing the class frequencies")
    if rising:
        what.append(f"the train loss ended at {loss[-1]:.4g}, {loss[-1] / loss.min():.1f}x its "
                    f"best ({loss.min():.4g})")
    if oscillating:
        what.append(f"it went up in {ups:.0%} of the evaluations, by a median "
                    f"{np.median(rel):.0%} of its value")
    lr = f" (e.g. --lr {ev.lr / 10:g})" if ev.lr else ""
    return Finding("lr_too_high", "problem", "learning rate too high",
                   "; ".join(what) + ": the optimizer overshoots instead of settling.",
                   f"lower the learning rate{lr}, add a schedule (--schedule cosine), or clip "
                   "gradients (--clip-grad-norm 1.0).")


def check_gradients(ev: Evidence) -> Finding | None:
    """Gradient norms that blow up, or that shrink to nothing in the first layers."""
    norms = [s["grad_norms"] for s in ev.stats + ([ev.final] if ev.final else [])
             if s and s.get("grad_norms")]
    if not norms:
        return None
    total = np.array([float(np.sqrt(np.sum(np.square(n)))) for n in norms])
    if total.max() > 1e3 or (len(total) > 2 and total[-1] > 1e3 * max(total[0], 1e-12)):
        return Finding("exploding_gradients", "problem", "exploding gradients",
                       f"the gradient norm reached {total.max():.3g} (first {total[0]:.3g}).",
                       "clip gradients (--clip-grad-norm 1.0), lower the learning rate, or "
                       "standardise the inputs (--scale standard).")
    deep = [n for n in norms if len(n) >= 3 and n[-1] > 1e-8]
    score = ev.last(f"train_{ev.score}")
    if deep and (score is None or score < 0.95):
        ratio = float(np.median([n[0] / n[-1] for n in deep]))
        if ratio < 1e-3:
            return Finding("vanishing_gradients", "warning", "vanishing gradients",
                           f"the first layer's gradient is {ratio:.1e} times the last layer's "
                           "(median over training), so the early layers barely learn.",
                           "use relu (or gelu) instead of sigmoid/tanh, fewer layers, "
                           "--batchnorm, or --init kaiming.")
    return None


def _layers(values: list[Any] | None) -> list[tuple[int, float]]:
    return [(i, float(v)) for i, v in enumerate(values or []) if v is not None]


def check_dead_units(ev: Evidence) -> Finding | None:
    """ReLU units that output 0 for every training row never learn again."""
    dead = _layers((ev.final or {}).get("dead"))
    bad = [(i, v) for i, v in dead if v >= 0.2]
    if not bad:
        return None
    worst = max(v for _, v in bad)
    where = ", ".join(f"layer {i + 1}: {v:.0%}" for i, v in bad)
    score = ev.last(f"train_{ev.score}")
    level = "info" if worst < 0.5 else "warning" if score is not None and score >= 0.95 \
        else "problem"
    return Finding("dead_units", level, "dead ReLU units",
                   f"some hidden units output 0 for every training row ({where}); they get no "
                   "gradient and stay dead.",
                   "use --activation leaky_relu (or gelu), lower the learning rate, or "
                   "--init kaiming / --batchnorm.")


def check_saturation(ev: Evidence) -> Finding | None:
    """Sigmoid / tanh units stuck near their asymptotes pass almost no gradient."""
    sat = _layers((ev.final or {}).get("saturated"))
    bad = [(i, v) for i, v in sat if v >= 0.25]
    if not bad:
        return None
    worst = max(v for _, v in bad)
    where = ", ".join(f"layer {i + 1} ({ev.activations[i] if i < len(ev.activations) else '?'})"
                      f": {v:.0%}" for i, v in bad)
    return Finding("saturated_units", "problem" if worst >= 0.5 else "warning",
                   "saturated sigmoid/tanh units",
                   f"many activations sit at the flat ends of the curve ({where} of "
                   "unit outputs within 0.01 of the limits), where the gradient is ~0.",
                   "standardise the inputs (--scale standard), use --init xavier, lower the "
                   "learning rate, or switch to --activation relu.")


def check_fit(ev: Evidence) -> Finding | None:
    """Over-fitting (train much better than held-out) or under-fitting (train itself poor)."""
    train = ev.last(f"train_{ev.score}")
    split = "val" if ev.last(f"val_{ev.score}") is not None else "test"
    held = ev.last(f"{split}_{ev.score}")
    if train is None:
        return None
    if held is not None:
        gap = train - held
        held_loss = ev.series(f"{split}_loss")
        turned = len(held_loss) > 3 and held_loss[-1] > 1.25 * held_loss.min()
        if gap >= 0.1 or (gap >= 0.05 and turned):
            rise = (f"; the {split} loss rose to {held_loss[-1] / held_loss.min():.1f}x its "
                    "minimum" if turned else "")
            return Finding("overfitting", "warning", "over-fitting",
                           f"{ev.score} is {train:.3f} on train but {held:.3f} on {split} "
                           f"(gap {gap:.3f}){rise}: the model memorises the training rows.",
                           "get more data, add --weight-decay 1e-3 or --dropout 0.2, use a "
                           "smaller model, or stop early (--val-size 0.2 --early-stopping 10).")
    low = 0.85 if ev.score == "accuracy" else 0.5
    if train < low:
        loss = ev.series("train_loss")
        still = len(loss) > 4 and loss[-1] < 0.95 * loss[int(len(loss) * 0.8)]
        more = " The loss was still falling at the end: train longer." if still else ""
        return Finding("underfitting", "warning", "under-fitting",
                       f"{ev.score} on the training data is only {train:.3f}.{more}",
                       "more epochs, a higher learning rate, wider/deeper hidden layers "
                       "(--hidden 32,32), or a non-linear activation.")
    return None


def check_imbalance(ev: Evidence) -> Finding | None:
    """A minority class much rarer than the majority: accuracy flatters the model."""
    counts = np.asarray(ev.class_counts or [], dtype=np.float64)
    if len(counts) < 2 or counts.max() == 0:
        return None
    ratio = counts.min() / counts.max()
    if ratio >= 0.33:
        return None
    return Finding("class_imbalance", "warning" if ratio < 0.15 else "info", "class imbalance",
                   f"the rarest class has {int(counts.min())} training rows against "
                   f"{int(counts.max())} for the most common ({ratio:.0%}); predicting the "
                   f"majority alone scores {counts.max() / counts.sum():.0%} accuracy.",
                   "judge by F1, recall and ROC-AUC rather than accuracy, pass sample "
                   "weights (inverse class frequency), or move the binary --threshold.")


CHECKS: list[Callable[[Evidence], Finding | None]] = [
    check_lr, check_gradients, check_dead_units, check_saturation, check_fit, check_imbalance]


def diagnose(ev: Evidence) -> list[Finding]:
    """Every check's finding, most serious first; one "ok" finding if all is well."""
    found = [f for check in CHECKS if (f := check(ev)) is not None]
    if not found:
        score = ev.last(f"test_{ev.score}") or ev.last(f"val_{ev.score}")
        tail = f" (held-out {ev.score} {score:.3f})" if score is not None else ""
        found.append(Finding("ok", "ok", "no problems found",
                             f"the loss fell steadily, units and gradients look healthy and "
                             f"train and held-out scores agree{tail}."))
    return sorted(found, key=lambda f: LEVELS.index(f.level))


def evidence_for(run: Any, p: Any = None, snapshots: Any = None) -> Evidence:
    """Collect the evidence for a :class:`~mlplab.runs.run.Run` (``p``: its Prepared data, for the
    final statistics and class counts; ``snapshots``: statistics taken during training)."""
    cfg = run.config
    ev = Evidence(history=list(run.history), task=run.task.name, lr=cfg.optim.lr,
                  activations=cfg.model.activations() if cfg.model.hidden else [],
                  stats=list(getattr(snapshots, "stats", []) or []),
                  n_classes=run.task.n_classes)
    if p is not None and len(p.X["train"]):
        data = p.tensors(next(run.model.parameters()).device)
        ev.final = model_stats(run.model, run.task, data.X["train"], data.y["train"])
        if run.task.name in ("binary", "multiclass"):
            ev.class_counts = np.bincount(np.asarray(p.y["train"]).reshape(-1).astype(int),
                                          minlength=run.task.n_classes).tolist()
    elif ev.stats:
        ev.final = ev.stats[-1]
    return ev


def diagnosis_text(findings: list[Finding]) -> str:
    """The findings as plain text, one paragraph each."""
    return "\n".join(f.text() for f in findings)


__all__ = ["CHECKS", "Evidence", "Finding", "diagnose", "diagnosis_text", "evidence_for",
           "model_stats"]
