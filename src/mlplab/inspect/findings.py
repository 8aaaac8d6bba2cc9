"""What a diagnosis is made of: :class:`Finding` (an observation with its level, evidence and
suggestion) and :class:`Action` (a suggested change on a topic, with a direction), their texts
from the i18n catalogs (``diagnosis.*``) in the language :func:`~mlplab.inspect.diagnosis.diagnose`
was asked for.

Example
-------
>>> Finding("overfitting", "warning", "Overfitting", "1.0 on train, 0.7 on test").text()
'[warning] Overfitting: 1.0 on train, 0.7 on test'
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from typing import Any

from mlplab.i18n import tr
from mlplab.inspect.evidence import Evidence


@dataclass(frozen=True)
class Action:
    """A suggested change: ``topic`` and ``direction`` decide conflicts; ``key`` names the
    text (``diagnosis.do.<key>``)."""

    key: str
    topic: str
    direction: int = 0
    fmt: dict[str, Any] = field(default_factory=dict)


@dataclass
class Finding:
    """One observation: ``level`` is problem | warning | info | ok."""

    code: str
    level: str
    title: str
    detail: str
    suggestion: str = ""
    actions: list[Action] = field(default_factory=list, repr=False)
    lang: str | None = field(default=None, repr=False, compare=False)  # of the texts

    def to_dict(self) -> dict[str, str]:
        d = asdict(self)
        d.pop("actions")
        d.pop("lang")
        return d

    def text(self) -> str:
        """One paragraph: title, evidence and suggestion, in the language of the texts."""
        s = tr("diagnosis.line", self.lang, level=tr(f"report.level.{self.level}", self.lang),
               title=self.title, detail=self.detail)
        return s + (tr("diagnosis.line_try", self.lang, suggestion=self.suggestion)
                    if self.suggestion else "")


Check = Callable[[Evidence], "Finding | None"]
LANG: ContextVar[str | None] = ContextVar("diagnosis_lang", default=None)


def say(key: str, **fmt: Any) -> str:
    """The catalog text in the language :func:`~mlplab.inspect.diagnosis.diagnose` was asked
    for."""
    return tr(key, LANG.get(), **fmt)


def finding(code: str, level: str, detail: str, actions: list[Action] | None = None,
             **fmt: Any) -> Finding:
    """A finding titled from the catalog; its detail is ``detail`` or the catalog's. A
    ``metric`` (accuracy, r2) and a ``split`` are named in the diagnosis's language."""
    if isinstance(fmt.get("metric"), str):
        fmt["metric"] = say(f"report.metric.{fmt['metric']}")
    if fmt.get("split") in ("train", "val", "test"):
        fmt["split"] = say(f"report.split.{fmt['split']}")
    return Finding(code, level, say(f"diagnosis.{code}.title"),
                   detail or say(f"diagnosis.{code}.detail", **fmt),
                   actions=actions or [], lang=LANG.get())


__all__ = ["LANG", "Action", "Check", "Finding", "finding", "say"]
