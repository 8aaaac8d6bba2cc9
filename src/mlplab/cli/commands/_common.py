"""Helpers shared by the CLI commands: the options every command spells the same way (the
grammar ``tests/cli/test_grammar.py`` checks), config assembly and result tables."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table as RichTable

from mlplab.errors import ConfigError, RunError

if TYPE_CHECKING:
    from mlplab.config import RunConfig

# wide when piped, so tables are not truncated in logs and tests
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)
silent = Console(quiet=True)

# One spelling per meaning, across commands: what a command writes is -o/--out, it replaces
# nothing without --overwrite, and --quiet leaves only errors on the terminal.
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="replace what -o/--out names")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="print nothing but errors")]
OldOutputOpt = Annotated[Optional[Path], typer.Option(
    "--output", hidden=True, help="deprecated: use -o/--out")]


def console(quiet: bool) -> Console:
    """Where a command prints its results: stdout, or nowhere with ``--quiet``."""
    return silent if quiet else out


def deprecated(old: str, new: str) -> None:
    """One warning line on stderr for an old spelling that still works."""
    err.print(f"warning: {old} is deprecated; use {new}", markup=False)


def refuse_overwrite(*paths: Path, overwrite: bool) -> None:
    """Raise :class:`~mlplab.errors.RunError` if a file to be written exists and
    ``overwrite`` is off."""
    for path in paths:
        if path.exists() and not overwrite:
            raise RunError(f"'{path}' exists", hint="pass --overwrite to replace it, or choose "
                           "another -o/--out")


def build_config(config: Path | None, recipe: str | None, flags: dict[str, Any],
                 sets: list[str] | None) -> RunConfig:
    """recipe < config file < flags < --set KEY=VALUE; validated once at the end."""
    from mlplab.config import RunConfig, parse_value, read_config_file, set_path
    from mlplab.recipes import load_recipe

    d: dict[str, Any] = {}
    if recipe:
        d = load_recipe(recipe)
    if config is not None:
        _merge(d, read_config_file(config))
    for key, value in flags.items():
        if value is not None:
            set_path(d, key, value)
    for item in sets or []:
        if "=" not in item:
            raise ConfigError(f"bad --set '{item}'", expected="KEY=VALUE, e.g. optim.lr=0.1")
        key, value = item.split("=", 1)
        set_path(d, key.strip(), parse_value(value))
    return RunConfig.from_dict(d)


def _merge(base: dict[str, Any], new: dict[str, Any]) -> None:
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = v


def fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    return "-" if v is None else str(v)


def metrics_table(metrics: dict[str, Any], task: str, title: str = "metrics") -> RichTable:
    """One row per split with the task's headline metrics."""
    keys = ["r2", "mae", "rmse", "loss"] if task == "regression" else \
        ["accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "loss"]
    table = RichTable(title=title, title_justify="left")
    table.add_column("split")
    table.add_column("n", justify="right")
    for k in keys:
        table.add_column(k, justify="right")
    for split in ("train", "val", "test"):
        m = metrics.get(split)
        if m:
            table.add_row(split, str(m.get("n", "")), *(fmt(m.get(k)) for k in keys))
    return table

