"""report.html is self-contained and complete; the plot / report / compare commands work."""

from __future__ import annotations

import base64
import io
import re

import pytest
from PIL import Image

import mlplab
from mlplab.cli.main import main


def _cfg(name: str, **over):
    cfg = {"name": name, "data": {"source": "moons", "n_samples": 200},
           "model": {"hidden": [8]}, "train": {"epochs": 60, "eval_every": 10},
           "log": {"quiet": True}}
    for k, v in over.items():
        cfg[k] = {**cfg.get(k, {}), **v}
    return cfg


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "moons"
    mlplab.train(_cfg("moons"), out=out)
    return out


def test_a_saved_run_gets_figures_and_a_self_contained_report(run_dir):
    names = {p.name for p in run_dir.iterdir()}
    assert {"report.html", "boundary.png", "learning_curves.png", "confusion_matrix.png",
            "roc_pr.png", "calibration.png", "data.png", "neurons.png",
            "boundary_evolution.gif", "snapshots.safetensors", "diagnosis.json"} <= names
    html = (run_dir / "report.html").read_text()
    assert not re.search(r"(src|href)=[\"']https?:", html)  # nothing loaded from the web
    images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)
    assert len(images) >= 8
    for b64 in images[:3]:
        assert Image.open(io.BytesIO(base64.b64decode(b64))).size[0] > 100
    assert 'id="snap-range"' in html and "Diagnosis" in html and "optim:" in html


def test_gif_frames_match_the_snapshot_count(run_dir):
    from mlplab.inspect.tracking import SNAPSHOT_FILE, Snapshots

    snaps = Snapshots.load(run_dir / SNAPSHOT_FILE)
    gif = Image.open(run_dir / "boundary_evolution.gif")
    assert gif.n_frames == len(snaps.epochs) == 61 // 2 + 1  # every 2 epochs, plus epoch 0


def test_report_command_rewrites_the_report_and_prints_the_diagnosis(run_dir, capsys):
    (run_dir / "report.html").unlink()
    assert main(["report", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert (run_dir / "report.html").is_file() and "report written to" in out
    assert re.search(r"\[(ok|info|warning|problem)\]", out)


def test_plot_command_draws_chosen_kinds_on_new_data(run_dir, tmp_path, capsys):
    code = main(["plot", str(run_dir), "--kind", "boundary", "--kind", "confusion",
                 "--data", "moons", "--out", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boundary.png",
                                                           "confusion_matrix.png"]
    assert main(["plot", str(run_dir), "--kind", "bogus"]) == 2
    assert "unknown figure kind 'bogus'" in capsys.readouterr().err


def test_compare_page_shows_each_run_and_what_differs(run_dir, tmp_path, capsys):
    other = tmp_path / "linear"
    mlplab.train(_cfg("linear", model={"hidden": [], "activation": "relu"},
                      log={"plots": False}), out=other)
    page = tmp_path / "cmp.html"
    assert main(["compare", str(run_dir), str(other), "-o", str(page)]) == 0
    html = page.read_text()
    assert "model.hidden" in html and "moons" in html and "linear" in html
    assert len(re.findall(r"data:image/png;base64,", html)) == 3  # 2 boundaries + curves
    assert main(["compare", str(run_dir)]) == 2


def test_report_in_chinese_with_lang(run_dir, capsys):
    assert main(["report", str(run_dir), "--lang", "zh", "--overwrite"]) == 0
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in html
    for words in ("指标", "诊断", "图表", "配置", "测试集", "准确率", "行是真实类别"):
        assert words in html, words
    assert ">Metrics<" not in html
    assert main(["report", str(run_dir), "--lang", "en", "--overwrite"]) == 0
    assert ">Metrics<" in (run_dir / "report.html").read_text(encoding="utf-8")


def test_report_refuses_an_unknown_language(run_dir, capsys):
    before = (run_dir / "report.html").stat().st_mtime_ns
    assert main(["report", str(run_dir), "--lang", "fr"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown language 'fr'") and "en, zh" in err
    assert (run_dir / "report.html").stat().st_mtime_ns == before  # wrote nothing


def test_chinese_column_names_and_labels_draw_without_missing_glyphs(tmp_path):
    """Regression: figures drew CJK names as empty boxes ("Glyph ... missing from font(s)")."""
    import warnings

    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.normal(size=(150, 2))
    frame = pd.DataFrame({"特征一": x[:, 0], "特征二": x[:, 1],
                          "标签": np.where(x[:, 0] + x[:, 1] > 0, "好", "坏")})
    csv = tmp_path / "数据.csv"
    frame.to_csv(csv, index=False, encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mlplab.train(_cfg("zh", data={"source": str(csv), "target": "标签"},
                          train={"epochs": 20}), out=tmp_path / "run")
    glyphs = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert glyphs == []
    assert {"boundary.png", "confusion_matrix.png", "report.html"} <= \
        {f.name for f in (tmp_path / "run").iterdir()}  # the names were drawn


def test_report_follows_the_locale_when_no_lang_is_given(run_dir, monkeypatch):
    for var in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert main(["report", str(run_dir), "--overwrite"]) == 0
    assert '<html lang="zh-CN">' in (run_dir / "report.html").read_text(encoding="utf-8")


def test_a_chinese_report_carries_the_cjk_glyphs_it_uses(run_dir, tmp_path, capsys):
    """Regression (issue 28): report.html in Chinese showed boxes on machines without a CJK
    font. It embeds a subset of Noto Sans CJK SC (the figures' font) as a base64 @font-face
    that draws every CJK character of the page; an English page embeds nothing."""
    from fontTools.ttLib import TTFont

    from mlplab.inspect.plots.style import needs_cjk

    assert main(["report", str(run_dir), "--lang", "zh", "-o", str(tmp_path)]) == 0
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    faces = re.findall(r'@font-face\{font-family:"mlplab CJK";src:url\(data:font/otf;base64,'
                       r'([A-Za-z0-9+/=]+)\)', page)
    assert len(faces) == 1
    font = TTFont(io.BytesIO(base64.b64decode(faces[0])))
    assert font["name"].getDebugName(1) == "Noto Sans CJK SC"
    drawn = font.getBestCmap()
    used = {c for c in re.sub(r"<style>.*?</style>", "", page, flags=re.S) if needs_cjk(c)}
    assert len(used) > 50 and not [c for c in used if ord(c) not in drawn]
    assert '"mlplab CJK"' in page.split("</style>")[0].rsplit("}", 2)[-2]  # body uses it
    assert main(["report", str(run_dir), "--lang", "en", "-o", str(tmp_path / "en")]) == 0
    assert "@font-face" not in (tmp_path / "en" / "report.html").read_text(encoding="utf-8")
