"""Draw ``docs/figures/lesson-notebook.png``: the circles lesson as a learner meets it in a
notebook (the task, a first answer that fails, the fix that passes, with the learner's
boundary), from the real objects ``mlplab.learn`` returns.

Run from the repository root with Debian's ``chromium`` installed::

    .venv/bin/python docs/make_lesson_figure.py
"""

from __future__ import annotations

import html
import os
import re
import tempfile
from pathlib import Path

OUT = Path(__file__).parent / "figures" / "lesson-notebook.png"
CHROMIUM = "/usr/bin/chromium"
PAGE = """<!doctype html><meta charset="utf-8"><style>
body {{ font: 14px/1.5 system-ui, sans-serif; margin: 16px; width: 880px; background: #fff; }}
.cell {{ margin: 10px 0; }}
.in {{ background: #f5f5f7; border: 1px solid #e0e0e6; border-radius: 4px; padding: 6px 10px;
      font: 13px/1.45 ui-monospace, monospace; white-space: pre; }}
.prompt {{ color: #307fc1; font: 12px ui-monospace, monospace; }}
.out {{ padding: 4px 10px; }}
code {{ background: #f0f0f4; padding: 0 3px; border-radius: 3px; }}
</style>{cells}"""


def _md(card: object) -> str:
    """A lesson card (title + a little Markdown) as HTML."""
    title, body = card.title, card.body  # type: ignore[attr-defined]
    text = html.escape(body)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    paras = "".join(f"<p>{p}</p>" for p in text.split("\n\n"))
    return f"<h3>{html.escape(title)}</h3>{paras}"


def main() -> None:
    os.environ["MLPLAB_LEARN_HOME"] = tempfile.mkdtemp()
    import torch
    from torch import nn

    from mlplab.learn import lesson
    from mlplab.learn.lessons import get_lesson

    L = lesson("circles", lang="en")
    setup = get_lesson("circles").steps[0].solution
    scope: dict[str, object] = {}
    exec(setup, scope)  # the lesson's own data and fit(); the learner writes the same
    fit, X_test, y_test = scope["fit"], scope["X_test"], scope["y_test"]
    torch.manual_seed(42)
    relu_too_small = fit(nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)), epochs=200)
    torch.manual_seed(42)
    relu = fit(nn.Sequential(nn.Linear(2, 10), nn.ReLU(), nn.Linear(10, 10), nn.ReLU(),
                             nn.Linear(10, 1)))
    cells = [
        ('from mlplab.learn import lesson\nL = lesson("circles")\nL.step(2)', _md(L.step(2))),
        ("relu = fit(nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)), epochs=200)\n"
         "L.check(model=relu, X=X_test, y=y_test)",
         L.check(model=relu_too_small, X=X_test, y=y_test)._repr_html_()),
        ("relu = fit(nn.Sequential(nn.Linear(2, 10), nn.ReLU(),\n"
         "                         nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 1)))\n"
         "L.check(model=relu, X=X_test, y=y_test)",
         L.check(model=relu, X=X_test, y=y_test)._repr_html_()),
    ]
    body = "".join(
        f'<div class="cell"><div class="prompt">In [{i}]:</div><div class="in">'
        f'{html.escape(code)}</div><div class="out">{out}</div></div>'
        for i, (code, out) in enumerate(cells, 1))
    page = Path(tempfile.mkdtemp()) / "lesson.html"
    page.write_text(PAGE.format(cells=body), encoding="utf-8")

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        tab = browser.new_page(viewport={"width": 912, "height": 400}, device_scale_factor=1.5)
        tab.goto(page.as_uri())
        tab.wait_for_load_state("load")
        tab.screenshot(path=str(OUT), full_page=True)
        browser.close()
    print(OUT)


if __name__ == "__main__":
    main()
