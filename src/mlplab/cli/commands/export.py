"""``mlplab export RUN --format onnx|torchscript|exported-program|script [-o PATH]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mlplab.cli.commands._common import out

FORMAT_NAMES = "onnx | torchscript | exported-program | script"


def export(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    format: Annotated[str, typer.Option("--format", "-f", help=FORMAT_NAMES)] = "onnx",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="file to write (default: inside the run directory)")] = None,  # noqa: E501
    overwrite: Annotated[bool, typer.Option(help="replace an existing file")] = True,
) -> None:
    """Export a run (preprocessing included) and check it against mlplab's predictions."""
    from mlplab.export.graph import FORMATS
    from mlplab.export.graph import export as do_export

    result = do_export(run_dir, format, output, overwrite=overwrite)
    checks = ", ".join(f"{name} rows max |diff| {d:.1e}" for name, d in
                       result.max_abs_diff.items())
    out.print(f"exported {FORMATS[format].description} to {result.path}")
    out.print(f"verified against mlplab: {checks}")
    if "real" not in result.max_abs_diff:
        out.print("(the run's dataset could not be reloaded: checked on random rows only)")
    if result.sidecar is not None:
        out.print(f"input/output description: {result.sidecar}")


def register(app: typer.Typer) -> None:
    app.command()(export)


__all__ = ["register"]
