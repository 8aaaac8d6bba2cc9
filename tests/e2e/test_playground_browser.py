"""The playground page in headless Chromium (Playwright) against a real uvicorn server."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ARTIFACTS = Path("test-artifacts")
pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(server_factory):
    with server_factory("--max-epochs", "100000") as (url, _):
        yield url


@pytest.fixture(scope="module")
def browser(chromium):
    ARTIFACTS.mkdir(exist_ok=True)
    return chromium


def new_page(browser, url, width=1400):
    ctx = browser.new_context(viewport={"width": width, "height": 900})
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    pg = ctx.new_page()
    pg.errors = []
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    return pg


@pytest.fixture(scope="module")
def page(browser, server):
    pg = new_page(browser, server)
    pg.goto(server)
    yield pg
    pg.context.close()


def number(pg, sel: str) -> float:
    text = pg.inner_text(sel).replace(",", "")
    return float(text) if text not in ("", "–") else float("nan")


def wait_for(pg, pred, timeout=120.0):
    """Poll ``pred`` until it holds (generous: the server trains on a busy 2-core machine);
    fail with what the page showed."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        pg.wait_for_timeout(100)
    seen = {sel: pg.inner_text(sel) for sel in ("#epoch", "#test-loss")
            if pg.locator(sel).count()}
    raise AssertionError(f"condition not reached in {timeout:.0f} s; page: {seen}, {pg.url}")


def ready(pg):
    wait_for(pg, lambda: pg.inner_text("#test-loss") not in ("", "–"))


def test_play_trains_and_the_boundary_moves(page):
    ready(page)
    loss0 = number(page, "#test-loss")
    assert number(page, "#epoch") == 0
    page.click("#play")
    wait_for(page, lambda: number(page, "#epoch") >= 5)
    shot1 = page.locator("#boundary").screenshot(path=str(ARTIFACTS / "boundary-early.png"))
    wait_for(page, lambda: number(page, "#epoch") >= 150 and number(page, "#test-loss") <
             loss0 * 0.6)
    shot2 = page.locator("#boundary").screenshot(path=str(ARTIFACTS / "boundary-later.png"))
    assert shot1 != shot2
    page.click("#pause")
    e = number(page, "#epoch")
    page.wait_for_timeout(600)
    assert number(page, "#epoch") - e <= 200  # stopped (one segment may still land)
    assert "100,000 epochs" in page.inner_text("#cap-note")  # the cap is stated in the page
    assert "ds=" not in page.url  # defaults are not written into the link
    assert page.errors == []


def test_crosses_hover_views_and_regularization(page):
    page.click("#cross-x1\\^2")
    page.click("#cross-sin\\(x2\\)")
    wait_for(page, lambda: "x=x1%5E2%2Csin%28x2%29" in page.url)
    ready(page)
    page.click("#step")
    wait_for(page, lambda: number(page, "#epoch") == 1)
    # inputs x1, x2, x1², sin x2 -> 4 (+2 crosses) edges into each first-layer neuron
    box = page.locator("#network").bounding_box()
    scale = box["width"] / 560
    # the first hidden neuron: column 1 of 4, top of its column (layout() in draw.js)
    nodes = page.evaluate("S.nodes")
    hidden = next(n for n in nodes if n["l"] == 1 and n["j"] == 0)
    page.mouse.move(box["x"] + hidden["x"] * scale, box["y"] + hidden["y"] * scale)
    wait_for(page, lambda: page.is_visible("#hover"))
    assert page.inner_text("#hover-title") == "Layer 1, neuron 1"
    assert page.is_visible("#hover-canvas")
    edge = page.evaluate("S.edges[0]")
    ex, ey = page.evaluate("(e) => bezier(e, 0.5)", edge)
    page.mouse.move(box["x"] + ex * scale, box["y"] + ey * scale)
    wait_for(page, lambda: page.inner_text("#hover-title").startswith("weight "))
    assert f"{edge['w']:.3f}" in page.inner_text("#hover-title")
    page.mouse.move(0, 0)
    # view toggles live in the link too
    page.click("#show-test")
    page.click("#discretize")
    page.click("#show-units")
    wait_for(page, lambda: all(k in page.url for k in ("st=1", "disc=1", "units=0")))
    page.click("#show-units")
    # regularization chosen on the page sticks and reaches the config
    page.select_option("#reg", "l1")
    wait_for(page, lambda: "l1=0.001" in page.url)
    assert page.input_value("#reg") == "l1" and page.input_value("#reg-rate") == "0.001"
    page.select_option("#reg-rate", "0.01")
    wait_for(page, lambda: "l1=0.01" in page.url)
    page.select_option("#optimizer", "adamw")
    page.select_option("#reg", "none")
    page.wait_for_timeout(400)
    page.select_option("#reg", "l2")
    wait_for(page, lambda: page.input_value("#reg-rate") == "0.001" and "l2=0.001" in page.url)
    assert page.errors == []


def test_a_bad_link_says_what_is_wrong_and_falls_back(browser, server):
    pg = new_page(browser, server)
    pg.goto(server + "#ds=foo&n=999999&hidden=4,100&test=0&act=relu")
    ready(pg)
    text = pg.inner_text("#banner-text")
    for key in ("ds=", "n=", "hidden=", "test="):
        assert key in text
    assert "act=" not in text and pg.input_value("#activation") == "relu"  # the good key stays
    assert pg.input_value("#dataset") == "disk" and "unknown dataset 'foo'" in text
    pg.select_option("#dataset", "xor")
    wait_for(pg, lambda: pg.is_hidden("#banner"))
    # AdamW trains with its default weight decay: the page shows what trains, the default
    # of 0.5 per epoch spread over this data's 25 steps (250 training rows, batch 10)
    pg.select_option("#optimizer", "adamw")
    wait_for(pg, lambda: pg.input_value("#reg") == "l2" and pg.input_value("#reg-rate") == "0.02")
    refused = "Failed to load resource: the server responded with a status of 4"  # the checks
    assert [e for e in pg.errors if not e.startswith(refused)] == []
    pg.context.close()


