"""A lesson in a notebook or a terminal: ``L = lesson("circles")``, then ``L.step(1)``,
``L.check(model=..., X=..., y=...)``, ``L.hint()``, ``L.solution()``.

What these return show themselves: as Markdown / HTML in Jupyter (a failed or passed check
with the learner's decision boundary where it helps), as plain text in a terminal. Every text
comes from the lesson catalogs (``i18n/learn.<lang>.json``) in the learner's language.

Example
-------
>>> import torch, os, tempfile
>>> os.environ["MLPLAB_LEARN_HOME"] = tempfile.mkdtemp()
>>> L = lesson("disk", lang="en")
>>> print(L.step(1))  # doctest: +ELLIPSIS
Step 1/3 · Make the data
...
>>> X = torch.randn(100, 2)
>>> L.check(X=X, y=(X.norm(dim=1) < 1).float()).passed
False
>>> L.check(X=X, y=(X.norm(dim=1) < 1).float().unsqueeze(1)).passed
True
>>> del os.environ["MLPLAB_LEARN_HOME"]
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from html import escape
from typing import Any

from mlplab.i18n import resolve_lang
from mlplab.learn import progress
from mlplab.learn.checks import CHECKS, Verdict
from mlplab.learn.lessons import Lesson as LessonSpec
from mlplab.learn.lessons import Step, get_lesson
from mlplab.learn.texts import t

STYLE = ("font:14px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans CJK SC',"
         "'PingFang SC','Microsoft YaHei',sans-serif;max-width:820px;padding:8px 12px;"
         "border-left:5px solid {color};background:{bg}")


@dataclass(frozen=True)
class Card:
    """Text to show: a title and Markdown body (the terminal gets them as plain text)."""

    title: str
    body: str

    def __str__(self) -> str:
        return f"{self.title}\n\n{self.body}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_markdown_(self) -> str:
        return f"### {self.title}\n\n{self.body}"


@dataclass(frozen=True)
class Result:
    """The outcome of :meth:`Lesson.check`: ``passed`` and ``message`` in the learner's
    language; ``verdict`` keeps the check's key and values (for tests and tools)."""

    step: Step
    passed: bool
    message: str
    verdict: Verdict
    lang: str

    @property
    def mark(self) -> str:
        return t("ui.passed" if self.passed else "ui.failed", self.lang)

    def __str__(self) -> str:
        return f"{self.mark} {self.message}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        color, bg = ("#009E73", "#f0faf6") if self.passed else ("#D55E00", "#fdf3ee")
        html = (f'<div class="mlplab-lesson" style="{STYLE.format(color=color, bg=bg)}">'
                f"<b>{escape(self.mark)}</b> {escape(self.message)}</div>")
        if self.verdict.draw is not None:
            html += _boundary_img(*self.verdict.draw, title=t("ui.your_boundary", self.lang))
        return html


def _boundary_img(model: Any, X: Any, y: Any, *, title: str) -> str:
    """The learner's decision boundary as an inline PNG (drawn by mlplab's own helper)."""
    import matplotlib.pyplot as plt

    from mlplab.inspect.helpers import plot_decision_boundary
    from mlplab.inspect.plots.style import png_bytes
    from mlplab.inspect.report import b64

    fig = plot_decision_boundary(model, X, y, resolution=80, title=title)
    try:
        data = png_bytes(fig)
    finally:
        plt.close(fig)
    return f'<img style="max-width:520px" src="data:image/png;base64,{b64(data)}">'


class Lesson:
    """A lesson being taken: the current step, checks that record progress.

    Parameters
    ----------
    name : a lesson of :data:`~mlplab.learn.lessons.LESSONS` ("disk", "circles", ...).
    lang : "en" or "zh"; default from the locale.
    """

    def __init__(self, name: str, lang: str | None = None) -> None:
        self.spec: LessonSpec = get_lesson(name)
        self.lang = resolve_lang(lang)
        self.current = 1

    def __repr__(self) -> str:
        return str(self.overview())

    def _repr_markdown_(self) -> str:
        return self.overview()._repr_markdown_()

    def overview(self) -> Card:
        """The lesson's title, introduction and its steps, passed ones ticked."""
        done = set(progress.passed(self.spec.id))
        lines = [t(self.spec.intro_key, self.lang), ""]
        for i, s in enumerate(self.spec.steps, 1):
            mark = "✓" if s.id in done else "·"
            lines.append(f"{mark} {i}. {t(s.title_key, self.lang)}")
        return Card(t(self.spec.title_key, self.lang), "\n".join(lines))

    def step(self, n: int | str | None = None) -> Card:
        """Show step ``n`` (1-based, or its id) and make it the current one; the current
        step if omitted."""
        s = self.spec.step(self.current if n is None else n)
        self.current = self.spec.steps.index(s) + 1
        head = t("ui.step", self.lang, n=self.current, total=len(self.spec.steps),
                 title=t(s.title_key, self.lang))
        body = t(s.task_key, self.lang) + "\n\n" + t("ui.check_with", self.lang,
                                                      call=f"L.check({s.args})")
        return Card(head, body)

    def check(self, *, step: int | str | None = None, **objects: Any) -> Result:
        """Check the current step (or ``step``) on the learner's ``objects``; a pass is
        recorded in the progress file and moves on to the next step."""
        s = self.spec.step(self.current if step is None else step)
        fn = CHECKS[s.check]
        params = inspect.signature(fn).parameters
        missing = [p for p, v in params.items() if v.default is inspect.Parameter.empty
                   and p not in objects]
        if missing:
            verdict = Verdict(False, "missing", {"names": ", ".join(missing),
                                                 "call": f"L.check({s.args})"})
        else:
            verdict = fn(**{k: v for k, v in objects.items() if k in params})
        message = t(f"msg.{verdict.key}", self.lang, **_formatted(verdict.fmt))
        if verdict.passed:
            progress.record(self.spec.id, s.id)
            i = self.spec.steps.index(s) + 1
            if i < len(self.spec.steps):
                self.current = i + 1
                message += " " + t("ui.next", self.lang, n=i + 1)
            else:
                message += " " + t("ui.lesson_done", self.lang)
        return Result(s, verdict.passed, message, verdict, self.lang)

    def hint(self, step: int | str | None = None) -> Card:
        """A hint for the current step (or ``step``)."""
        s = self.spec.step(self.current if step is None else step)
        return Card(t("ui.hint", self.lang), t(s.hint_key, self.lang))

    def solution(self, step: int | str | None = None) -> Card:
        """Code that passes the current step (or ``step``)."""
        s = self.spec.step(self.current if step is None else step)
        return Card(t("ui.solution", self.lang), f"```python\n{s.solution}```")


def _formatted(fmt: dict[str, Any]) -> dict[str, Any]:
    """Floats shown with 3 decimals, the rest as they are."""
    return {k: f"{v:.3f}" if isinstance(v, float) else v for k, v in fmt.items()}


def lesson(name: str, lang: str | None = None) -> Lesson:
    """Start (or go on with) the lesson ``name``; see :class:`Lesson`.

    >>> lesson("circles", lang="zh").lang
    'zh'
    """
    return Lesson(name, lang)


__all__ = ["Card", "Lesson", "Result", "lesson"]
