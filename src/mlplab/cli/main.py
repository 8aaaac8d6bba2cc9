"""The ``mlplab`` command: parse, call the library, format. No training logic lives here.

Commands are defined in :mod:`mlplab.cli.commands` (one module per group, each with a
``register(app)`` function) and discovered at start-up. Every user mistake ends as one line,
``error: ...`` on stderr, and exit code 2; exit code 1 is reserved for bugs.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import warnings
from typing import Any

import click
import typer
from typer._click import exceptions as typer_click

from mlplab.errors import MlplabError

app = typer.Typer(
    name="mlplab", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Train, understand and ship small neural-network classifiers with PyTorch.")


def _register_commands() -> None:
    import mlplab.cli.commands as pkg

    for mod in sorted(m.name for m in pkgutil.iter_modules(pkg.__path__)):
        if not mod.startswith("_"):
            importlib.import_module(f"mlplab.cli.commands.{mod}").register(app)


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
                  line: Any = None) -> None:
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    warnings.showwarning = _show_warning
    _register_commands()
    command = typer.main.get_command(app)
    try:
        rv = command.main(args=argv, prog_name="mlplab", standalone_mode=False)
    except (typer.Exit, click.exceptions.Exit) as e:
        return int(getattr(e, "exit_code", 0))
    except (typer.Abort, click.exceptions.Abort):
        print("error: aborted", file=sys.stderr)
        return 130
    except typer_click.NoArgsIsHelpError as e:
        print(e.ctx.get_help() if e.ctx else "usage: mlplab COMMAND [ARGS]")
        return 0
    except (typer_click.ClickException, click.ClickException) as e:
        print(f"error: {' '.join(e.format_message().split())}", file=sys.stderr)
        return 2
    except MlplabError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
