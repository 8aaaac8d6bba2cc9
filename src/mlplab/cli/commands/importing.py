"""``mlplab import``: a learner's saved ``state_dict`` and module class become a run directory;
``--module`` (shared with show / evaluate / predict / plot / report) rebuilds such a run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from mlplab.cli.commands._common import (
    OverwriteOpt,
    QuietOpt,
    build_config,
    console,
    fmt,
    metrics_table,
    out,
)
from mlplab.cli.flags import config_flags, listed, to_config

if TYPE_CHECKING:
    from mlplab.runs.run import Run

Opt = typer.Option

# the option every command that loads a run takes, to rebuild a run of the learner's module
ModuleOpt = Annotated[Optional[str], Opt(
    "--module", help="your module, to rebuild a run of it: FILE.py:CLASS or "
                     "FILE.py:CLASS(args) (runs FILE.py)")]


def load_run(run_dir: Path, module: Optional[str]) -> Run:
    """Load a run directory, rebuilding the learner's module from ``--module`` when given."""
    from mlplab import load

    if module is None:
        return load(run_dir)
    from mlplab.runs.importer import load_module

    return load(run_dir, model=load_module(module))


def summary_lines(run: Any) -> list[str]:
    """What a run summary says beyond the metrics: the scaling of the inputs in one line, and
    each setting where mlplab's own defaults would differ, with why."""
    from mlplab.inspect.diagnosis import TINY_SPLIT
    from mlplab.recipes import default_differences, scaling_line

    diffs = default_differences(run.config)
    head = ["where mlplab's own defaults would differ:"] if diffs else []
    tiny = [f"warning: the {s} split has {n} row{'s' if n > 1 else ''}: one row moves its "
            f"scores by {1 / n:.0%}" for s in ("train", "val", "test")
            if 0 < (n := int(run.info.get(f"n_{s}") or 0)) < TINY_SPLIT]
    return [scaling_line(run.config.data.scale), *tiny, *head,
            *(f"  {k}: {v!r} here, {d!r} by default - {why}" for k, v, d, why in diffs)]


def imported_lines(run: Any) -> list[str]:
    """How an imported run came to be, instead of the optimizer and training lines of a run
    mlplab trained ([] for those)."""
    from mlplab.runs.provenance import imported_from

    source = imported_from(run)
    if source is None:
        return []
    c = run.config
    record = run.info.get("imported") or {}
    module = f" (module {record['module']})" if record.get("module") else ""
    drawn = (f"{c.data.n_samples} {c.data.source} points drawn by mlplab (seed {c.seed})"
             if _generated(c.data.source) else f"the rows of {c.data.source}")
    return [f"imported from {source}{module}, not trained by mlplab: no optimizer, no epochs",
            f"scored on {drawn}; the model may have been trained on other rows"]


def _generated(source: str) -> bool:
    from mlplab.registry import DATASETS

    info = DATASETS.get(source)
    return info is not None and info.kind == "synthetic"


def scored_table(run: Any) -> Any:
    """The metrics table; an imported run's rows are named by the share of the rows they
    hold ("scored on"), since mlplab trained on none of them."""
    from mlplab.runs.provenance import imported_from, scored_on_labels

    if imported_from(run) is None:
        return metrics_table(run.metrics, run.task.name)
    table = metrics_table({}, run.task.name, title="metrics (imported model)")
    table.columns[0].header = "scored on"
    keys = [str(col.header) for col in table.columns[2:]]
    for split, label in scored_on_labels(run).items():
        m = run.metrics[split]
        table.add_row(label, str(m.get("n", "")), *(fmt(m.get(k)) for k in keys))
    return table


@config_flags(["data", "target", "task", "head"], required=["data"])
def import_(
    model_file: Annotated[Path, typer.Argument(metavar="MODEL_FILE", help="a saved state_dict (torch.save(model.state_dict(), ...)) or .safetensors")],  # noqa: E501
    module: Annotated[str, Opt("--module", help="the model's class: FILE.py:CLASS or FILE.py:CLASS(args)")],  # noqa: E501
    out_dir: Annotated[Path, Opt("--out", "-o", help="run directory to write")],
    flags: dict[str, Any],
    scale: Annotated[str, Opt(help=f"what the model's inputs were: {listed('scale')} (none: as given)")] = "none",  # noqa: E501
    set_: Annotated[Optional[list[str]], Opt("--set", help="KEY=VALUE override, e.g. data.test_size=0 or model.output=sigmoid")] = None,  # noqa: E501
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Make a run directory from your saved model: its weights (read without running code
    from the file) and your module class (from your .py file). Every command then works on
    it with --module."""
    from mlplab.runs.importer import import_run

    given = {**flags, **to_config(scale=scale), "train.epochs": 0, "name": out_dir.name,
             "log.quiet": True}  # --head / --set model.output: read_output's stated kind
    cfg = build_config(None, None, given, set_)
    run = import_run(model_file, module, cfg, out=out_dir, overwrite=overwrite)
    if not quiet:
        out.print(f"model    {type(run.model).__name__} from {module}  output: "
                  f"{run.info.get('output', run.task.output)}")
        for line in [*summary_lines(run)[:1], *imported_lines(run)]:
            out.print(line, markup=False)
        out.print(scored_table(run))
    console(quiet).print(f"run saved to {run.path}")


def register(app: typer.Typer) -> None:
    app.command("import")(import_)


__all__ = ["ModuleOpt", "imported_lines", "load_run", "register", "scored_table",
           "summary_lines"]
