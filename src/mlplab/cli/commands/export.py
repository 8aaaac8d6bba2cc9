"""``mlplab export RUN --format FORMAT [-o PATH] [--overwrite]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mlplab.cli.commands._common import OldOutputOpt, OverwriteOpt, QuietOpt, console, deprecated
from mlplab.cli.commands.importing import ModuleOpt, load_run

FORMAT_NAMES = "onnx | torchscript | exported-program | script | train-script | notebook"


def export(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    format: Annotated[str, typer.Option("--format", "-f", help=FORMAT_NAMES)] = "onnx",
    out_path: Annotated[Optional[Path], typer.Option("--out", "-o", help="file to write (default: inside the run directory)")] = None,  # noqa: E501
    output: OldOutputOpt = None,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
    module: ModuleOpt = None,
) -> None:
    """Export a run (preprocessing included), checked against mlplab's own predictions."""
    from mlplab.export.api import FORMATS
    from mlplab.export.api import export as do_export

    if output is not None:
        deprecated("--output", "-o/--out")
        out_path = out_path or output
    run = run_dir if module is None else load_run(run_dir, module)
    result = do_export(run, format, out_path, overwrite=overwrite)
    out = console(quiet)
    out.print(f"exported {FORMATS[format].description} to {result.path}")
    if result.max_abs_diff:
        checks = ", ".join(f"{name} rows max |diff| {d:.1e}" for name, d in
                           result.max_abs_diff.items())
        out.print(f"verified against mlplab: {checks}")
        if "real" not in result.max_abs_diff:
            out.print("(the run's dataset could not be reloaded: checked on random rows only)")
    if result.sidecar is not None:
        out.print(f"input/output description: {result.sidecar}")


def register(app: typer.Typer) -> None:
    app.command()(export)


__all__ = ["register"]
