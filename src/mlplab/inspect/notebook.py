"""mlplab in Jupyter: a :class:`~mlplab.runs.run.Run` that shows itself, ``run.plot(kind)``, and
a live training display in place of the terminal progress bar.

It follows Jupyter's conventions: a run's ``_repr_html_`` returns :func:`run_html`, and
:class:`LiveDisplay` updates one output in place through an ``IPython.display`` handle. IPython
is imported only inside a running kernel (:func:`in_notebook`), so the CLI and scripts never
load it; ``mlplab.train`` asks for this module only when ``ipykernel`` is already loaded.

Example
-------
>>> import mlplab
>>> run = mlplab.train({"data": {"source": "moons", "n_samples": 200},
...                     "train": {"epochs": 60}, "log": {"quiet": True}}, save=False)
>>> html = run_html(run, lang="en")
>>> "<table>" in html and "data:image/png;base64," in html
True
>>> in_notebook()
False
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from mlplab.errors import ConfigError, MlplabError, RunError
from mlplab.i18n import resolve_lang, tr
from mlplab.inspect.plots.figures import FIGURES, draw_figures
from mlplab.inspect.plots.style import keep_figures, png_bytes
from mlplab.inspect.plots.view import PlotData
from mlplab.inspect.report import (
    b64,
    esc,
    findings_html,
    loss_svg,
    metrics_html,
    scored_labels,
    scored_note,
)
from mlplab.runs.provenance import imported_from
from mlplab.training.callbacks import Callback
from mlplab.training.loop import TrainState

UPDATE_SECONDS = 0.25  # the live display redraws at most this often (and once at the end)
DISPLAY_KINDS = ("boundary", "curves")  # the figures a Run shows in its cell

CSS = """<style>
.mlplab{font:13px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans CJK SC",
"PingFang SC","Microsoft YaHei",sans-serif;color:#222;max-width:1000px}
.mlplab h3{font-size:15px;margin:14px 0 6px}.mlplab .sub{color:#666;margin:0 0 8px}
.mlplab table{border-collapse:collapse;font-variant-numeric:tabular-nums}
.mlplab td,.mlplab th{padding:3px 9px;border-bottom:1px solid #eee;text-align:right}
.mlplab th:first-child,.mlplab td:first-child{text-align:left}
.mlplab img{max-width:100%}.mlplab .finding{border-left:5px solid #999;padding:4px 10px;
margin:6px 0;background:#fcfcfc}.mlplab .problem{border-color:#D55E00}
.mlplab .warning{border-color:#E69F00}.mlplab .info{border-color:#56B4E9}
.mlplab .ok{border-color:#009E73}.mlplab .level{font-weight:600;text-transform:uppercase;
font-size:11px;margin-right:6px}.mlplab progress{width:260px;vertical-align:middle}
</style>"""


def in_notebook() -> bool:
    """True inside a Jupyter kernel (an IPython shell with a kernel), found without importing
    IPython."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None  # type: ignore[attr-defined]
    return shell is not None and getattr(shell, "kernel", None) is not None


def show_figures_inline() -> None:
    """In a notebook, show mlplab's :class:`~matplotlib.figure.Figure` results as PNG even
    when pyplot (and with it matplotlib's inline backend) was never imported."""
    if not in_notebook():
        return
    shell = sys.modules["IPython"].get_ipython()  # type: ignore[attr-defined]
    formatter = shell.display_formatter.formatters["image/png"]
    try:
        formatter.lookup_by_type(Figure)
    except KeyError:
        formatter.for_type(Figure, png_bytes)


# --- a run in a cell -----------------------------------------------------------------------

def run_data(run: Any) -> Any:
    """The run's :class:`~mlplab.api.Prepared` data, re-created from its config, or ``None``
    when the config does not reproduce it (a run trained on in-memory data)."""
    from mlplab.pipeline import prepare

    try:
        p = prepare(run.config)
    except (MlplabError, OSError):
        return None
    same = [str(f) for f in p.preprocessor.feature_names_out] == \
        [str(f) for f in run.preprocessor.feature_names_out]
    n = run.info.get("n_train")
    return p if same and (n is None or n == len(p.split.train)) else None


def run_html(run: Any, lang: str | None = None) -> str:
    """A run as one HTML block: the metric table, the boundary, the learning curves and the
    diagnosis (the report's pieces, without its page)."""
    from mlplab.inspect.diagnosis import diagnose, evidence_for

    lang = resolve_lang(lang)
    cfg = run.config
    p = run_data(run)
    figs: dict[str, bytes] = {}
    if p is not None:
        figs = draw_figures(run, PlotData.from_prepared(p), kinds=list(DISPLAY_KINDS))
    elif run.history:
        figs = draw_figures(run, _no_data(run), kinds=["curves"])
    seconds = run.info.get("seconds")
    source = imported_from(run)
    took = tr("report.imported", lang, file=source) if source is not None else \
        tr("report.epochs_in", lang, epochs=run.info.get("epochs_run", "?"),
           seconds=f"{seconds:.2f}" if isinstance(seconds, float) else "?")
    parts = [CSS, '<div class="mlplab">',
             f"<h3>{esc(cfg.name)} · {esc(tr('report.task.' + run.task.name, lang))}</h3>",
             f'<p class="sub">{esc(took)}'
             + (f" · {esc(run.path)}" if run.path else "") + "</p>",
             *scored_note(run, lang),
             metrics_html(run.metrics, run.task.name, lang, scored_labels(run, lang))]
    for name, img in figs.items():
        parts.append(f'<img alt="{esc(name)}" src="data:image/png;base64,{b64(img)}">')
    if p is None:
        parts.append(f'<p class="sub">{esc(tr("report.no_data", lang))}</p>')
    parts += [f"<h3>{esc(tr('report.diagnosis', lang))}</h3>",
              findings_html(diagnose(evidence_for(run, p), lang), lang), "</div>"]
    return "".join(parts)


def _no_data(run: Any) -> PlotData:
    """An empty PlotData (no rows, no plane): enough for the figures that need only the run,
    the learning curves."""
    empty = np.zeros((0, 0), dtype=np.float32)
    return PlotData({"train": empty}, {"train": np.zeros(0)}, [], [], run.task)


def run_figure(run: Any, kind: str = "boundary") -> Figure:
    """The figure ``kind`` of ``mlplab plot --kind`` for a run, drawn on the run's data."""
    if kind not in FIGURES or kind == "animation":
        raise ConfigError(f"unknown figure kind '{kind}'", expected="one of " + ", ".join(
            k for k in FIGURES if k != "animation"),
            hint="the animation is boundary_evolution.gif in the run directory"
            if kind == "animation" else None)
    p = run_data(run)
    if p is None and kind != "curves":
        raise RunError(f"the {kind} figure needs the run's data, which its config does not "
                       "reproduce (it was trained on in-memory data)",
                       hint="use mlplab.plot_decision_boundary(run.model, X, y)")
    data = PlotData.from_prepared(p) if p is not None else _no_data(run)
    with keep_figures() as kept:
        draw_figures(run, data, kinds=[kind])
    if not kept:
        raise ConfigError(f"no {kind} figure for a {run.task.name} run")
    show_figures_inline()
    return kept[-1]


# --- the live display ----------------------------------------------------------------------

def live_html(state: TrainState, rows: list[dict[str, Any]], lang: str | None = None) -> str:
    """The live display's content: epoch, losses, held-out score and a small loss curve."""
    lang = resolve_lang(lang)
    last = rows[-1] if rows else {}
    epoch = last.get("epoch", state.epoch)
    bits = [f"<b>{esc(tr('report.epoch', lang))} {epoch} / {state.epochs}</b>"]
    for split in ("train", "val", "test"):
        v = last.get(f"{split}_loss")
        if isinstance(v, int | float):
            name = tr("report.series_loss", lang, split=tr("report.split." + split, lang))
            bits.append(f"{esc(name)} {v:.4f}")
    for split in ("val", "test"):
        v = last.get(f"{split}_{state.score_name}")
        if isinstance(v, int | float):
            bits.append(f"{esc(tr('report.split.' + split, lang))} "
                        f"{esc(tr('report.metric.' + state.score_name, lang))} {v:.3f}")
            break
    svg, _ = loss_svg(rows, width=380, height=190, lang=lang, marker=False) if rows else ("", [])
    return (f'{CSS}<div class="mlplab"><progress value="{epoch}" max="{state.epochs}">'
            f"</progress> {' · '.join(bits)}<br>{svg}</div>")


class LiveDisplay(Callback):
    """One notebook output that follows training: updated in place after evaluations (at
    most every ``UPDATE_SECONDS``) and once at the end."""

    def __init__(self, lang: str | None = None) -> None:
        self.lang = lang
        self.rows: list[dict[str, Any]] = []
        self._handle: Any = None
        self._shown = 0.0

    def _html(self, state: TrainState) -> Any:
        from IPython.display import HTML

        return HTML(live_html(state, self.rows, self.lang))

    def on_train_begin(self, state: TrainState) -> None:
        from IPython.display import display

        self.rows = []
        self._handle = display(self._html(state), display_id=True)
        self._shown = time.monotonic()

    def on_eval(self, state: TrainState, row: dict[str, Any]) -> None:
        self.rows.append(row)
        if self._handle is not None and time.monotonic() - self._shown >= UPDATE_SECONDS:
            self._handle.update(self._html(state))
            self._shown = time.monotonic()

    def on_train_end(self, state: TrainState) -> None:
        if self._handle is not None:
            self._handle.update(self._html(state))


def live_display() -> list[Callback]:
    """``[LiveDisplay()]`` inside a notebook, else ``[]``."""
    return [LiveDisplay()] if in_notebook() else []


__all__ = ["LiveDisplay", "in_notebook", "live_display", "live_html",
           "run_data", "run_figure", "run_html", "show_figures_inline"]
