"""The message catalogs: one per language, the same keys and placeholders in each."""

from __future__ import annotations

import string

import pytest

from mlplab.i18n import DEFAULT_LANG, catalog, languages, resolve_lang, tr


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("lang", [lang for lang in languages() if lang != DEFAULT_LANG])
def test_every_catalog_has_the_same_keys_and_placeholders(lang):
    ref, other = catalog(DEFAULT_LANG), catalog(lang)
    assert sorted(set(ref) - set(other)) == [], f"{lang} lacks these"
    assert sorted(set(other) - set(ref)) == [], f"{lang} has keys English lacks"
    wrong = [k for k in ref if _fields(ref[k]) != _fields(other[k])]
    assert wrong == [], f"{lang} formats these with other placeholders"


def test_chinese_is_a_language_and_the_locale_chooses_it(monkeypatch):
    assert {"en", "zh"} <= set(languages())
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    assert resolve_lang(None) == "en"
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert resolve_lang(None) == "zh"
    assert tr("report.metrics") == "指标"
    assert resolve_lang("en") == "en" and tr("report.metrics", "en") == "Metrics"
