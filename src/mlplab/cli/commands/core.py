"""``mlplab train | evaluate | predict | show | datasets | recipes``."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from mlplab.cli.commands._common import (
    OldOutputOpt,
    OverwriteOpt,
    QuietOpt,
    build_config,
    console,
    deprecated,
    err,
    fmt,
    metrics_table,
    out,
    refuse_overwrite,
)
from mlplab.cli.commands.importing import (
    ModuleOpt,
    imported_lines,
    load_run,
    scored_table,
    summary_lines,
)
from mlplab.cli.flags import FLAGS, config_flags

if TYPE_CHECKING:
    from mlplab.config import RunConfig

Opt = typer.Option


@config_flags()
def train(
    flags: dict[str, Any],
    config: Annotated[Optional[Path], Opt("--config", "-c", help="YAML/TOML config file")] = None,
    recipe: Annotated[Optional[str], Opt(help="a shipped recipe (see `mlplab recipes`)")] = None,
    set_: Annotated[Optional[list[str]], Opt("--set", help="KEY=VALUE override, e.g. optim.lr=0.1")] = None,  # noqa: E501
    out_dir: Annotated[Optional[Path], Opt("--out", "-o", help="run directory")] = None,
    overwrite: Annotated[bool, Opt(help="replace an existing run directory")] = False,
    quiet: QuietOpt = False,
    resume: Annotated[Optional[Path], Opt(help="continue an interrupted run (its own config)")] = None,  # noqa: E501
    override: Annotated[bool, Opt("--override", help="with --resume: change the settings the other flags give for the rest of the run (recorded)")] = False,  # noqa: E501
    nproc: Annotated[Optional[int], Opt(help="train with N processes (launches torchrun)")] = None,
    baselines: Annotated[bool, Opt("--baselines", help="also fit scikit-learn baselines on the same split and print a table")] = False,  # noqa: E501
    lang: Annotated[Optional[str], Opt("--lang", help="language of the report and diagnosis: en or zh (default: the locale's)")] = None,  # noqa: E501
    old_head: Annotated[Optional[str], Opt("--output", hidden=True, help="deprecated: use --head")] = None,  # noqa: E501
) -> None:
    """Train a model and write its run directory."""
    from mlplab.api import train as run_train
    from mlplab.inspect.report import require_lang

    require_lang(lang)  # an unknown language is refused before anything is trained or written
    if old_head is not None:
        deprecated("--output", "--head (train's -o/--out is the run directory)")
        flags.setdefault(FLAGS["head"].path, old_head)
    from mlplab.runs.lifecycle import check_resume_flags, resume_overrides
    from mlplab.training.runners.ddp import is_main_process, launch

    given = list(flags)  # dotted keys
    check_resume_flags(resume, (given + (["--set"] if set_ else []) if not override else []) +
                       (["--config"] if config else []) + (["--recipe"] if recipe else []),
                       override)
    cfg = build_config(config, recipe, {**flags, "log.quiet": quiet or None}, set_)
    changes = resume_overrides(cfg, given, set_) if resume is not None and override else None
    if nproc is not None and nproc > 1:  # re-enter this command under torchrun
        raise typer.Exit(launch(nproc, cfg, out=out_dir, overwrite=overwrite, quiet=quiet,
                                resume=resume, override=changes))
    run = run_train(cfg, out=out_dir, overwrite=overwrite, resume=resume, override=changes)
    if not is_main_process():
        return
    reason = run.info.get("stop_reason", "completed")
    if not quiet:
        out.print(metrics_table(run.metrics, run.task.name))
        if run.task.name == "binary":
            out.print(binary_note(run.classes[1], run.metrics))
        if reason != "completed":
            out.print(f"stopped: {reason}")
        if run.info.get("summary"):  # "stopped at epoch 84 of 1000 (best 74)"
            out.print(run.info["summary"], markup=False)
        for line in summary_lines(run):
            out.print(line, markup=False)
    say = console(quiet)
    say.print(f"run saved to {run.path}")
    if lang is not None and run.path is not None and run.config.log.plots:
        from mlplab.cli.commands.viz import report  # the report (and diagnosis) in --lang

        report(run.path, lang=lang, overwrite=True, quiet=quiet)
    if run.path is not None and (run.path / "report.html").is_file():
        say.print(f"open {run.path / 'report.html'}", markup=False)
    if baselines:
        from mlplab.inspect.baselines import report_for_run
        report_for_run(run, out)


def binary_note(positive: object, metrics: dict[str, Any]) -> str:
    """One line: which class precision/recall/F1 describe, and the macro F1 beside them."""
    macro = "  ".join(f"{split} {fmt(m.get('f1_macro'))}" for split, m in metrics.items()
                      if isinstance(m, dict) and "f1_macro" in m)
    return f"precision, recall and F1 are for class {positive!r}; macro F1: {macro}"


def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    data: Annotated[str, Opt("--data", "-d", help="CSV/Parquet file, or a dataset name")],
    target: Annotated[Optional[list[str]], Opt(help="target column(s) (default: the run's)")] = None,  # noqa: E501
    encoding: Annotated[Optional[str], Opt(help="text encoding (default: UTF-8, else detected)")] = None,  # noqa: E501
    seed: Annotated[Optional[int], Opt(help="seed of generated data (default: a fresh one, not the run's)")] = None,  # noqa: E501
    as_json: Annotated[bool, Opt("--json", help="print metrics as JSON")] = False,
    module: ModuleOpt = None,
) -> None:
    """Score a saved run on new data: a file, a shipped dataset, or fresh samples of a
    generator (the run's data settings, another seed)."""
    from mlplab.data import load_table, read_file
    from mlplab.registry import DATASETS

    run = load_run(run_dir, module)
    names = target or run.target_encoder.target_names
    if data in DATASETS:
        spec = run.config.data.model_copy(update={"source": data})
        if DATASETS[data].kind == "synthetic":  # the data's own seed, so a pinned one loses
            seed = fresh_seed(run.config) if seed is None else seed
            spec = spec.model_copy(update={"seed": seed})
            (err if as_json else out).print(
                f"{spec.n_samples} samples of {data} drawn with seed {seed} (--seed {seed} "
                "draws them again)", markup=False)
        table = load_table(spec, run.config.seed)
    else:
        table = read_file(data, names, None, encoding=encoding)
    metrics = run.evaluate(table.X, table.y)
    if as_json:
        print(json.dumps(metrics, indent=2))
    else:
        out.print(metrics_table({"test": metrics}, run.task.name, title=f"metrics on {data}"))
        if run.task.name == "binary":
            out.print(binary_note(run.classes[1], {"test": metrics}))


def fresh_seed(cfg: RunConfig) -> int:
    """A random seed for generated data that is not the one the run's data was drawn with.

    >>> from mlplab.config import RunConfig
    >>> fresh_seed(RunConfig(seed=7)) != 7
    True
    """
    used = cfg.data.seed if cfg.data.seed is not None else cfg.seed
    draw = random.SystemRandom()
    while (seed := draw.randrange(2**31)) == used:
        pass
    return seed


def predict(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    input_file: Annotated[Path, typer.Argument(metavar="INPUT", help="CSV/Parquet of rows")],
    output_file: Annotated[Optional[Path], Opt("--out", "-o", help="CSV to write (default: stdout)")] = None,  # noqa: E501
    old_output: OldOutputOpt = None,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
    encoding: Annotated[Optional[str], Opt(help="text encoding (default: UTF-8, else detected)")] = None,  # noqa: E501
    module: ModuleOpt = None,
) -> None:
    """Add probability columns and the predicted label to each input row."""
    from mlplab.runs.predict_file import predict_file

    if old_output is not None:
        deprecated("--output", "-o/--out")
        output_file = output_file or old_output
    if output_file is not None:
        refuse_overwrite(output_file, overwrite=overwrite)
    run = load_run(run_dir, module)
    n = predict_file(run, input_file, output_file, encoding=encoding)
    if output_file is not None and not quiet:
        err.print(f"wrote {n} predictions to {output_file}")


def show(run_dir: Annotated[Path, typer.Argument(help="run directory")],
         module: ModuleOpt = None) -> None:
    """Summarise a saved run: data, model, training and metrics."""
    from mlplab.models import MLP

    run = load_run(run_dir, module)
    c, info = run.config, run.info
    out.print(f"[bold]{run.path}[/bold]  {c.description}")
    out.print(f"data     {c.data.source}  features: {', '.join(run.feature_names)}")
    out.print(f"task     {run.task.name}  classes: {run.classes}  loss: {run.task.loss}")
    if isinstance(run.model, MLP):
        spec = run.model.spec
        arch = " -> ".join(str(x) for x in [spec.in_features, *spec.hidden, spec.n_outputs])
        act = ", ".join(dict.fromkeys(spec.activations)) or "none (no hidden layer)"
        out.print(f"model    {arch}  activation: {act}  output: {run.task.output}")
    else:  # the learner's module, as it prints itself
        out.print(f"model    {type(run.model).__name__} (your module)  output: "
                  f"{run.task.output}")
        out.print(str(run.model), markup=False)
    out.print(summary_lines(run)[0])
    imported = imported_lines(run)  # an imported run: no optimizer, no training to show
    for line in imported:
        out.print(line, markup=False)
    if not imported:
        out.print(f"optim    {c.optim.name} lr={c.optim.lr}  schedule: {c.schedule.name}")
        out.print(f"training {info.get('epochs_run')} epochs in {fmt(info.get('seconds'))} s "
                  f"({info.get('stop_reason')})")
    out.print(scored_table(run))


def datasets() -> None:
    """List the built-in datasets: generators and shipped real data."""
    from rich.table import Table

    from mlplab.registry import DATASETS

    t = Table(title="built-in datasets", title_justify="left")
    for col in ("name", "kind", "task", "rows", "features", "classes", "source"):
        t.add_column(col, justify="right" if col in ("rows", "features", "classes") else "left")
    for name, info in DATASETS.items():
        t.add_row(name, info.kind, info.task, fmt(info.rows), fmt(info.features),
                  fmt(info.classes), info.description)
    out.print(t)


def recipes(
    explain: Annotated[Optional[str], Opt("--explain", metavar="NAME", help="what the recipe repeats from its tutorial, and where mlplab's own defaults would differ and why")] = None,  # noqa: E501
) -> None:
    """List the shipped recipes (use one with `mlplab train --recipe NAME`)."""
    from mlplab.recipes import explain as explain_recipe
    from mlplab.recipes import load_recipe, recipe_names

    if explain is not None:
        for line in explain_recipe(explain):
            out.print(line, markup=False)
        return
    for name in recipe_names():
        out.print(f"[bold]{name:<20}[/bold] {load_recipe(name).get('description', '')}")


def register(app: typer.Typer) -> None:
    app.command()(train)
    app.command()(evaluate)
    app.command()(predict)
    app.command()(show)
    app.command()(datasets)
    app.command()(recipes)

