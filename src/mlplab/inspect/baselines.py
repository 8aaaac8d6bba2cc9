"""Simple baselines beside the mlplab model, on the same split and the same preprocessing.

Logistic (or ridge) regression, k-nearest neighbours, a random forest, histogram gradient
boosting and scikit-learn's own MLP are fitted on the train split that
:func:`mlplab.api.prepare` makes from the run's config, and scored on its test split (else
val, else train) with mlplab's metric functions, so every row of the table is comparable.
For 2-D inputs :func:`boundary_grid` draws every model's decision regions side by side.

Example
-------
>>> cfg = {"data": {"source": "moons", "n_samples": 300}, "train": {"epochs": 100},
...        "log": {"quiet": True}}
>>> rows = compare(cfg, names=["logistic", "knn"])
>>> [r.name for r in rows], rows[0].metrics["accuracy"] > 0.8
(['mlplab MLP', 'logistic regression', 'k-nearest neighbours'], True)
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mlplab.errors import ConfigError
from mlplab.registry import check_choice

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from mlplab.api import Prepared
    from mlplab.runs.run import Run


@dataclass(frozen=True)
class Baseline:
    """A scikit-learn model per task kind: ``build(seed)`` returns an unfitted estimator.

    ``multi_output`` says whether it takes a 2-D ``y`` itself (else it is wrapped in
    scikit-learn's ``MultiOutputClassifier`` / ``MultiOutputRegressor``).
    """

    label: str
    classifier: Callable[[int], Any]
    regressor: Callable[[int], Any]
    multi_output: bool


def _logistic(seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    return LogisticRegression(max_iter=1000)


def _ridge(seed: int) -> Any:
    from sklearn.linear_model import Ridge
    return Ridge()


def _knn(seed: int) -> Any:
    from sklearn.neighbors import KNeighborsClassifier
    return KNeighborsClassifier()


def _knn_reg(seed: int) -> Any:
    from sklearn.neighbors import KNeighborsRegressor
    return KNeighborsRegressor()


def _forest(seed: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier
    return RandomForestClassifier(n_estimators=100, random_state=seed)


def _forest_reg(seed: int) -> Any:
    from sklearn.ensemble import RandomForestRegressor
    return RandomForestRegressor(n_estimators=100, random_state=seed)


def _hgb(seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier
    return HistGradientBoostingClassifier(random_state=seed)


def _hgb_reg(seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingRegressor
    return HistGradientBoostingRegressor(random_state=seed)


def _mlp(seed: int) -> Any:
    from sklearn.neural_network import MLPClassifier
    return MLPClassifier(random_state=seed)  # scikit-learn's defaults: (100,), adam, 200 epochs


def _mlp_reg(seed: int) -> Any:
    from sklearn.neural_network import MLPRegressor
    return MLPRegressor(random_state=seed)


BASELINES: dict[str, Baseline] = {
    "logistic": Baseline("logistic regression", _logistic, _ridge, False),
    "knn": Baseline("k-nearest neighbours", _knn, _knn_reg, True),
    "random_forest": Baseline("random forest", _forest, _forest_reg, True),
    "hist_gb": Baseline("hist. gradient boosting", _hgb, _hgb_reg, False),
    "sklearn_mlp": Baseline("scikit-learn MLP", _mlp, _mlp_reg, True),
}
MLPLAB_LABEL = "mlplab MLP"
CLASSIFICATION_COLUMNS = ("accuracy", "f1", "roc_auc")
REGRESSION_COLUMNS = ("r2", "mae", "rmse")


@dataclass
class Row:
    """One model's scores on the evaluation split and its fit time."""

    name: str
    metrics: dict[str, Any]
    fit_seconds: float
    predict: Callable[[np.ndarray], np.ndarray] = field(repr=False)  # model inputs -> proba/values


def compare(config: Any, data: Any = None, *, run: Run | None = None,
            names: Sequence[str] | None = None) -> list[Row]:
    """The mlplab model and the baselines on one split; the first row is mlplab's.

    Parameters
    ----------
    config : RunConfig, dict or path
        What ``mlplab train`` would train; its data, split, preprocessing and seed are used.
    data : optional in-memory data, as for :func:`mlplab.train`.
    run : Run, optional
        An already trained run of ``config`` (``mlplab train --baselines``); else one is
        trained here without saving.
    names : baselines to fit (keys of :data:`BASELINES`); default all.
    """
    from mlplab.api import prepare, train
    from mlplab.config import RunConfig

    cfg = RunConfig.from_any(config)
    chosen = list(BASELINES) if names is None else \
        [check_choice("baseline", n, BASELINES) for n in names]
    p = prepare(cfg, data)
    if run is None:
        run = train(cfg, data=data, save=False, progress=False)
    split = eval_split(p)
    rows = [_mlplab_row(run, p, split)]
    for name in chosen:
        rows.append(_baseline_row(BASELINES[name], p, split, cfg.seed))
    return rows


def eval_split(p: Prepared) -> str:
    """The held-out split to score on: test, else val, else train."""
    return next(s for s in ("test", "val", "train") if len(p.X[s]) > 0)


def _scores(p: Prepared, split: str, out: np.ndarray) -> dict[str, Any]:
    from mlplab.metrics import classification_metrics, regression_metrics

    y = p.y[split]
    if not p.task.is_classification:  # trained on standardised targets; scored in their units
        inverse = p.target_encoder.inverse_values
        return regression_metrics(inverse(y), inverse(out))
    return classification_metrics(y, out, task=p.task.name, threshold=p.task.threshold,
                                  n_classes=len(p.target_encoder.classes))


def _mlplab_row(run: Run, p: Prepared, split: str) -> Row:
    model, task = run.model, run.task

    def predict(X: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(np.asarray(X, dtype=np.float32), device=run.device)
        model.eval()
        with torch.inference_mode():
            return task.proba(model(x)).cpu().numpy().astype(np.float64)  # type: ignore[no-any-return]

    return Row(MLPLAB_LABEL, _scores(p, split, predict(p.X[split])),
               float(run.info.get("seconds", float("nan"))), predict)


def _baseline_row(b: Baseline, p: Prepared, split: str, seed: int) -> Row:
    from sklearn.multioutput import MultiOutputClassifier, MultiOutputRegressor

    task = p.task.name
    X, y = p.X["train"], p.y["train"]
    if task == "regression":
        model = b.regressor(seed)
        if y.shape[1] > 1 and not b.multi_output:
            model = MultiOutputRegressor(model)
        y = y[:, 0] if y.shape[1] == 1 else y
    else:
        model = b.classifier(seed)
        if task == "multilabel" and not b.multi_output:
            model = MultiOutputClassifier(model)
    with warnings.catch_warnings():  # e.g. scikit-learn MLP's ConvergenceWarning at 200 epochs
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - t0
    k = len(p.target_encoder.classes)

    def predict(Xn: np.ndarray) -> np.ndarray:
        return _outputs(model, Xn, task, k)

    return Row(b.label, _scores(p, split, predict(p.X[split])), seconds, predict)


def _outputs(model: Any, X: np.ndarray, task: str, k: int) -> np.ndarray:
    """Probabilities laid out as mlplab's (n, k) / (n, L), or values (n, t) for regression."""
    if task == "regression":
        return np.asarray(model.predict(X), dtype=np.float64).reshape(len(X), -1)
    proba = model.predict_proba(X)
    if task == "multilabel":
        if isinstance(proba, list):  # one (n, 2) array per label
            return np.column_stack([q[:, -1] if q.shape[1] > 1 else 1.0 - q[:, 0]
                                    for q in proba])
        return np.asarray(proba, dtype=np.float64)
    full = np.zeros((len(X), k))  # classes absent from the train split get probability 0
    full[:, np.asarray(model.classes_, dtype=np.int64)] = proba
    return full


# --- output ---------------------------------------------------------------------------------


def columns(task: str) -> tuple[str, ...]:
    return REGRESSION_COLUMNS if task == "regression" else CLASSIFICATION_COLUMNS


def table_rows(rows: Sequence[Row], task: str) -> list[list[Any]]:
    """``[model, metric..., fit seconds]`` per row (``None`` where a metric is undefined)."""
    return [[r.name, *(r.metrics.get(c) for c in columns(task)), r.fit_seconds] for r in rows]


def rich_table(rows: Sequence[Row], task: str, split: str) -> Any:
    """The comparison as a :class:`rich.table.Table`."""
    from rich.table import Table

    t = Table(title=f"baselines on the {split} split (same split and preprocessing)",
              title_justify="left")
    t.add_column("model")
    for c in [*columns(task), "fit s"]:
        t.add_column(c, justify="right")
    for r in table_rows(rows, task):
        t.add_row(r[0], *("-" if v is None else f"{v:.4f}" if isinstance(v, float) else
                          str(v) for v in r[1:]))
    return t


def write_outputs(rows: Sequence[Row], p: Prepared, out: Path) -> list[Path]:
    """``baselines.csv`` and, for 2-D classification data, ``baselines.png``."""
    import pandas as pd

    from mlplab.runs.store import atomic_write_bytes, atomic_write_text

    out.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(table_rows(rows, p.task.name),
                         columns=["model", *columns(p.task.name), "fit_seconds"])
    written = [out / "baselines.csv"]
    atomic_write_text(written[0], frame.to_csv(index=False))
    if can_draw(p):
        from mlplab.inspect.plots.style import png_bytes

        written.append(out / "baselines.png")
        atomic_write_bytes(written[1], png_bytes(boundary_grid(rows, p)))
    return written


def can_draw(p: Prepared) -> bool:
    return p.n_features == 2 and p.task.name in ("binary", "multiclass")


def boundary_grid(rows: Sequence[Row], p: Prepared, resolution: int = 120) -> Figure:
    """One panel per model: its predicted class regions over 2-D inputs, with test points."""
    from mlplab.inspect.plots.style import binary_rgb, class_colors, new_figure, region_rgb

    if not can_draw(p):
        raise ConfigError("decision boundaries need 2 input features and a class target",
                          found=f"{p.n_features} features, task {p.task.name}")
    split = eval_split(p)
    pts = np.concatenate([p.X[s] for s in ("train", "val", "test") if len(p.X[s])])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = 0.1 * (hi - lo) + 1e-6
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2).astype(np.float32)
    ncols = min(3, len(rows))
    nrows = -(-len(rows) // ncols)
    fig = new_figure(3.3 * ncols, 3.1 * nrows)
    colors = class_colors(len(p.target_encoder.classes))
    for i, r in enumerate(rows):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        proba = r.predict(grid)
        rgb = binary_rgb(proba[:, 1]) if p.task.name == "binary" else region_rgb(proba, colors)
        ax.imshow(np.asarray(rgb).reshape(resolution, resolution, 3), origin="lower",
                  extent=(xs[0], xs[-1], ys[0], ys[-1]), aspect="auto")
        y = p.y[split]
        ax.scatter(p.X[split][:, 0], p.X[split][:, 1], c=[colors[int(c)] for c in y], s=9,
                   edgecolors="white", linewidths=0.4)
        acc = r.metrics.get("accuracy")
        ax.set_title(f"{r.name}\n{split} acc {acc:.3f}" if acc is not None else r.name)
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def report_for_run(run: Run, console: Any, out: Path | None = None) -> list[Row]:
    """``mlplab train --baselines``: the table for a trained run (figure saved with the run)."""
    from mlplab.api import prepare

    p = prepare(run.config)
    rows = compare(run.config, run=run)
    console.print(rich_table(rows, p.task.name, eval_split(p)))
    target = out or run.path
    if target is not None:
        for path in write_outputs(rows, p, Path(target)):
            console.print(f"wrote {path}")
    return rows


__all__ = ["BASELINES", "Baseline", "Row", "boundary_grid", "compare", "report_for_run",
           "rich_table", "table_rows", "write_outputs"]
