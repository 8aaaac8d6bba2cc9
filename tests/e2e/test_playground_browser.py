"""The playground page in headless Chromium (Playwright) against a real uvicorn server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path("test-artifacts")
pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")]
sync_api = pytest.importorskip("playwright.sync_api")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server():
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "mlplab", "serve", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(url + "api/schema", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(proc.stdout.read().decode() if proc.stdout else "") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def page(server):
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        pg = browser.new_page(viewport={"width": 1400, "height": 900})
        pg.errors = []
        pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        pg.goto(server)
        yield pg
        browser.close()


def number(pg, sel: str) -> float:
    text = pg.inner_text(sel).replace(",", "")
    return float(text) if text not in ("", "–") else float("nan")


def wait_for(pg, pred, timeout=30.0):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        pg.wait_for_timeout(100)
    raise AssertionError("condition not reached in time")


def test_play_trains_and_the_boundary_moves(page):
    wait_for(page, lambda: page.inner_text("#test-loss") not in ("", "–"))
    loss0 = number(page, "#test-loss")
    assert number(page, "#epoch") == 0
    page.click("#play")
    wait_for(page, lambda: number(page, "#epoch") >= 5)
    shot1 = page.locator("#boundary").screenshot(path=str(ARTIFACTS / "boundary-early.png"))
    wait_for(page, lambda: number(page, "#epoch") >= 150 and number(page, "#test-loss") <
             loss0 * 0.6, timeout=60)
    shot2 = page.locator("#boundary").screenshot(path=str(ARTIFACTS / "boundary-later.png"))
    assert shot1 != shot2
    page.click("#pause")
    e = number(page, "#epoch")
    page.wait_for_timeout(600)
    assert number(page, "#epoch") - e <= 200  # stopped (one segment may still land)
    page.screenshot(path=str(ARTIFACTS / "playground-trained.png"), full_page=True)
    assert "ds=" not in page.url  # defaults are not written into the link
    assert page.errors == []


def test_switch_dataset_and_activation_then_step(page):
    page.select_option("#dataset", "xor")
    page.select_option("#activation", "relu")
    wait_for(page, lambda: "ds=xor" in page.url and "act=relu" in page.url)
    wait_for(page, lambda: number(page, "#epoch") == 0)
    page.click("#step")
    wait_for(page, lambda: number(page, "#epoch") == 1)
    page.screenshot(path=str(ARTIFACTS / "playground-xor.png"), full_page=True)
    assert page.errors == []


def test_upload_a_csv_and_export_the_script(page, tmp_path):
    rows = ["height,weight,colour,label"] + [
        f"{h},{w},{'red' if i % 3 else 'blue'},{'big' if h + w > 10 else 'small'}"
        for i, (h, w) in enumerate((i % 9, (i * 7) % 11) for i in range(150))]
    csv = tmp_path / "mine.csv"
    csv.write_text("\n".join(rows) + "\n")
    page.set_input_files("#upload-file", str(csv))
    wait_for(page, lambda: page.input_value("#target") == "label")
    wait_for(page, lambda: page.input_value("#dataset") == "__upload")
    page.click("#play")
    wait_for(page, lambda: number(page, "#epoch") >= 20)
    page.click("#pause")
    page.click("#export-script")
    page.wait_for_selector("#code-dialog[open]")
    text = page.inner_text("#code-text")
    assert "import torch" in text and "mine.csv" in text
    page.screenshot(path=str(ARTIFACTS / "playground-export.png"))
    page.keyboard.press("Escape")
    assert page.errors == []
