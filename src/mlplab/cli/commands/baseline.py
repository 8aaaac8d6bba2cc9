"""``mlplab baseline``: the mlplab model beside simple scikit-learn baselines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from mlplab.cli.commands._common import (
    OverwriteOpt,
    QuietOpt,
    build_config,
    console,
    refuse_overwrite,
)
from mlplab.cli.flags import config_flags

Opt = typer.Option


@config_flags(exclude=("name", "tensorboard", "checkpoint_every"))  # nothing is logged
def baseline(
    flags: dict[str, Any],
    config: Annotated[Optional[Path], Opt("--config", "-c", help="YAML/TOML config file")] = None,
    recipe: Annotated[Optional[str], Opt(help="a shipped recipe (see `mlplab recipes`)")] = None,
    set_: Annotated[Optional[list[str]], Opt("--set", help="KEY=VALUE override")] = None,
    only: Annotated[Optional[str], Opt(help="baselines to run, comma-separated: logistic, knn, random_forest, hist_gb, sklearn_mlp")] = None,  # noqa: E501
    out_dir: Annotated[Optional[Path], Opt("--out", "-o", help="write baselines.csv (and baselines.png for 2-D data) here")] = None,  # noqa: E501
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Train the mlplab model and simple baselines on the same split; print one table."""
    from mlplab.api import prepare
    from mlplab.inspect.baselines import can_draw, compare, eval_split, rich_table, write_outputs

    cfg = build_config(config, recipe, {**flags, "log.quiet": True}, set_)
    if out_dir is not None:
        refuse_overwrite(out_dir / "baselines.csv", out_dir / "baselines.png",
                         overwrite=overwrite)
    out = console(quiet)
    names = None if only is None else [n.strip() for n in only.split(",") if n.strip()]
    p = prepare(cfg)
    rows = compare(cfg, names=names)
    out.print(rich_table(rows, p.task.name, eval_split(p)))
    if out_dir is not None:
        for path in write_outputs(rows, p, out_dir):
            out.print(f"wrote {path}")
    elif can_draw(p):
        out.print("2-D data: pass --out DIR for a grid of the decision boundaries")


def register(app: typer.Typer) -> None:
    app.command()(baseline)


__all__ = ["register"]
