"""``mlplab sweep``: many configurations at once (grid, random search or Optuna)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from mlplab.cli.commands._common import OverwriteOpt, QuietOpt, build_config, err, fmt, out
from mlplab.cli.flags import config_flags, option_group, path_of
from mlplab.errors import ConfigError

Opt = typer.Option

def parse_spec(spec: str) -> tuple[str, list[Any]]:
    """``lr=0.01,0.1`` / ``seed=0:8`` / ``hidden=8,8|16,16`` -> (dotted path, values); a key
    is a dotted path or a flag's name (:data:`mlplab.cli.flags.FLAGS`).

    >>> parse_spec("seed=0:3"), parse_spec("hidden=8,8|16"), parse_spec("lr=0.1,1")
    (('seed', [0, 1, 2]), ('model.hidden', [[8, 8], [16]]), ('optim.lr', [0.1, 1]))
    """
    from mlplab.config import parse_value

    if "=" not in spec:
        raise ConfigError(f"bad sweep spec '{spec}'", expected="KEY=V1,V2 or KEY=A:B",
                          hint="e.g. lr=0.01,0.1 seed=0:8 hidden=8,8|16,16")
    key, text = (s.strip() for s in spec.split("=", 1))
    key = path_of(key)  # a flag's name (lr, batch_size) stands for its key
    if "|" in text or key == "model.hidden":  # list-valued options: '|' between choices
        values = [parse_value(t + ",") if t.strip() not in ("", "none") else []
                  for t in text.split("|")]
        return key, [[int(h) for h in v] if key == "model.hidden" else v for v in values]
    if ":" in text and all(p.strip().lstrip("-").isdigit() for p in text.split(":")):
        parts = [int(p) for p in text.split(":")]
        return key, list(range(*parts))
    values = parse_value(text)
    return key, values if isinstance(values, list) else [values]


OPTUNA = "Optuna (--optuna N)"


@dataclass
class OptunaSettings:
    """How ``--optuna N`` searches (the options of the Optuna panel of ``sweep --help``)."""

    storage: Annotated[Optional[str], Opt(help="Optuna storage: journal file path or URL", rich_help_panel=OPTUNA)] = None  # noqa: E501
    study: Annotated[str, Opt(help="Optuna study name (shared by workers)", rich_help_panel=OPTUNA)] = "mlplab"  # noqa: E501
    batch: Annotated[int, Opt(help="Optuna trials trained together as one ensemble", rich_help_panel=OPTUNA)] = 8  # noqa: E501
    prune: Annotated[bool, Opt(help="Optuna: stop trials whose evaluations fall below the median of earlier trials", rich_help_panel=OPTUNA)] = True  # noqa: E501
    heartbeat: Annotated[int, Opt(help="seconds between heartbeats of running trials (database storage); a trial silent for two is failed and retried", rich_help_panel=OPTUNA)] = 60  # noqa: E501


@config_flags()
@option_group("search", OptunaSettings)
def sweep(
    flags: dict[str, Any],
    search: OptunaSettings,
    specs: Annotated[Optional[list[str]], typer.Argument(help="KEY=VALUES, e.g. lr=0.01,0.1 seed=0:8 hidden=8,8|16,16")] = None,  # noqa: E501
    grid: Annotated[bool, Opt("--grid", help="train every combination (the default)")] = False,
    space: Annotated[Optional[Path], Opt(help="YAML search space: KEY: a list of choices or {low, high, log}")] = None,  # noqa: E501
    random: Annotated[Optional[int], Opt(help="random search: N draws from --space")] = None,
    optuna: Annotated[Optional[int], Opt(help="Optuna search: N trials over --space")] = None,
    metric: Annotated[Optional[str], Opt(help="ranking column on the validation split, e.g. val_f1 (default val_accuracy / val_r2)")] = None,  # noqa: E501
    config: Annotated[Optional[Path], Opt("--config", "-c", help="base YAML/TOML config")] = None,
    recipe: Annotated[Optional[str], Opt(help="base recipe (see `mlplab recipes`)")] = None,
    set_: Annotated[Optional[list[str]], Opt("--set", help="KEY=VALUE override of the base")] = None,  # noqa: E501
    out_dir: Annotated[Optional[Path], Opt("--out", "-o", help="sweep directory")] = None,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
    top: Annotated[int, Opt(help="rows of the ranked table to print")] = 20,
) -> None:
    """Train many configurations at once; same-shaped ones train as one batched model.

    Ranked on a validation split; the best configuration is printed with its test scores.
    """
    from mlplab.config import read_config_file
    from mlplab.runs.store import default_run_dir
    from mlplab.search.study import optuna_sweep
    from mlplab.search.sweep import sweep as run_sweep

    base = build_config(config, recipe, flags, set_)
    out_path = out_dir or default_run_dir(f"sweep-{base.name}")
    modes = sum(x is not None for x in (random, optuna)) + bool(grid)
    if modes > 1:
        raise ConfigError("choose one of --grid, --random N, --optuna N")
    space_d = read_config_file(space) if space is not None else None
    if (random or optuna is not None) and space_d is None:
        if not specs:
            raise ConfigError("--random/--optuna need a search space",
                              hint="pass --space FILE.yaml or KEY=V1,V2 choices")
        space_d = dict(parse_spec(s) for s in specs)
    if optuna is not None:
        assert space_d is not None
        o = search
        if optuna < 0 or o.batch < 1 or o.heartbeat < 1:
            raise ConfigError("--optuna, --batch and --heartbeat must be positive",
                              found=f"{optuna}, {o.batch}, {o.heartbeat}")
        res = optuna_sweep(base, space_d, optuna, storage=o.storage, study_name=o.study,
                           metric=metric, batch=o.batch, prune=o.prune, out=out_path,
                           heartbeat=o.heartbeat)
    elif random:
        res = run_sweep(base, space=space_d, n_random=random, metric=metric, out=out_path,
                        overwrite=overwrite)
    else:
        grid_d = dict(parse_spec(s) for s in specs or []) if space_d is None else \
            {k: v if isinstance(v, list) else [v] for k, v in space_d.items()}
        res = run_sweep(base, grid=grid_d or None, metric=metric, out=out_path,
                        overwrite=overwrite)
    if quiet:
        return
    for note in res.notes:
        err.print(f"note: {note}")
    _print(res, top)
    if len(res.summary()):
        out.print(res.best.describe())
    err.print(f"{len(res.runs)} members trained in {res.seconds:.1f} s ({res.n_batched} "
              f"batched), {len(res.rows)} in the sweep; runs, summary.csv, seeds.csv and "
              f"best.json in {out_path}")


def _print(res: Any, top: int) -> None:
    from rich.table import Table as RichTable

    ranked = res.ranked().head(top)
    other = "val_loss" if "val_loss" in ranked and res.metric != "val_loss" else "train_loss"
    cols = ["member", *res.keys, "state", res.metric, other]
    table = RichTable(title=f"ranked by {res.metric}", title_justify="left")
    for c in cols:
        table.add_column(c, justify="right")
    for _, row in ranked.iterrows():
        table.add_row(*(fmt(row.get(c)) for c in cols))
    out.print(table)
    summary = res.summary()
    if "seed" in res.keys and len(summary):
        t2 = RichTable(title=f"{res.metric} over seeds", title_justify="left")
        for c in summary.columns:
            t2.add_column(str(c), justify="right")
        for _, row in summary.iterrows():
            t2.add_row(*(fmt(v) for v in row.tolist()))
        out.print(t2)


def register(app: typer.Typer) -> None:
    app.command()(sweep)
