"""The two messages a session sends most: ``data`` (once per setup or view) and ``frame``.

Both are plain JSON dicts built from the prepared data (:func:`mlplab.api.prepare`), the view of
the drawn features (:class:`mlplab.web.frames.View`) and the model; the session adds what only
it knows (epoch, learning rate, whether it plays).

Example
-------
>>> from mlplab.api import model_spec, prepare
>>> from mlplab.models import build_model
>>> from mlplab.web.limits import playground_config
>>> cfg = playground_config({"data": {"source": "moons", "n_samples": 40}}, Limits())
>>> p = prepare(cfg)
>>> view, _, data = data_message(cfg, p, None, None, Limits())
>>> data["layers"], data["draw"]
([2, 4, 2, 1], ['x1', 'x2'])
>>> model = build_model(model_spec(cfg, p.n_features, p.task), seed=1)
>>> frame = frame_message(model, p, p.tensors("cpu"), view, (0.0, 1.0), Limits(), False)
>>> frame["grid"]["kind"], len(frame["weights"])
('binary', 3)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from mlplab.config import RunConfig
from mlplab.web import frames
from mlplab.web.limits import Limits


def data_message(cfg: RunConfig, p: Any, upload: str | None, draw: list[str] | None,
                 limits: Limits) -> tuple[frames.View, tuple[float, float], dict[str, Any]]:
    """(view, value range of the target, the ``data`` message) for a prepared setup.

    The drawn features are ``draw`` when given, else the first two that vary (a constant
    column, such as a corner pixel of digits, draws nothing).
    """
    names_out = list(p.preprocessor.feature_names_out)
    varying = [bool(v) for v in np.asarray(p.X["train"]).std(axis=0) > 0]
    cols, names = frames.draw_columns(names_out, list(p.preprocessor.input_columns), draw,
                                      varying)
    X_all = np.concatenate([p.X[s] for s in ("train", "test") if len(p.X[s])], axis=0)
    view = frames.View.fit(p.X["train"], cols, names, X_all=X_all)
    y_tr = np.asarray(p.y["train"], dtype=np.float64)
    value_range = (float(y_tr.min()), float(y_tr.max()))
    if len(cols) == 1:  # 1-D: the vertical axis shows the target (or p(class 1))
        lo, hi = value_range if not p.task.is_classification else (0.0, 1.0)
        pad = 0.1 * (hi - lo if hi > lo else 1.0)
        view.extent += [round(lo - pad, 4), round(hi + pad, 4)]
    crosses = list(cfg.model.crosses)
    lim = limits.max_points
    msg = {"type": "data", "config": cfg.to_dict(), "task": p.task.name,
           "classes": [str(c) for c in p.target_encoder.classes],
           "target": p.target_encoder.target_names,
           "inputs": [*names_out, *crosses], "crosses": crosses,
           "features": list(p.preprocessor.input_columns),
           "draw": names, "extent": view.extent, "upload": upload,
           "value_range": list(value_range), "epochs_cap": cfg.train.epochs,
           "layers": [p.n_features + len(crosses), *cfg.model.hidden, p.task.n_outputs],
           "activations": cfg.model.activations(),
           "points": {s: frames.points(p.X[s], p.y[s], view, p.task, lim)
                      for s in ("train", "test")},
           "score_name": p.task.score_name,
           # what trains when the config leaves it unset: the default resolved for this data
           "weight_decay": p.cfg.optim.weight_decay}
    return view, value_range, msg


def frame_message(model: nn.Module, p: Any, t: Any, view: frames.View,
                  value_range: tuple[float, float], limits: Limits,
                  units: bool) -> dict[str, Any]:
    """Measure the model now: losses, scores, the boundary grid, weights, [unit grids]."""
    from mlplab.training.loop import make_loss

    loss_fn = make_loss(p.task, weighted=False)
    with frames.eval_mode(model):
        tr_loss, tr_score, _ = frames.measure(model, p.task, loss_fn, t.X["train"],
                                              t.y["train"])
        te_loss, te_score, pred = frames.measure(model, p.task, loss_fn, t.X["test"],
                                                 t.y["test"])
        frame: dict[str, Any] = {
            "type": "frame",
            "train_loss": _num(tr_loss), "test_loss": _num(te_loss),
            "train_score": _num(tr_score), "test_score": _num(te_score),
            "grid": frames.boundary_grid(model, p.task, view, limits.grid, value_range),
            "weights": frames.weights(model)}
        if units:
            frame["units"] = frames.unit_grids(model, view, limits.unit_grid)
            frame["inputs"] = frames.input_grids(model, view, limits.unit_grid)
    if p.task.name in ("binary", "multiclass") and pred is not None:
        k = len(p.target_encoder.classes)
        frame["confusion"] = frames.confusion(p.y["test"].reshape(-1), pred.reshape(-1), k)
    return frame


def _num(v: float) -> float | None:
    """A JSON-safe number: None for NaN and infinities.

    >>> _num(float("nan")), _num(0.1234567)
    (None, 0.123457)
    """
    return None if v != v or v in (float("inf"), float("-inf")) else round(float(v), 6)
