"""A playground lesson in headless Chromium against a real server: the controls alone meet
each step (a linear model fails on the circles, ReLU fixes it), in English and in Chinese.

Screenshots go to ``test-artifacts/``; with ``MLPLAB_DOCS_FIGURES=1`` also to
``docs/figures/lesson-{en,zh}.png`` (the pictures in the README)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

ARTIFACTS = Path("test-artifacts")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "figures"
pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(server_factory):
    with server_factory("--max-epochs", "100000") as (url, _):
        yield url


@pytest.fixture(scope="module")
def browser(chromium):
    return chromium


def wait_for(pg, pred, timeout=120.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        pg.wait_for_timeout(100)
    raise AssertionError(f"{what} not reached in time; panel: "
                         f"{pg.inner_text('#lesson-panel')!r}")


def done(pg, step: str) -> bool:
    return pg.get_attribute(f'#lesson-panel li[data-step="{step}"]', "class") == "done"


def playing(pg) -> bool:
    return pg.is_hidden("#play")


@pytest.mark.parametrize("lang,title,complete", [
    ("en", "Circles: a straight line fails", "Lesson complete"),
    ("zh", "圆环：直线失败", "本课完成"),
])
def test_the_circles_lesson_is_completed_with_the_controls(browser, server, lang, title,
                                                           complete):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(f"{server}?lesson=circles&lang={lang}")
    wait_for(pg, lambda: pg.is_visible("#lesson-panel") and pg.inner_text("#test-loss")
             not in ("", "–"), what="panel and first frame")
    assert title in pg.text_content("#lesson-panel h3")
    assert not done(pg, "linear") and not done(pg, "relu")

    # step 1: circles, no hidden layer, play; the linear model stays under 0.6
    pg.select_option("#dataset", "circles")
    while pg.inner_text("#layer-count").strip()[:1] not in ("0",):
        pg.click("#remove-layer")
    wait_for(pg, lambda: pg.evaluate("S.data && S.data.config.model.hidden.length === 0 && "
                                     "S.data.config.data.source === 'circles'"),
             what="a linear model on the circles")
    pg.click("#play")
    wait_for(pg, lambda: done(pg, "linear"), what="the linear step")
    assert not done(pg, "relu")
    linear_acc = float(pg.inner_text("#test-accuracy"))
    assert linear_acc < 0.6

    # step 2: one hidden layer of 8 ReLU units; the boundary bends past 0.85
    pg.click("#add-layer")
    for _ in range(4):
        pg.click('[data-key="plus-0"]')
    pg.select_option("#activation", "relu")
    wait_for(pg, lambda: pg.evaluate("S.data.config.model.hidden.join() === '8' && "
                                     "S.data.config.model.activation === 'relu'"),
             what="the ReLU model")
    if not playing(pg):
        pg.click("#play")
    wait_for(pg, lambda: done(pg, "relu"), what="the ReLU step")
    assert complete in pg.inner_text("#lesson-status")
    assert float(pg.inner_text("#test-accuracy")) > 0.85
    assert errors == []

    wait_for(pg, lambda: pg.evaluate("document.fonts.status === 'loaded'"), what="fonts")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"lesson-{lang}.png"
    pg.screenshot(path=str(shot))
    if os.environ.get("MLPLAB_DOCS_FIGURES") == "1":
        shutil.copyfile(shot, DOCS / f"lesson-{lang}.png")
    ctx.close()
