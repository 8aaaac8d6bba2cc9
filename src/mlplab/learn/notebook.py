"""A lesson as a Jupyter notebook (nbformat v4): per step its task, ``L.step(n)``, an empty
answer cell and the check; with ``solutions=True`` the answer cells hold the solutions (for
teachers, and for the test that runs every lesson top to bottom).

Example
-------
>>> nb = lesson_notebook("circles", lang="en")
>>> [c.cell_type for c in nb.cells[:3]]
['markdown', 'code', 'markdown']
>>> nb.cells[1].source
'from mlplab.learn import lesson\\n\\nL = lesson("circles", lang="en")'
>>> sum("answer" in c.metadata.get("tags", []) for c in nb.cells)
2
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlplab.export.notebook import _nbformat
from mlplab.i18n import resolve_lang
from mlplab.learn.lessons import get_lesson
from mlplab.learn.texts import t
from mlplab.runs.store import atomic_write_text

ANSWER_TAG = "answer"  # the cells the learner writes in


def lesson_notebook(name: str, lang: str | None = None, *, solutions: bool = False) -> Any:
    """The notebook of lesson ``name`` in ``lang``; validated against nbformat's schema."""
    spec, code = get_lesson(name), resolve_lang(lang)
    v4 = _nbformat().v4
    cells = [
        v4.new_markdown_cell(f"# {t(spec.title_key, code)}\n\n{t(spec.intro_key, code)}\n\n"
                             f"{t('ui.notebook_intro', code)}"),
        v4.new_code_cell(f'from mlplab.learn import lesson\n\nL = lesson("{spec.id}", '
                         f'lang="{code}")'),
    ]
    for i, s in enumerate(spec.steps, 1):
        cells += [
            v4.new_markdown_cell(f"## {i}. {t(s.title_key, code)}\n\n{t(s.task_key, code)}"),
            v4.new_code_cell(f"L.step({i})"),
            v4.new_code_cell(s.solution.rstrip("\n") if solutions else t("ui.answer_here", code),
                             metadata={"tags": [ANSWER_TAG]}),
            v4.new_code_cell(f"L.check({s.args}, step={i})"),
        ]
    nb = v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})
    _nbformat().validate(nb)
    return nb


def write_lesson_notebook(name: str, path: Path, lang: str | None = None, *,
                          solutions: bool = False) -> None:
    """Write lesson ``name``'s notebook to ``path`` (atomically)."""
    atomic_write_text(path, _nbformat().writes(lesson_notebook(name, lang,
                                                               solutions=solutions)))


__all__ = ["ANSWER_TAG", "lesson_notebook", "write_lesson_notebook"]
