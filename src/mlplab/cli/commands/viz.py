"""``mlplab report | plot | compare``: look at what a saved run learned."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from mlplab.cli.commands._common import (
    OldOutputOpt,
    OverwriteOpt,
    QuietOpt,
    console,
    deprecated,
    err,
    refuse_overwrite,
)
from mlplab.cli.commands.importing import ModuleOpt, load_run

Opt = typer.Option


def _open(path: Path) -> None:
    import webbrowser

    webbrowser.open(path.resolve().as_uri())


def _snapshots(run_dir: Path) -> Any:
    from mlplab.inspect.tracking import SNAPSHOT_FILE, Snapshots

    f = run_dir / SNAPSHOT_FILE
    return Snapshots.load(f) if f.is_file() else None


def _plot_data(run: Any, data: str | None, target: str | None, seed: int) -> tuple[Any, Any]:
    """(Prepared or None, PlotData): the run's own split, or new data through its
    preprocessing."""
    from mlplab.api import prepare
    from mlplab.inspect.plots.view import PlotData

    if data is None:
        p = prepare(run.config)
        return p, PlotData.from_prepared(p)
    from mlplab.data import load_table, read_file
    from mlplab.registry import DATASETS

    names = target.split(",") if target else run.target_encoder.target_names
    if data in DATASETS:
        table = load_table(run.config.data.model_copy(update={"source": data}), seed)
    else:
        table = read_file(data, names if len(names) > 1 else names[0], None)
    return None, PlotData.from_run(run, table.X, table.y)


def report(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    open_: Annotated[bool, Opt("--open", help="open the report in a browser")] = False,
    lang: Annotated[Optional[str], Opt("--lang", help="language of the report: en or zh (default: the locale's)")] = None,  # noqa: E501
    module: ModuleOpt = None,
    out_dir: Annotated[Optional[Path], Opt("--out", "-o", help="directory for report.html and its figures (default: the run directory)")] = None,  # noqa: E501
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Write report.html (figures, metrics, diagnosis, boundary slider) into a run and print
    the diagnosis."""
    from mlplab.errors import ConfigError
    from mlplab.i18n import languages, resolve_lang
    from mlplab.inspect.diagnosis import diagnose, diagnosis_text, evidence_for
    from mlplab.inspect.report import write_report

    if lang is not None and not lang.lower().startswith(resolve_lang(lang)):
        raise ConfigError(f"unknown language '{lang}'",
                          expected="one of " + ", ".join(languages()))
    target_dir = out_dir or run_dir
    refuse_overwrite(target_dir / "report.html", overwrite=overwrite)
    run = load_run(run_dir, module)
    snaps = _snapshots(run_dir)
    p, _ = _plot_data(run, None, None, 0)
    target_dir.mkdir(parents=True, exist_ok=True)
    path = write_report(run, p, snaps, directory=target_dir, lang=lang)
    say = console(quiet)
    say.print(diagnosis_text(diagnose(evidence_for(run, p, snaps), lang)), markup=False)
    say.print(f"report written to {path}")
    if open_:
        _open(path)


def plot(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    kind: Annotated[Optional[list[str]], Opt("--kind", "-k", help="figure kind (repeatable): data, boundary, curves, confusion, roc, calibration, residuals, neurons, animation; default all")] = None,  # noqa: E501
    data: Annotated[Optional[str], Opt("--data", "-d", help="draw on new data: CSV/Parquet path or dataset name")] = None,  # noqa: E501
    target: Annotated[Optional[list[str]], Opt(help="target column(s) of --data (default: the run's); repeat, or separate with commas")] = None,  # noqa: E501
    features: Annotated[Optional[str], Opt(help="boundary over this feature pair, e.g. x1,x3 (others at their median)")] = None,  # noqa: E501
    pca: Annotated[bool, Opt("--pca", help="boundary over the first two principal components")] = False,  # noqa: E501
    out_dir: Annotated[Optional[Path], Opt("--out", "-o", help="directory for the figures (default: the run directory)")] = None,  # noqa: E501
    seed: Annotated[int, Opt(help="seed for generated --data")] = 12345,
    module: ModuleOpt = None,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Re-draw a saved run's figures (on its own data, or on new data with --data)."""
    from mlplab.errors import ConfigError
    from mlplab.inspect.plots.figures import draw_figures
    from mlplab.inspect.plots.view import plane_for
    from mlplab.runs.store import atomic_write_bytes

    run = load_run(run_dir, module)
    _, pdata = _plot_data(run, data, ",".join(target) if target else None, seed)
    snaps = _snapshots(run_dir)
    plane = None
    if features is not None or pca:
        if features is not None and pca:
            raise ConfigError("--features and --pca both choose the plane", hint="pick one")
        pair = tuple(f.strip() for f in (features or "").split(",") if f.strip())
        if features is not None and len(pair) != 2:
            raise ConfigError("--features needs two feature names", found=features,
                              hint=f"e.g. --features {','.join(pdata.feature_names[:2])}")
        plane = plane_for(pdata, method="pca" if pca else "pair",
                          features=pair if features is not None else None)
        snaps = None  # the snapshots were taken on another plane
    target_dir = out_dir or run_dir
    figs = draw_figures(run, pdata, snaps, kind, plane)
    refuse_overwrite(*(target_dir / name for name in figs), overwrite=overwrite)
    if not figs:
        err.print("no figure applies to this run and these --kind values")
    target_dir.mkdir(parents=True, exist_ok=True)
    for name, img in figs.items():
        atomic_write_bytes(target_dir / name, img)
        console(quiet).print(f"wrote {target_dir / name}")


def compare(
    run_dirs: Annotated[list[Path], typer.Argument(help="two or more run directories")],
    out_file: Annotated[Path, Opt("--out", "-o", help="HTML page to write")] = Path("compare.html"),
    old_output: OldOutputOpt = None,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
    open_: Annotated[bool, Opt("--open", help="open the page in a browser")] = False,
) -> None:
    """One page with the runs' boundaries in a grid, their loss curves and a metric table."""
    from mlplab import load
    from mlplab.errors import ConfigError
    from mlplab.inspect.report import compare_html
    from mlplab.runs.store import atomic_write_text

    if old_output is not None:
        deprecated("--output", "-o/--out")
        out_file = old_output
    if len(run_dirs) < 2:
        raise ConfigError("compare needs at least two runs", found=f"{len(run_dirs)}")
    refuse_overwrite(out_file, overwrite=overwrite)
    runs = [load(d) for d in run_dirs]
    tasks = {r.task.name for r in runs}
    if len(tasks) > 1:
        raise ConfigError("the runs solve different tasks", found=", ".join(sorted(tasks)),
                          hint="compare runs on the same data")
    labels = [d.name for d in run_dirs]
    atomic_write_text(out_file, compare_html(runs, labels))
    console(quiet).print(f"comparison written to {out_file}")
    if open_:
        _open(out_file)


def register(app: typer.Typer) -> None:
    app.command()(report)
    app.command()(plot)
    app.command()(compare)


__all__ = ["register"]
