"""Message catalogs for what people read: the report, the diagnosis and the playground.

One JSON file per language (``en.json``, ``zh.json``), flat keys grouped by prefix
(``report.*``, ``diagnosis.*``, ``playground.*``); adding a language is adding a file.
Error messages stay in English and are not here.

Example
-------
>>> tr("report.title", "en") != tr("report.title", "zh")
True
>>> resolve_lang("zh_CN.UTF-8")
'zh'
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
DEFAULT_LANG = "en"


def languages() -> list[str]:
    """The languages that have a catalog, e.g. ``['en', 'zh']`` (``learn.en.json`` and the like
    are a feature's own catalogs, not languages)."""
    return sorted(p.stem for p in HERE.glob("*.json") if "." not in p.stem)


@cache
def catalog(lang: str) -> dict[str, str]:
    """The whole catalog of ``lang`` (key -> message)."""
    data: dict[str, str] = json.loads((HERE / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def resolve_lang(lang: str | None = None) -> str:
    """``lang`` if given (``zh``, ``zh-CN``, ``zh_CN.UTF-8`` all mean ``zh``), else the locale
    from ``LC_ALL`` / ``LC_MESSAGES`` / ``LANG``, else English."""
    for value in (lang, os.environ.get("LC_ALL"), os.environ.get("LC_MESSAGES"),
                  os.environ.get("LANG")):
        if value:
            code = value.replace("-", "_").split("_")[0].split(".")[0].lower()
            if code in languages():
                return code
            if lang is not None and value is lang:
                break
    return DEFAULT_LANG


def tr(key: str, lang: str | None = None, **fmt: Any) -> str:
    """The message ``key`` in ``lang`` (English where that catalog lacks it), formatted with
    ``fmt`` by :meth:`str.format`."""
    text = catalog(resolve_lang(lang)).get(key) or catalog(DEFAULT_LANG)[key]
    return text.format(**fmt) if fmt else text


__all__ = ["DEFAULT_LANG", "catalog", "languages", "resolve_lang", "tr"]
