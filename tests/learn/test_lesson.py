"""``lesson(...)`` in a notebook or terminal, the progress file, and the lesson catalogs."""

from __future__ import annotations

import json
import string

import pytest
import torch

from mlplab.errors import ConfigError
from mlplab.i18n import catalog
from mlplab.learn import LESSONS, lesson, progress
from mlplab.learn.checks import CHECKS


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_the_lesson_catalogs_have_the_same_keys_and_placeholders():
    en, zh = catalog("learn.en"), catalog("learn.zh")
    assert sorted(set(en) - set(zh)) == [] and sorted(set(zh) - set(en)) == []
    assert [k for k in en if _fields(en[k]) != _fields(zh[k])] == []
    assert [k for k in zh if zh[k] == en[k] and k.startswith("learn.msg.")] == []


def test_every_step_and_check_message_has_a_text():
    en = catalog("learn.en")
    for spec in LESSONS.values():
        keys = [spec.title_key, spec.intro_key]
        keys += [k for s in spec.steps for k in (s.title_key, s.task_key, s.hint_key)]
        keys += [k for p in spec.play for k in (p.task_key, p.hint_key)]
        assert [k for k in keys if k not in en] == [], spec.id
        assert all(s.check in CHECKS for s in spec.steps)
    assert set(LESSONS) == {"disk", "simple-net", "circles", "moons-tips", "gaussians"}
    assert sorted(s.tutorial for s in LESSONS.values()) == ["000", "001", "002", "003", "004"]


def test_a_lesson_walks_step_by_step_and_records_progress(learn_home):
    L = lesson("disk", lang="en")
    card = L.step(1)
    assert card.title == "Step 1/3 · Make the data" and "torch.randn" in card.body
    assert "L.check(X=X, y=y)" in card.body and "### Step 1/3" in card._repr_markdown_()
    X = torch.randn(100, 2)
    inside = (X[:, 0] ** 2 + X[:, 1] ** 2 < 1).float()
    r = L.check(X=X, y=inside)
    assert not r.passed and str(r).startswith("✗") and ".unsqueeze(1)" in r.message
    assert progress.passed("disk") == [] and L.current == 1
    r = L.check(X=X, y=inside.unsqueeze(1))
    assert r.passed and str(r).startswith("✓") and "L.step(2)" in r.message
    assert progress.passed("disk") == ["data"] and L.current == 2
    saved = json.loads((learn_home / "progress.json").read_text(encoding="utf-8"))
    assert saved["lessons"]["disk"]["passed"] == ["data"]
    assert "✓ 1." in str(lesson("disk", lang="en"))  # the overview ticks passed steps


def test_missing_objects_say_how_to_call_the_check():
    L = lesson("circles", lang="en")
    r = L.check(model=torch.nn.Linear(2, 1))
    assert not r.passed and r.verdict.key == "missing"
    assert "X, y" in r.message and "L.check(model=linear, X=X_test, y=y_test)" in r.message


def test_chinese_texts_and_the_boundary_in_the_html(solved):
    L = lesson("circles", lang="zh")
    assert "第 1/2 步" in str(L.step(1))
    ns = solved["circles"]
    r = L.check(model=ns["linear"], X=ns["X_test"], y=ns["y_test"])
    assert r.passed and r.message.startswith("测试准确率") and str(r).startswith("✓ 通过")
    html = r._repr_html_()
    assert "data:image/png;base64," in html and "通过" in html
    assert L.current == 2 and "nn.ReLU()" in L.hint().body  # moved on
    assert L.hint(1).title == "提示" and "W2(W1 x + b1) + b2" in L.hint(1).body
    assert L.solution(1).body.startswith("```python\n") and "make_circles" in L.solution(1).body


def test_unknown_lessons_and_steps_are_one_line_errors():
    with pytest.raises(ConfigError, match=r"unknown lesson 'circle'.*did you mean 'circles'"):
        lesson("circle")
    with pytest.raises(ConfigError, match="lesson 'disk' has no step 4: expected 1 to 3"):
        lesson("disk").step(4)
    with pytest.raises(ConfigError, match=r"has no step 'fitt'.*did you mean 'fit'"):
        lesson("disk").hint("fitt")


def test_a_broken_progress_file_is_reported_not_overwritten(learn_home):
    learn_home.mkdir(parents=True)
    (learn_home / "progress.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read the lesson progress file"):
        progress.record("disk", "data")
    assert (learn_home / "progress.json").read_text(encoding="utf-8") == "{not json"


def test_progress_records_each_step_once_and_resets(learn_home):
    for step in ("data", "network", "data"):
        progress.record("disk", step)
    progress.record("circles", "linear_fails")
    assert progress.passed("disk") == ["data", "network"]
    progress.reset("disk")
    assert progress.passed("disk") == [] and progress.passed("circles") == ["linear_fails"]
    assert [p.name for p in learn_home.iterdir()] == ["progress.json"]  # no temp files left
