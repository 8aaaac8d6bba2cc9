"""A training diagnosis that reasons: one consistent set of findings, ranked by what explains
the result, each with changes that neither contradict each other nor the run's settings.

The checks read an :class:`~mlplab.inspect.evidence.Evidence` (history, settings, model
statistics). Specific causes come first (divergence, a rate too high, a schedule that drove the
rate to ~0, a collapse, a linear model on curved data); a generic "under-fitting" is only
reported when no specific cause explains a poor fit, and dead or saturated units only when the
fit suffers. Each suggestion is an :class:`Action` on a topic ("lr", "capacity", ...) with a
direction; the best-ranked finding decides a topic, and actions the run already does (say
``--scale standard`` on standardised inputs) are dropped. Texts come from the i18n catalogs
(``diagnosis.*``).

Example
-------
>>> rows = [{"epoch": e, "train_loss": l, "train_accuracy": a, "test_accuracy": a}
...         for e, l, a in [(10, 0.7, 0.5), (20, 2.5, 0.5), (30, 0.6, 0.5), (40, 3.1, 0.5),
...                         (50, 0.9, 0.5), (60, 4.0, 0.5)]]
>>> [f.code for f in diagnose(Evidence(rows, task="binary", lr=5.0))][:1]
['lr_too_high']
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlplab.inspect.evidence import Evidence, evidence_for, model_stats
from mlplab.inspect.findings import LANG, Action, Check, Finding, finding, say

LEVELS = ("problem", "warning", "info", "ok")
# rates above which an optimizer rarely settles on small nets (the tutorials stay at or below)
LR_LIMITS = {"sgd": 2.0, "adam": 0.1, "adamw": 0.1, "rmsprop": 0.05}
GOOD_FIT = 0.95  # train score from which dead / saturated units are not said to hurt
VANISHED = 1e-3  # the schedule "drove the rate to ~0" below this fraction of its start
TINY_SPLIT = 10  # rows below which a split's scores are too coarse to trust
OSCILLATION_FLOOR = 0.02  # loss jumps below this fraction of the chance loss are noise


def _good(ev: Evidence) -> bool:
    score = ev.train_score()
    return score is not None and score >= GOOD_FIT


# --- what went wrong with the optimisation ---------------------------------------------------


def check_diverged(ev: Evidence) -> Finding | None:
    """A loss that became NaN or infinite."""
    for r in ev.history:
        v = r.get("train_loss")
        if isinstance(v, int | float) and not np.isfinite(v):
            return finding("diverged", "problem", "", [Action("lower_lr", "lr", -1, _lower(ev)),
                                                        Action("clip", "clip")],
                            value=v, epoch=r.get("epoch"))
    return None


def _lower(ev: Evidence) -> dict[str, Any]:
    return {"lr": ev.lr / 10} if ev.lr else {"lr": 0.001}


def check_lr(ev: Evidence) -> Finding | None:
    """Loss that rises away from its best, jumps up and down, or blows past chance; or a rate
    far above what the optimizer tolerates on a run that did not fit."""
    loss = ev.series("train_loss")
    parts: list[str] = []
    if len(loss) >= 4:
        d = np.diff(loss)
        rel = np.abs(d) / np.maximum(loss[:-1], 1e-12)
        ups = float((d > 0).mean())
        chance = ev.chance_loss
        if chance is not None and loss.max() > 3 * chance:
            parts.append(say("diagnosis.lr_too_high.blown", max=loss.max(), chance=chance))
        if loss[-1] > 1.5 * loss.min() + 1e-3 and loss[-1] > loss[0] * 0.5:
            parts.append(say("diagnosis.lr_too_high.rising", last=loss[-1],
                            ratio=loss[-1] / loss.min(), best=loss.min()))
        # jumps that are tiny against chance (an overfit net held by weight decay) are settled
        felt = chance is None or float(np.median(np.abs(d))) > OSCILLATION_FLOOR * chance
        if ups >= 0.3 and float(np.median(rel)) > 0.05 and felt:
            parts.append(say("diagnosis.lr_too_high.oscillating", ups=ups,
                            rel=float(np.median(rel))))
    limit = LR_LIMITS.get(ev.optimizer or "")
    if ev.lr is not None and limit is not None and ev.lr > 5 * limit and not _good(ev):
        parts.append(say("diagnosis.lr_too_high.large", lr=ev.lr, optimizer=ev.optimizer,
                        limit=limit))
    if not parts:
        return None
    rate = f" {ev.lr:g}" if ev.lr else ""
    return finding("lr_too_high", "problem", say("diagnosis.lr_too_high.detail",
                                                 evidence="; ".join(parts), lr=rate),
                    [Action("lower_lr", "lr", -1, _lower(ev)), Action("clip", "clip")])


def _scheduled_lr(ev: Evidence) -> tuple[np.ndarray, np.ndarray] | None:
    """(epochs, rate) over the run: the history's lr column, or StepLR worked out."""
    lrs, epochs = ev.series("lr"), ev.epochs_of("lr")
    s = ev.schedule
    if s.get("name") == "step" and ev.lr and ev.epochs:
        epochs = np.arange(ev.epochs + 1)
        return epochs, ev.lr * float(s.get("gamma", 1.0)) ** (epochs // int(s["step_size"]))
    return (epochs, lrs) if len(lrs) >= 2 else None


def check_schedule(ev: Evidence) -> Finding | None:
    """A schedule that shrank the rate to ~0 long before the end: the rest of the epochs
    change nothing."""
    if ev.schedule.get("name") in (None, "none") or not ev.lr:
        return None
    curve = _scheduled_lr(ev)
    if curve is None:
        return None
    epochs, lrs = curve
    low = np.flatnonzero(lrs < VANISHED * ev.lr)
    if not len(low) or epochs[low[0]] > 0.5 * epochs[-1]:
        return None
    s = ev.schedule
    params = f"step_size={s.get('step_size')}, gamma={s.get('gamma')}" \
        if s.get("name") == "step" else ""
    return finding("schedule_vanished", "problem", "",
                    [Action("gentler_schedule", "schedule", 0,
                            {"step": max(1, int(epochs[-1]) // 5)})],
                    schedule=s["name"], params=params, lr0=ev.lr, lr_end=float(lrs[-1]),
                    epoch=int(epochs[low[0]]), frac=1 - epochs[low[0]] / max(epochs[-1], 1))


def check_collapse(ev: Evidence) -> Finding | None:
    """Every unit of a hidden layer dead: the network's output no longer depends on the
    input. Names the epoch from the snapshots, or from when the loss stopped moving."""
    dead = (ev.final or {}).get("dead") or []
    layers = [i for i, v in enumerate(dead) if v is not None and v >= 1.0]
    if not layers:
        return None
    k = layers[0]
    epoch = next((e for e, s in zip(ev.stat_epochs, ev.stats, strict=False)
                  if len(s.get("dead") or []) > k and s["dead"][k] >= 1.0), None)
    loss, when = ev.series("train_loss"), ev.epochs_of("train_loss")
    if epoch is None and len(loss) >= 2:  # no snapshots: since when the loss sits at its end
        away = np.flatnonzero(np.abs(loss - loss[-1]) > 0.01 * abs(loss[-1]) + 1e-4)
        epoch = int(when[away[-1] + 1]) if len(away) else int(when[0])
    return finding("collapse", "problem", "",
                    [Action("lower_lr", "lr", -1, _lower(ev)), Action("leaky", "activation"),
                     Action("init_kaiming", "init")],
                    layer=k + 1, epoch="?" if epoch is None else epoch,
                    loss=float(loss[-1]) if len(loss) else float("nan"))


def check_gradients(ev: Evidence) -> Finding | None:
    """Gradient norms that blow up, or that shrink to nothing in the first layers."""
    norms = [s["grad_norms"] for s in ev.stats + ([ev.final] if ev.final else [])
             if s and s.get("grad_norms")]
    if not norms:
        return None
    total = np.array([float(np.sqrt(np.sum(np.square(n)))) for n in norms])
    if total.max() > 1e3 or (len(total) > 2 and total[-1] > 1e3 * max(total[0], 1e-12)):
        return finding("exploding_gradients", "problem", "",
                        [Action("clip", "clip"), Action("lower_lr", "lr", -1, _lower(ev)),
                         Action("scale", "scale")], max=total.max(), first=total[0])
    deep = [n for n in norms if len(n) >= 3 and n[-1] > 1e-8]
    if deep and not _good(ev):
        ratio = float(np.median([n[0] / n[-1] for n in deep]))
        if ratio < 1e-3:
            return finding("vanishing_gradients", "warning", "",
                            [Action("relu", "activation"), Action("init_kaiming", "init")],
                            ratio=ratio)
    return None


# --- what the model is and what it can do ----------------------------------------------------


def check_linear(ev: Evidence) -> Finding | None:
    """A linear model (no activation between its layers) on data that needs a curved
    boundary: more epochs or wider layers will not help."""
    score = ev.train_score()
    dead = (ev.final or {}).get("dead") or []
    if not ev.linear or ev.reference is None or score is None or \
            any(v is not None and v >= 1.0 for v in dead):  # collapsed, not built linear
        return None
    if ev.reference - score < 0.1:
        return None
    return finding("linear_model", "problem", "", [Action("nonlinear", "activation")],
                    score=score, reference=ev.reference, metric=ev.score)


def check_effectively_linear(ev: Evidence) -> Finding | None:
    """Every hidden ReLU unit dead or active on every training row: the ReLUs never switch,
    so on this data the network is one affine map and its boundary a straight line, however
    many units it has (tutorial 003's 2-4-1 net at some seeds)."""
    final = ev.final or {}
    sides, dead = final.get("one_sided") or [], final.get("dead") or []
    if not sides or ev.linear or any(v is None or v < 1.0 for v in sides) or \
            any(v is not None and v >= 1.0 for v in dead):  # collapsed: check_collapse says
        return None
    score = ev.train_score()
    lacking = ev.reference is not None and score is not None and ev.reference - score >= 0.05
    return finding("effectively_linear", "problem" if lacking else "warning", "",
                   [Action("leaky", "activation"), Action("init_kaiming", "init"),
                    Action("other_seed", "seed")],
                   units=", ".join(f"{say('diagnosis.layer', n=i + 1)}: {d:.0%}"
                                   for i, d in enumerate(dead)),
                   score=score if score is not None else float("nan"), metric=ev.score)


def check_units(ev: Evidence) -> Finding | None:
    """Dead ReLU units or saturated sigmoid/tanh units, reported when the fit suffers."""
    final = ev.final or {}
    acts = ev.activations or final.get("activations") or []
    dead = [(i, v) for i, v in enumerate(final.get("dead") or []) if v and v >= 0.2]
    sat = [(i, v) for i, v in enumerate(final.get("saturated") or []) if v and v >= 0.25]
    if _good(ev) or not (dead or sat):
        return None
    if dead:
        where = ", ".join(f"{say('diagnosis.layer', n=i + 1)}: {v:.0%}" for i, v in dead)
        return finding("dead_units", "warning", "",
                        [Action("leaky", "activation"), Action("lower_lr", "lr", -1, _lower(ev)),
                         Action("init_kaiming", "init")], where=where)
    where = ", ".join(f"{say('diagnosis.layer', n=i + 1)} "
                      f"({acts[i] if i < len(acts) else '?'}): {v:.0%}" for i, v in sat)
    return finding("saturated_units", "problem" if max(v for _, v in sat) >= 0.5 else "warning",
                    "", [Action("scale", "scale"), Action("relu", "activation"),
                         Action("lower_lr", "lr", -1, _lower(ev))], where=where)


def check_unscaled(ev: Evidence) -> Finding | None:
    """Raw inputs on very different (or large) scales, on a run that did not fit well."""
    std = np.asarray(ev.feature_std, dtype=np.float64)
    if ev.scale != "none" or not len(std) or _good(ev) or std.min() <= 0:
        return None
    ratio, big = float(std.max() / std.min()), float(std.max())
    if ratio < 10 and big < 5:
        return None
    return finding("unscaled_inputs", "warning", "", [Action("scale", "scale")],
                    ratio=ratio, big=big)


# --- what the result looks like --------------------------------------------------------------


def check_fit(ev: Evidence) -> Finding | None:
    """Over-fitting (train much better than held-out) or under-fitting (train itself poor)."""
    train = ev.train_score()
    split = "val" if ev.last(f"val_{ev.score}") is not None else "test"
    held = ev.last(f"{split}_{ev.score}")
    if train is None:
        return None
    if held is not None and ev.split_rows.get(split, TINY_SPLIT) >= TINY_SPLIT:
        gap = train - held
        held_loss = ev.series(f"{split}_loss")
        turned = len(held_loss) > 3 and held_loss[-1] > 1.25 * held_loss.min()
        if gap >= 0.1 or (gap >= 0.05 and turned):
            return finding("overfitting", "warning", "",
                            [Action("regularise", "capacity", -1),
                             Action("early_stop", "epochs", -1)],
                            metric=ev.score, train=train, held=held, split=split, gap=gap)
    if train >= (0.85 if ev.score == "accuracy" else 0.5):
        return None
    loss = ev.series("train_loss")
    still = len(loss) > 4 and loss[-1] < 0.95 * loss[int(len(loss) * 0.8)]
    actions = [Action("more_epochs", "epochs", +1, {"epochs": 2 * (ev.epochs or 500)})] \
        if still else []
    limit = LR_LIMITS.get(ev.optimizer or "")
    if ev.lr is not None and limit is not None and ev.lr < limit / 10:
        actions.append(Action("higher_lr", "lr", +1, {"lr": ev.lr * 10}))
    actions += [Action("wider", "capacity", +1), Action("nonlinear", "activation")]
    return finding("underfitting", "warning", "", actions, metric=ev.score, train=train,
                    still=say("diagnosis.underfitting.still") if still else "")


def check_imbalance(ev: Evidence) -> Finding | None:
    """A minority class much rarer than the majority: accuracy flatters the model."""
    counts = np.asarray(ev.class_counts or [], dtype=np.float64)
    if len(counts) < 2 or counts.max() == 0 or counts.min() / counts.max() >= 0.33:
        return None
    ratio = counts.min() / counts.max()
    return finding("class_imbalance", "warning" if ratio < 0.15 else "info", "",
                    [Action("imbalance", "metric")], rare=int(counts.min()),
                    common=int(counts.max()), ratio=ratio, majority=counts.max() / counts.sum())


def check_tiny_split(ev: Evidence) -> Finding | None:
    """A split of a handful of rows: one row moves its accuracy by 10% or more."""
    tiny = {s: n for s, n in ev.split_rows.items() if 0 < n < TINY_SPLIT}
    if not tiny:
        return None
    split, n = min(tiny.items(), key=lambda kv: kv[1])
    return finding("tiny_split", "warning", "", [Action("bigger_split", "split")],
                    split=split, n=n, step=1 / n)


# Ranked: a specific cause explains more than the symptoms it produces.
CHECKS: list[Check] = [check_diverged, check_lr, check_schedule, check_collapse, check_linear,
                       check_effectively_linear, check_gradients, check_units, check_unscaled,
                       check_fit, check_imbalance, check_tiny_split]
# causes that explain a poor fit: when one is found, the generic findings are folded into it
EXPLAINS_POOR_FIT = {"diverged", "lr_too_high", "schedule_vanished", "collapse",
                     "linear_model", "effectively_linear"}
FOLDED = {"underfitting", "dead_units", "saturated_units", "vanishing_gradients"}


def _done(action: Action, ev: Evidence) -> bool:
    """The run already does what ``action`` suggests."""
    acts = set(ev.activations)
    return {"scale": ev.scale not in (None, "none"),
            "clip": ev.clip is not None,
            "init_kaiming": ev.init == "kaiming",
            "relu": bool(acts) and acts <= {"relu"},
            "nonlinear": ev.linear is False,
            "leaky": bool(acts) and acts <= {"leaky_relu", "gelu"}}.get(action.key, False)


def _text(action: Action, custom: bool) -> str:
    from mlplab.i18n import catalog

    key = f"diagnosis.do.{action.key}"
    if custom and f"{key}.module" in catalog("en"):
        key += ".module"
    return say(key, **action.fmt)


def diagnose(ev: Evidence, lang: str | None = None) -> list[Finding]:
    """The findings, best explanation first; one "ok" finding if all is well; texts in
    ``lang`` (default: the locale's, else English).

    Generic symptoms are folded into a specific cause; every topic (learning rate, capacity,
    epochs, ...) gets one direction, chosen by the best-ranked finding; suggestions the run
    already follows are dropped.
    """
    token = LANG.set(lang)
    try:
        return _diagnose(ev)
    finally:
        LANG.reset(token)


def _diagnose(ev: Evidence) -> list[Finding]:
    found = [f for check in CHECKS if (f := check(ev)) is not None]
    if {f.code for f in found} & EXPLAINS_POOR_FIT:
        found = [f for f in found if f.code not in FOLDED]
    found.sort(key=lambda f: LEVELS.index(f.level))  # stable: CHECKS order within a level
    chosen: dict[str, int] = {}
    for f in found:
        keep = []
        for a in f.actions:
            if _done(a, ev) or chosen.get(a.topic, a.direction) != a.direction:
                continue
            chosen.setdefault(a.topic, a.direction)
            keep.append(a)
        f.actions = keep
        f.suggestion = say("diagnosis.and").join(_text(a, ev.custom) for a in keep)
        if f.suggestion:
            f.suggestion += say("diagnosis.end")
    if not found:
        score = ev.last(f"test_{ev.score}") or ev.last(f"val_{ev.score}") or \
            ev.final_scores.get("test") or ev.final_scores.get("val")
        metric = say(f"report.metric.{ev.score}")
        tail = say("diagnosis.ok.held", metric=metric, score=score) if score is not None \
            else ""
        untrained = say("diagnosis.ok.untrained", tail=tail) if not ev.history else ""
        found.append(finding("ok", "ok", untrained, tail=tail))
    return found


def diagnosis_text(findings: list[Finding]) -> str:
    """The findings as plain text, one paragraph each."""
    return "\n".join(f.text() for f in findings)


__all__ = ["CHECKS", "Action", "Evidence", "Finding", "diagnose", "diagnosis_text",
           "evidence_for", "model_stats"]