def test_keyboard_layers_and_escaped_labels(browser, server, tmp_path):
    pg = new_page(browser, server, width=1280)
    pg.goto(server + "#hidden=3,3,3,3,3,3")
    ready(pg)
    # six layers at 1280 px: no control overlaps another, and "+" changes its own layer
    for width in (1280, 800):
        pg.set_viewport_size({"width": width, "height": 900})
        boxes = pg.eval_on_selector_all(
            "#layer-controls button, #layer-controls select",
            "els => els.map(e => e.getBoundingClientRect().toJSON())")
        assert len(boxes) == 18
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                assert (a["right"] <= b["left"] or b["right"] <= a["left"] or
                        a["bottom"] <= b["top"] or b["bottom"] <= a["top"]), (width, a, b)
    pg.set_viewport_size({"width": 1280, "height": 900})
    pg.click('[data-key="plus-2"]')
    wait_for(pg, lambda: "hidden=3%2C3%2C4%2C3%2C3%2C3" in pg.url)
    # Space on a focused button presses that button; it does not start training
    pg.click("#remove-layer")
    wait_for(pg, lambda: pg.inner_text("#layer-count").startswith("5"))
    pg.focus("#add-layer")
    pg.keyboard.press(" ")
    wait_for(pg, lambda: pg.inner_text("#layer-count").startswith("6"))
    assert pg.is_visible("#play") and pg.evaluate("document.activeElement.id") == "add-layer"
    pg.focus('[data-key="minus-0"]')
    pg.keyboard.press("Enter")
    wait_for(pg, lambda: "hidden=2" in pg.url)
    assert pg.evaluate("document.activeElement.dataset.key") == "minus-0"  # focus kept
    # the upload is reachable with Tab
    pg.focus("#regenerate")
    pg.keyboard.press("Tab")
    assert pg.evaluate("document.activeElement.id") == "upload-file"
    # labels from an uploaded file are text, never HTML; the x/y choice keeps the run
    rows = ["a,b,c,label"] + [f"{i % 7},{(i * 3) % 5},{(i * 7) % 11},{'<b>x' if i % 2 else 'y'}"
                              for i in range(60)]
    csv = tmp_path / "labels.csv"
    csv.write_text("\n".join(rows) + "\n")
    pg.set_input_files("#upload-file", str(csv))
    wait_for(pg, lambda: pg.input_value("#dataset") == "__upload")
    wait_for(pg, lambda: "<b>x" in pg.inner_text("#confusion"))
    assert pg.locator("#confusion b, #colorbar-labels b").count() == 0
    for _ in range(3):
        pg.click("#step")
    wait_for(pg, lambda: number(pg, "#epoch") == 3)
    pg.select_option("#draw-x", "c")
    wait_for(pg, lambda: pg.inner_text("#axis-x") == "c")
    pg.wait_for_timeout(300)
    assert number(pg, "#epoch") == 3
    # copy gives feedback; the uploaded data is not in the link, and the page says so
    pg.click("#copy-link")
    wait_for(pg, lambda: pg.inner_text("#copy-link") == "Copied")
    assert "does not contain your uploaded file" in pg.inner_text("#notice-text")
    assert pg.errors == []
    pg.context.close()


def test_chinese_ui_and_the_end_of_a_run_behind_a_token(browser, server_factory):
    token = "a-token-for-the-class"
    with server_factory("--max-epochs", "25", "--token", token) as (url, _):
        req = urllib.request.Request(url + "api/i18n/zh",
                                     headers={"Authorization": f"token {token}"})
        zh = json.loads(urllib.request.urlopen(req).read())["texts"]
        pg = new_page(browser, url)
        pg.goto(url + f"?token={token}&lang=zh")  # the URL serve prints, plus the language
        ready(pg)
        assert pg.evaluate("document.documentElement.lang") == "zh-CN"
        for key, text in pg.eval_on_selector_all(
                "[data-i18n]", "els => els.map(e => [e.dataset.i18n, e.textContent])"):
            assert text == zh[key], key
        assert pg.get_attribute("#play", "title") == zh["playground.play"]
        assert pg.inner_text("#layer-count") == "2 个隐藏层"
        assert pg.inner_text("#metric-rows").startswith("轮次")
        pg.click("#export-zip")  # before training: a message, no download
        wait_for(pg, lambda: pg.inner_text("#notice-text") == zh["playground.not_trained"])
        pg.click("#play")
        wait_for(pg, lambda: "25" in pg.inner_text("#notice-text"))
        assert pg.inner_text("#notice-text").startswith("训练已达到服务器上限")
        assert pg.is_visible("#play") and number(pg, "#epoch") == 25
        pg.screenshot(path=str(ARTIFACTS / "playground-zh.png"), full_page=True)
        pg.select_option("#lang", "en")
        wait_for(pg, lambda: pg.evaluate("document.documentElement.lang") == "en")
        assert "lang=" not in pg.url and pg.text_content("#layer-count") == "2 hidden layers"
        assert f"token={token}" in pg.url  # the link still works for whoever gets it
        assert pg.errors == []
        pg.context.close()
