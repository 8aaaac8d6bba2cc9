"""Read-only lesson routes for the playground's lesson panel (``static/lesson.js``).

- ``GET /api/lessons``: the lessons that have playground steps.
- ``GET /api/lessons/{name}?lang=zh``: one lesson's playground steps (task, hint and the
  conditions on the live run that meet them) and the panel's texts, in one language.

Example
-------
>>> from fastapi import FastAPI
>>> from fastapi.testclient import TestClient
>>> app = FastAPI(); app.include_router(router)
>>> body = TestClient(app).get("/api/lessons/circles?lang=en").json()
>>> [s["id"] for s in body["steps"]], body["steps"][1]["when"]["activation"]
(['linear', 'relu'], 'relu')
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from mlplab.i18n import resolve_lang
from mlplab.learn.lessons import LESSONS
from mlplab.learn.texts import t, texts

router = APIRouter()


@router.get("/api/lessons")
async def playground_lessons(lang: str = "en") -> dict[str, Any]:
    code = resolve_lang(lang[:16])
    return {"lessons": [{"id": s.id, "title": t(s.title_key, code)}
                        for s in LESSONS.values() if s.play]}


@router.get("/api/lessons/{name}")
async def playground_lesson(name: str, lang: str = "en") -> Any:
    spec = LESSONS.get(name)
    if spec is None or not spec.play:
        known = ", ".join(s.id for s in LESSONS.values() if s.play)
        return JSONResponse({"error": f"no playground lesson '{name[:40]}': expected one of "
                                      f"{known}"}, status_code=404)
    code = resolve_lang(lang[:16])
    ui = {k[len("learn.play."):]: v for k, v in texts(code).items()
          if k.startswith("learn.play.") and k.count(".") == 2}
    return {"id": spec.id, "lang": code, "title": t(spec.title_key, code),
            "intro": t(spec.intro_key, code), "texts": ui,
            "steps": [{"id": p.id, "task": t(p.task_key, code), "hint": t(p.hint_key, code),
                       "when": p.when} for p in spec.play]}


__all__ = ["router"]
