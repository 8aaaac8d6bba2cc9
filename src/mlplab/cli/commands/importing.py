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
        for line in summary_lines(run)[:1]:
            out.print(line)
        out.print(metrics_table(run.metrics, run.task.name))
    console(quiet).print(f"run saved to {run.path}")


def register(app: typer.Typer) -> None:
    app.command("import")(import_)


__all__ = ["ModuleOpt", "load_run", "register", "summary_lines"]
