"""Self-contained HTML pages: ``report.html`` for a run and the ``compare`` page for several.

Everything is embedded (figures as base64, styles and the few lines of script inline), so a
page opens offline from disk and can be mailed around. The report holds the config, metrics,
every figure, the diagnosis, and a slider over the boundary snapshots kept in step with a
marker on the loss curve.

The report speaks the language ``lang`` names (``"en"``, ``"zh"``; default: the locale), its
words taken from the ``report.*`` messages of :mod:`mlplab.i18n`.

Example
-------
>>> "<th>准确率</th>" in metrics_html({"test": {"n": 20, "accuracy": 0.95}}, "binary", "zh")
True
"""

from __future__ import annotations

import base64
import html
import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from mlplab.config import flatten
from mlplab.i18n import DEFAULT_LANG, catalog, resolve_lang, tr
from mlplab.inspect.diagnosis import Finding, diagnose, evidence_for
from mlplab.inspect.plots.view import PlotData
from mlplab.models import MLP
from mlplab.registry import DATASETS
from mlplab.runs.provenance import imported_from, scored_on_labels

METRIC_KEYS = {"classification": ["accuracy", "precision", "recall", "f1", "roc_auc",
                                  "log_loss", "loss"],
               "regression": ["r2", "mae", "rmse", "loss"]}

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,"Noto Sans CJK SC","PingFang SC",
"Microsoft YaHei",sans-serif;color:#222;margin:0;
background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px;border-bottom:1px solid
#ddd;padding-bottom:4px}.sub{color:#666;margin:0 0 12px}
section,.card{background:#fff;border-radius:8px;padding:14px 18px;box-shadow:0 1px 3px #0001}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
td,th{padding:4px 10px;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#fafafa}
figure{margin:0 0 18px}figure img{max-width:100%;border:1px solid #eee;border-radius:4px}
figcaption{color:#555;font-size:13px}
.finding{border-left:5px solid #999;padding:6px 12px;margin:8px 0;background:#fcfcfc}
.problem{border-color:#D55E00}.warning{border-color:#E69F00}.info{border-color:#56B4E9}
.ok{border-color:#009E73}.level{font-weight:600;text-transform:uppercase;font-size:11px;
letter-spacing:.05em;margin-right:6px}.try{color:#333;margin-top:3px}
.slider{display:flex;gap:20px;flex-wrap:wrap;align-items:flex-start}
.slider input{width:300px}pre{background:#f3f3f3;padding:10px;overflow:auto;font-size:12px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:16px}
"""

SLIDER_JS = """
(function(){
  const data = JSON.parse(document.getElementById('snapshot-data').textContent);
  const img = document.getElementById('snap-img'), range = document.getElementById('snap-range');
  const label = document.getElementById('snap-label'), marker = document.getElementById('marker');
  function show(i){
    img.src = 'data:image/png;base64,' + data.frames[i];
    const x = data.x[i];
    marker.setAttribute('x1', x); marker.setAttribute('x2', x);
    label.textContent = data.epoch + ' ' + data.epochs[i] + ' (' + (i + 1) + '/' +
      data.epochs.length + ')';
  }
  range.addEventListener('input', function(){ show(Number(range.value)); });
  show(Number(range.value));
})();
"""


def b64(data: bytes) -> str:
    """Bytes as base64 text, for ``data:`` URLs."""
    return base64.b64encode(data).decode("ascii")


def esc(v: Any) -> str:
    """``str(v)`` escaped for HTML text and attributes."""
    return html.escape(str(v))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}" if np.isfinite(v) else "-"
    return "-" if v is None else esc(v)


def metrics_html(metrics: dict[str, Any], task: str, lang: str | None = None,
                 labels: dict[str, str] | None = None) -> str:
    """A table with one row per split; ``labels`` (an imported run's "scored on" rows)
    replace the split names."""
    keys = METRIC_KEYS["regression" if task == "regression" else "classification"]
    first = tr("report.scored_on" if labels else "report.split", lang)
    head = "".join(f"<th>{esc(k)}</th>" for k in
                   [first, *(tr(k, lang) for k in ["report.metric.n",
                                                   *(f"report.metric.{k}" for k in keys)])])
    names = labels or {s: tr("report.split." + s, lang) for s in ("train", "val", "test")}
    rows = "".join(
        f"<tr><td>{esc(names.get(s, s))}</td><td>{_fmt(m.get('n'))}</td>" +
        "".join(f"<td>{_fmt(m.get(k))}</td>" for k in keys) + "</tr>"
        for s in ("train", "val", "test") if (m := metrics.get(s)))
    return f"<table><tr>{head}</tr>{rows}</table>"


def findings_html(findings: list[Finding], lang: str | None = None) -> str:
    """The diagnosis, one box per finding coloured by its level."""
    return "".join(
        f'<div class="finding {f.level}"><span class="level">'
        f"{esc(tr('report.level.' + f.level, lang))}</span>"
        f"<b>{esc(f.title)}</b> — {esc(f.detail)}"
        + (f'<div class="try">{esc(tr("report.try", lang))} {esc(f.suggestion)}</div>'
           if f.suggestion else "")
        + "</div>" for f in findings)


def loss_svg(history: list[dict[str, Any]], width: int = 420, height: int = 260,
             epochs: list[int] | None = None, lang: str | None = None,
             marker: bool = True) -> tuple[str, list[float]]:
    """An inline SVG of the loss curves, with a marker line (``id="marker"``) that a script
    can move; returns (svg, marker x per epoch in ``epochs``)."""
    from mlplab.inspect.plots.style import SPLIT_COLORS

    pad_l, pad_r, pad_t, pad_b = 46, 10, 14, 30
    series = {s: [(r["epoch"], r[f"{s}_loss"]) for r in history
                  if isinstance(r.get(f"{s}_loss"), int | float) and
                  np.isfinite(r[f"{s}_loss"])] for s in ("train", "val", "test")}
    pts = [p for v in series.values() for p in v]
    e_max = max([p[0] for p in pts] + (epochs or []) + [1])
    y_max = max([p[1] for p in pts] + [1e-9]) * 1.05
    sx = (width - pad_l - pad_r) / e_max
    sy = (height - pad_t - pad_b) / y_max

    def xy(e: float, v: float) -> str:
        return f"{pad_l + e * sx:.1f},{height - pad_b - v * sy:.1f}"

    parts = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             'xmlns="http://www.w3.org/2000/svg" font-size="11" font-family="sans-serif">',
             f'<rect x="{pad_l}" y="{pad_t}" width="{width - pad_l - pad_r}" '
             f'height="{height - pad_t - pad_b}" fill="#fff" stroke="#ccc"/>']
    for frac in (0.0, 0.5, 1.0):
        y = height - pad_b - frac * y_max * sy
        parts.append(f'<text x="{pad_l - 4}" y="{y + 4:.1f}" text-anchor="end">'
                     f"{frac * y_max:.3g}</text>")
    parts.append(f'<text x="{width / 2:.0f}" y="{height - 6}" text-anchor="middle">'
                 f"{esc(tr('report.epoch_axis', lang, n=e_max))}</text>")
    for i, (split, p) in enumerate(series.items()):
        name = tr("report.series_loss", lang, split=tr("report.split." + split, lang))
        if p:
            line = " ".join(xy(e, v) for e, v in p)
            parts.append(f'<polyline fill="none" stroke="{SPLIT_COLORS[split]}" '
                         f'stroke-width="1.8" points="{line}"/>')
            parts.append(f'<text x="{width - pad_r - 70}" y="{pad_t + 14 + 13 * i}" '
                         f'fill="{SPLIT_COLORS[split]}">{esc(name)}</text>')
    if marker:
        parts.append(f'<line id="marker" x1="{pad_l}" x2="{pad_l}" y1="{pad_t}" '
                     f'y2="{height - pad_b}" stroke="#222" stroke-width="1.2" '
                     'stroke-dasharray="4 3"/>')
    return "".join([*parts, "</svg>"]), [round(pad_l + e * sx, 1) for e in (epochs or [])]


def slider_html(snapshots: Any, data: PlotData | None, history: list[dict[str, Any]],
                lang: str | None = None) -> str:
    """The boundary snapshots as a slider beside the loss curve (marker at the epoch)."""
    from mlplab.inspect.plots.animate import png_of, snapshot_frames

    frames = [b64(png_of(f)) for f in snapshot_frames(snapshots, data, px=300)]
    svg, xs = loss_svg(history, epochs=list(snapshots.epochs), lang=lang)
    payload = json.dumps({"frames": frames, "epochs": list(snapshots.epochs), "x": xs,
                          "epoch": tr("report.epoch", lang)})
    last = len(frames) - 1
    return (f'<div class="slider"><div><img id="snap-img" alt="boundary at a snapshot" '
            f'width="300" height="322" src="data:image/png;base64,{frames[-1]}"><br>'
            f'<input id="snap-range" type="range" min="0" max="{last}" value="{last}" '
            f'aria-label="{esc(tr("report.snapshot", lang))}"> <span id="snap-label"></span>'
            f"</div><div>{svg}</div></div>"
            f'<script id="snapshot-data" type="application/json">{payload}</script>'
            f"<script>{SLIDER_JS}</script>")


CJK_FONT = "mlplab CJK"  # the embedded subset's family name
CJK_FACE = 2  # Noto Sans CJK SC in the package's collection (JP, KR, SC, TC, HK, mono ...)


def cjk_font_face(text: str) -> str:
    """CSS that draws the CJK characters of ``text`` with an embedded subset of Noto Sans CJK
    SC (the font the figures use, from the ``noto-cjk`` package): an ``@font-face`` with the
    glyphs as base64, so a page in Chinese shows no boxes on a machine without a CJK font.
    '' when ``text`` has no CJK character or the font package is missing."""
    from mlplab.inspect.plots.style import needs_cjk

    chars = "".join(sorted({c for c in text if needs_cjk(c)}))
    if not chars:
        return ""
    try:
        import noto_cjk
        from fontTools import subset
        from fontTools.ttLib import TTFont
    except ImportError:
        return ""  # the page falls back to the reader's own fonts
    try:
        path = noto_cjk.otc_path("sans")
    except noto_cjk.FontNotInstalled:
        return ""
    font = TTFont(str(path), fontNumber=CJK_FACE, lazy=True)
    options = subset.Options()
    options.layout_features = ["*"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=chars)
    subsetter.subset(font)
    buf = io.BytesIO()
    font.save(buf)
    return (f'@font-face{{font-family:"{CJK_FONT}";src:url(data:font/otf;base64,'
            f'{b64(buf.getvalue())}) format("opentype")}}'
            f'body,svg{{font-family:system-ui,-apple-system,Segoe UI,Roboto,"{CJK_FONT}",'
            f"sans-serif}}")


def _page(title: str, body: str, lang: str | None = None) -> str:
    face = cjk_font_face(title + body)  # Chinese pages carry the glyphs they use
    return (f'<!DOCTYPE html><html lang="{esc(tr("report.html_lang", lang))}"><head>'
            f'<meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<link rel="icon" href="data:,"><title>{esc(title)}</title>'
            f"<style>{CSS}{face}</style></head><body><main>{body}</main></body></html>")


def _model_name(run: Any, lang: str | None = None) -> str:
    """"MLP 2 → 4 → 4 → 1 (relu)" for mlplab's MLP, the class name for the learner's module."""
    if not isinstance(run.model, MLP):
        return tr("report.your_module", lang, name=type(run.model).__name__)
    spec = run.model.spec
    arch = " → ".join(str(x) for x in [spec.in_features, *spec.hidden, spec.n_outputs])
    acts = ", ".join(dict.fromkeys(spec.activations))
    return f"MLP {arch}" + (f" ({acts})" if acts else "")


def scored_labels(run: Any, lang: str | None = None) -> dict[str, str] | None:
    """An imported run's metric rows, named by their share of the rows (mlplab trained on
    none of them); None for a run mlplab trained."""
    if imported_from(run) is None:
        return None
    return scored_on_labels(run, tr("report.share", lang), tr("report.all_rows", lang))


def scored_note(run: Any, lang: str | None = None) -> list[str]:
    """One paragraph saying what an imported run was scored on ([] for a trained run)."""
    if imported_from(run) is None:
        return []
    d = run.config.data
    generated = getattr(DATASETS.get(d.source), "kind", None) == "synthetic"
    data = tr("report.scored_drawn", lang, n=d.n_samples, source=d.source,
              seed=run.config.seed) if generated else tr("report.scored_rows", lang,
                                                         source=d.source)
    return [f"<p class='sub'>{esc(tr('report.scored_note', lang, data=data))}</p>"]


def report_html(run: Any, figures: dict[str, bytes], findings: list[Finding],
                snapshots: Any = None, data: PlotData | None = None,
                lang: str | None = None) -> str:
    """The report page of a run (figures as ``{file name: bytes}``) in ``lang``."""
    lang = resolve_lang(lang)
    cfg, info = run.config, run.info
    source = imported_from(run)
    how = (esc(tr("report.imported", lang, file=source)) if source is not None else
           f"{esc(cfg.optim.name)} lr {cfg.optim.lr:g} · " + esc(tr(
               "report.epochs_in", lang, epochs=info.get("epochs_run", "?"),
               seconds=_fmt(info.get("seconds")))))
    sub = tr("report.subtitle", lang, task=esc(tr("report.task." + run.task.name, lang)),
             source=f"<b>{esc(cfg.data.source)}</b>", model=esc(_model_name(run, lang)),
             how=how, date=time.strftime("%Y-%m-%d %H:%M"))
    if cfg.description and source is None:
        sub = f"{esc(cfg.description)} · {sub}"

    def h2(key: str) -> str:
        return f"<h2>{esc(tr(key, lang))}</h2><section>"

    inputs = tr(f"report.inputs.{cfg.data.scale}", lang)
    body = [f"<h1>{esc(cfg.name)}</h1><p class='sub'>{sub}</p>",
            f"<p class='sub'>{esc(inputs)}</p>",
            "" if isinstance(run.model, MLP) else f"<pre>{esc(str(run.model))}</pre>",
            h2("report.metrics"), *scored_note(run, lang),
            metrics_html(run.metrics, run.task.name, lang, scored_labels(run, lang)),
            "</section>",
            h2("report.diagnosis"), findings_html(findings, lang), "</section>"]
    if snapshots is not None and len(snapshots.epochs) > 1:
        body += [h2("report.evolution"), slider_html(snapshots, data, run.history, lang),
                 f"<p class='sub'>{esc(snapshots.plane.note)}</p>" if snapshots.plane.note
                 else "", "</section>"]
    body.append(h2("report.figures"))
    if data is not None and data.sample_note:  # large splits: figures from a sample
        body.append(f"<p class='sub'>{esc(data.sample_note)}</p>")
    for name, img in figures.items():
        if name.endswith(".png"):
            key = "report.caption." + name.removesuffix(".png")
            caption = tr(key, lang) if key in catalog(DEFAULT_LANG) else name
            body.append(f'<figure><img alt="{esc(name)}" src="data:image/png;base64,'
                        f'{b64(img)}"><figcaption>{esc(caption)}</figcaption></figure>')
    body += ["</section>", h2("report.training"), "<table>",
             "".join(f"<tr><td>{esc(k)}</td><td>{_fmt(v)}</td></tr>" for k, v in info.items()),
             "</table></section>", h2("report.config"), "<pre>", esc(cfg.to_yaml()),
             "</pre></section>"]
    return _page(tr("report.page_title", lang, name=cfg.name), "".join(body), lang)


def write_report(run: Any, p: Any = None, snapshots: Any = None,
                 data: PlotData | None = None, directory: str | Path | None = None,
                 lang: str | None = None) -> Path:
    """Write every figure, ``diagnosis.json`` and ``report.html`` into the run directory.

    ``p`` is the run's :class:`~mlplab.api.Prepared` data (re-created from the config when
    omitted); ``data`` overrides the data the figures show; ``lang`` is the report's language
    (default: the locale's, else English).
    """
    from mlplab.inspect.plots.figures import write_figures
    from mlplab.pipeline import prepare
    from mlplab.runs.store import atomic_write_text, write_json

    out = Path(directory or run.path)
    if p is None and data is None:
        p = prepare(run.config)
    data = data or PlotData.from_prepared(p)
    figs = write_figures(run, data, out, snapshots)
    findings = diagnose(evidence_for(run, p, snapshots), lang)
    write_json(out / "diagnosis.json", [f.to_dict() for f in findings])
    atomic_write_text(out / "report.html",
                      report_html(run, figs, findings, snapshots, data, lang))
    return out / "report.html"


def compare_html(runs: list[Any], labels: list[str]) -> str:
    """One page for several runs: boundaries in a grid, overlaid loss curves, a metric table
    and the config keys that differ."""
    from mlplab.inspect.plots.boundary import boundary_figure
    from mlplab.inspect.plots.curves import compare_curves
    from mlplab.inspect.plots.style import png_bytes
    from mlplab.pipeline import prepare

    flat = [flatten(r.config.to_dict()) for r in runs]
    differ = sorted(k for k in set().union(*flat) if k != "name" and
                    len({json.dumps(f.get(k)) for f in flat}) > 1)
    task = runs[0].task.name
    keys = METRIC_KEYS["regression" if task == "regression" else "classification"]
    head = "".join(f"<th>{esc(k)}</th>" for k in ["run", *differ, *(f"test {k}" for k in keys),
                                                   "train " + keys[0], "epochs", "seconds"])
    rows = []
    for label, r, f in zip(labels, runs, flat, strict=True):
        test = r.metrics.get("test") or r.metrics.get("val") or {}
        rows.append(f"<tr><td>{esc(label)}</td>" + "".join(f"<td>{_fmt(f.get(k))}</td>"
                                                             for k in differ)
                    + "".join(f"<td>{_fmt(test.get(k))}</td>" for k in keys)
                    + f"<td>{_fmt(r.metrics.get('train', {}).get(keys[0]))}</td>"
                    + f"<td>{_fmt(r.info.get('epochs_run'))}</td>"
                    + f"<td>{_fmt(r.info.get('seconds'))}</td></tr>")
    cards = []
    for label, r in zip(labels, runs, strict=True):
        data = PlotData.from_prepared(prepare(r.config))
        png = png_bytes(boundary_figure(r.model, data, splits=["test"], title=label))
        cards.append(f'<div class="card"><img alt="{esc(label)}" style="width:100%" '
                     f'src="data:image/png;base64,{b64(png)}"></div>')
    curves_png = png_bytes(compare_curves([r.history for r in runs], labels))
    body = (f"<h1>Comparison of {len(runs)} runs</h1><p class='sub'>"
            + (f"differing settings: {esc(', '.join(differ))}" if differ else
               "identical settings") + "</p><h2>Metrics</h2><section><table>"
            f"<tr>{head}</tr>{''.join(rows)}</table></section>"
            f"<h2>Decision boundaries (test points)</h2><div class='grid'>{''.join(cards)}</div>"
            f"<h2>Learning curves</h2><section><img alt='loss curves' style='max-width:100%' "
            f"src='data:image/png;base64,{b64(curves_png)}'></section>")
    return _page("mlplab comparison", body)


def require_lang(lang: str | None) -> str | None:
    """``lang`` unchanged when a catalog speaks it (None: the locale's, decided later); an
    unknown language raises :class:`~mlplab.errors.ConfigError` before anything is written.

    Example
    -------
    >>> require_lang("zh-CN"), require_lang(None)
    ('zh-CN', None)
    """
    from mlplab.errors import ConfigError
    from mlplab.i18n import languages

    if lang is not None and not lang.lower().startswith(resolve_lang(lang)):
        raise ConfigError(f"unknown language '{lang}'",
                          expected="one of " + ", ".join(languages()))
    return lang


__all__ = ["b64", "compare_html", "esc", "findings_html", "loss_svg", "metrics_html", "report_html",
           "require_lang", "write_report"]
