"""``mlplab train --lang zh``: the report and the printed diagnosis in Chinese, with no English
diagnosis sentence left; an unknown language is refused before anything is written."""

from __future__ import annotations

import json
import re

from mlplab.cli.main import main
from mlplab.i18n import catalog, tr

# a few epochs of a tiny network on moons: the diagnosis has findings beyond "ok"
ARGS = ["train", "--data", "moons", "--n-samples", "200", "--hidden", "4", "--epochs", "5"]


def _english_sentences() -> list[str]:
    """The fixed words of every English diagnosis message (the text between placeholders)."""
    parts = (re.split(r"\{[^}]*\}", text) for key, text in catalog("en").items()
             if key.startswith("diagnosis."))
    return [p.strip() for ps in parts for p in ps if len(p.strip()) >= 12]


def test_train_with_lang_zh_writes_and_prints_the_diagnosis_in_chinese(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*ARGS, "--out", str(out), "--lang", "zh"]) == 0
    printed = capsys.readouterr().out
    html = (out / "report.html").read_text(encoding="utf-8")
    findings = json.loads((out / "diagnosis.json").read_text(encoding="utf-8"))
    assert '<html lang="zh-CN">' in html and findings
    for f in findings:
        title = tr(f"diagnosis.{f['code']}.title", "zh")
        assert f["title"] == title and title in html and title in printed
        assert tr(f"diagnosis.{f['code']}.title", "en") not in html
    english = [s for s in _english_sentences() if s in html or s in printed]
    assert english == []


def test_train_refuses_an_unknown_language_before_training(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*ARGS, "--out", str(out), "--lang", "fr"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown language 'fr'")
    assert not out.exists()


def test_the_notebook_view_gives_the_diagnosis_in_its_language():
    import mlplab
    from mlplab.inspect.notebook import run_html

    run = mlplab.train({"data": {"source": "moons", "n_samples": 200}, "model": {"hidden": [4]},
                        "train": {"epochs": 5}, "log": {"quiet": True}}, save=False)
    html, english_html = run_html(run, lang="zh"), run_html(run, lang="en")
    assert tr("report.diagnosis", "zh") in html
    assert [s for s in _english_sentences() if s in html] == []
    assert [s for s in _english_sentences() if s in english_html] != []
