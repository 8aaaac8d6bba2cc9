"""report.html renders in headless Chromium: no console errors, real figures, a live slider."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import mlplab

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = [pytest.mark.browser]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("browser") / "circles"
    mlplab.train({"name": "circles", "data": {"n_samples": 300}, "model": {"hidden": [8, 8]},
                  "train": {"epochs": 120, "eval_every": 10}, "log": {"quiet": True}},
                 out=out)
    return out / "report.html"


@pytest.fixture(scope="module")
def page(chromium):
    return chromium.new_page(viewport={"width": 1200, "height": 900})


def test_report_renders_without_errors_and_shows_figures(report, page):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    assert errors == []
    widths = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
    assert len(widths) >= 8 and min(widths) > 100  # every embedded image decoded
    ARTIFACTS.mkdir(exist_ok=True)
    shot = page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    pixels = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"))
    assert pixels.std() > 20  # not a blank page
    colours = {tuple(c) for c in pixels[::7, ::7].reshape(-1, 3)[:: 3]}
    assert len(colours) > 200  # heatmaps and curves, not just text on white
    blue = (np.abs(pixels.astype(int) - (115, 170, 210)).sum(axis=-1) < 40).mean()
    assert blue > 0.01  # the boundary heatmap's pale blue is on the page


def test_slider_moves_the_boundary_and_the_loss_marker_together(report, page):
    page.goto(report.as_uri())
    first_src = page.get_attribute("#snap-img", "src")
    x_end = float(page.get_attribute("#marker", "x1"))
    page.eval_on_selector("#snap-range",
                          "e => { e.value = 0; e.dispatchEvent(new Event('input')); }")
    assert page.text_content("#snap-label").startswith("epoch 0 ")
    assert page.get_attribute("#snap-img", "src") != first_src
    assert float(page.get_attribute("#marker", "x1")) < x_end
    page.screenshot(path=str(ARTIFACTS / "report-slider-epoch0.png"))
