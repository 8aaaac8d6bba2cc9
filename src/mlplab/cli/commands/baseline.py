"""``mlplab baseline``: the mlplab model beside simple scikit-learn baselines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mlplab.cli.commands._common import (
    OverwriteOpt,
    QuietOpt,
    build_config,
    console,
    refuse_overwrite,
)

Opt = typer.Option


def baseline(
    data: Annotated[Optional[str], Opt("--data", "-d", help="dataset name or CSV/Parquet path")] = None,  # noqa: E501
    target: Annotated[Optional[list[str]], Opt(help="target column; repeat, or separate with commas, for several")] = None,  # noqa: E501
    features: Annotated[Optional[str], Opt(help="feature columns, comma-separated")] = None,
    task: Annotated[Optional[str], Opt(help="auto|binary|multiclass|multilabel|regression")] = None,
    hidden: Annotated[Optional[str], Opt(help="mlplab model: hidden sizes, e.g. 10,10")] = None,
    activation: Annotated[Optional[str], Opt(help="mlplab model: activation")] = None,
    optimizer: Annotated[Optional[str], Opt(help="sgd | adam | adamw | rmsprop")] = None,
    lr: Annotated[Optional[float], Opt(help="learning rate")] = None,
    epochs: Annotated[Optional[int], Opt()] = None,
    batch_size: Annotated[Optional[str], Opt(help="rows per batch, 'full' or 'auto'")] = None,
    seed: Annotated[Optional[int], Opt()] = None,
    n_samples: Annotated[Optional[int], Opt(help="generated data: number of points")] = None,
    noise: Annotated[Optional[float], Opt(help="generated data: noise level")] = None,
    test_size: Annotated[Optional[float], Opt()] = None,
    scale: Annotated[Optional[str], Opt(help="standard | minmax | none")] = None,
    impute: Annotated[Optional[str], Opt(help="error | mean | median | most_frequent | drop")] = None,  # noqa: E501
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
    from mlplab.config import parse_value
    from mlplab.inspect.baselines import can_draw, compare, eval_split, rich_table, write_outputs

    flags = {
        "data.source": data, "data.target": None if not target else
        (target[0] if len(target) == 1 else target),
        "data.features": None if features is None else features.split(","), "task": task,
        "model.hidden": None if hidden is None else
        ([] if hidden.strip().lower() in ("", "none") else parse_value(hidden + ",")),
        "model.activation": activation, "optim.name": optimizer, "optim.lr": lr,
        "train.epochs": epochs,
        "train.batch_size": None if batch_size is None else parse_value(batch_size),
        "seed": seed, "data.n_samples": n_samples, "data.noise": noise,
        "data.test_size": test_size, "data.scale": scale, "data.impute": impute,
        "log.quiet": True,
    }
    cfg = build_config(config, recipe, flags, set_)
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
