"""``mlplab learn``: the tutorials' lessons, the learner's progress, a lesson as a notebook."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mlplab.cli.commands._common import OverwriteOpt, QuietOpt, console, refuse_overwrite

Opt = typer.Option


def learn(
    name: Annotated[Optional[str], typer.Argument(help="a lesson: show its steps and your progress")] = None,  # noqa: E501
    notebook: Annotated[Optional[str], Opt("--notebook", help="write this lesson as a notebook (with -o)")] = None,  # noqa: E501
    out: Annotated[Optional[Path], Opt("--out", "-o", help="the notebook file to write")] = None,
    lang: Annotated[Optional[str], Opt("--lang", help="language of the lesson: en or zh (default: the locale's)")] = None,  # noqa: E501
    solutions: Annotated[bool, Opt("--solutions", help="fill the answer cells with the solutions")] = False,  # noqa: E501
    reset: Annotated[bool, Opt("--reset", help="forget your progress in the lesson NAME")] = False,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """List the lessons and your progress; show one; write one as a notebook."""
    from rich.table import Table

    from mlplab.errors import ConfigError
    from mlplab.i18n import resolve_lang
    from mlplab.learn import progress
    from mlplab.learn.lessons import LESSONS, get_lesson
    from mlplab.learn.texts import t

    code, show = resolve_lang(lang), console(quiet)
    if notebook is not None:
        if out is None:
            raise ConfigError("--notebook needs -o FILE", hint="e.g. -o circles.ipynb")
        get_lesson(notebook)
        refuse_overwrite(out, overwrite=overwrite)
        from mlplab.learn.notebook import write_lesson_notebook

        write_lesson_notebook(notebook, out, code, solutions=solutions)
        show.print(t("ui.wrote", code, path=out), markup=False)
        return
    if out is not None or solutions:
        raise ConfigError("-o and --solutions go with --notebook LESSON")
    if name is None:
        if reset:
            raise ConfigError("--reset needs a lesson", hint="mlplab learn LESSON --reset")
        table = Table(title=t("ui.lessons", code))
        for col in ("col_lesson", "col_tutorial", "col_title", "col_progress"):
            table.add_column(t(f"ui.{col}", code))
        for spec in LESSONS.values():
            done = set(progress.passed(spec.id))
            table.add_row(spec.id, spec.tutorial, t(spec.title_key, code),
                          f"{sum(s.id in done for s in spec.steps)}/{len(spec.steps)}")
        show.print(table)
        show.print(t("ui.start", code, path=progress.path()), markup=False)
        return
    spec = get_lesson(name)
    if reset:
        progress.reset(spec.id)
    done = set(progress.passed(spec.id))
    show.print(t(spec.title_key, code), markup=False)
    show.print(t(spec.intro_key, code), markup=False)
    for i, s in enumerate(spec.steps, 1):
        show.print(f"{'✓' if s.id in done else '·'} {i}. {t(s.title_key, code)}", markup=False)


def register(app: typer.Typer) -> None:
    app.command()(learn)


__all__ = ["register"]
