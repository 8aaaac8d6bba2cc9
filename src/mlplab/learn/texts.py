"""The lessons' texts: the catalogs ``i18n/learn.en.json`` and ``learn.zh.json`` (keys without
their ``learn.`` prefix are accepted), read through :func:`mlplab.i18n.catalog`.

Example
-------
>>> t("ui.hint", "en"), t("ui.hint", "zh")
('Hint', '提示')
"""

from __future__ import annotations

from functools import cache
from typing import Any

from mlplab.i18n import DEFAULT_LANG, catalog, resolve_lang

PREFIX = "learn."


def texts(lang: str | None = None) -> dict[str, str]:
    """Every lesson text in ``lang`` (English where that catalog lacks one)."""
    return _merged(resolve_lang(lang))


@cache
def _merged(code: str) -> dict[str, str]:
    en, own = catalog(f"learn.{DEFAULT_LANG}"), catalog(f"learn.{code}")
    return {k: own.get(k) or v for k, v in en.items()}


def t(key: str, lang: str | None = None, **fmt: Any) -> str:
    """The text ``key`` (``learn.`` prefix optional) in ``lang``, formatted with ``fmt``."""
    full = key if key.startswith(PREFIX) else PREFIX + key
    text = texts(lang)[full]
    return text.format(**fmt) if fmt else text


__all__ = ["t", "texts"]
