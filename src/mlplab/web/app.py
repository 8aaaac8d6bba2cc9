"""The playground's FastAPI app: the page, a small REST API and the training WebSocket.

Thin on purpose: it parses, hands work to :mod:`mlplab.web.sessions` / ``uploads`` /
``codegen`` and formats. Routes:

- ``GET /``: the page (``?lang=zh``: in Chinese); ``/static/*``: its JS and CSS (no CDN).
- ``GET /api/schema``: RunConfig's JSON schema, the registry's choices, defaults and limits.
- ``GET /api/i18n/{lang}``: the page's texts in one language; ``GET /api/status``: how busy.
- ``POST /api/validate``: check a config exactly as a session would.
- ``POST /api/uploads``: a CSV (multipart field ``file``) -> id and column summary.
- ``GET /api/sessions/{id}/export/{script|yaml|cli|zip}``: what reproduces the session's run.
- ``WS /ws``: one training session per socket; closed socket = cancelled session.

Example
-------
>>> from fastapi.testclient import TestClient
>>> TestClient(create_app()).get("/api/schema").json()["limits"]["max_layers"]
6
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, UploadFile, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from mlplab.errors import ConfigError, MlplabError
from mlplab.i18n import catalog, languages, resolve_lang
from mlplab.web import codegen, lessons
from mlplab.web.access import TokenGate
from mlplab.web.channels import Outbox, parse_message
from mlplab.web.limits import LimitError, Limits, playground_config, schema
from mlplab.web.manager import SessionManager
from mlplab.web.sessions import Session
from mlplab.web.uploads import UploadStore

STATIC = Path(__file__).parent / "static"
EXPORT_TIMEOUT = 60.0


def _error(e: Exception, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": str(e)}, status_code=413 if isinstance(e, LimitError)
                        and status == 400 else status)


def page_texts(lang: str) -> dict[str, str]:
    """The page's texts (catalog keys ``playground.*``) in ``lang``, English where missing.

    >>> page_texts("zh")["playground.play"] != page_texts("en")["playground.play"]
    True
    """
    code = resolve_lang(lang)
    en, own = catalog("en"), catalog(code)
    return {k: own.get(k) or v for k, v in en.items() if k.startswith("playground.")}


HTML_LANG = {"zh": "zh-CN"}  # catalog code -> the page's <html lang>


def cjk_font_path() -> Path | None:
    """Noto Sans CJK from the ``noto-cjk`` package, for pages in Chinese on machines without
    a CJK font (the page asks for it only when no local font has the glyphs).

    >>> path = cjk_font_path()
    >>> path is None or path.is_file()
    True
    """
    try:
        import noto_cjk
    except ImportError:
        return None
    try:
        return Path(noto_cjk.otc_path("sans"))
    except noto_cjk.FontNotInstalled:  # the catalog without the font package
        return None


def create_app(limits: Limits | None = None, token: str | None = None) -> FastAPI:
    """Build the app; ``limits`` caps sizes, epochs, uploads and sessions (in total and per
    client); with ``token`` every request must carry it (:mod:`mlplab.web.access`)."""
    lim = limits or Limits()
    if lim.torch_threads:
        import torch

        torch.set_num_threads(lim.torch_threads)  # process-wide: this process serves pages
    _warm_up()
    uploads = UploadStore(lim)
    manager = SessionManager(lim, uploads)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        yield
        manager.close_all()

    app = FastAPI(title="mlplab playground", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.manager, app.state.uploads, app.state.limits = manager, uploads, lim
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(lessons.router)  # the playground's lesson panel
    if token is not None:
        app.add_middleware(TokenGate, token=token)
    page = (STATIC / "index.html").read_text(encoding="utf-8")

    @app.get("/", include_in_schema=False)
    async def index(lang: str = "en") -> Response:
        code = resolve_lang(lang[:16])
        html = page.replace('<html lang="en">', f'<html lang="{HTML_LANG.get(code, code)}">', 1)
        return Response(html, media_type="text/html", headers={"Cache-Control": "no-cache"})

    @app.get("/api/i18n/{lang}")
    async def texts(lang: str) -> dict[str, Any]:
        code = resolve_lang(lang[:16])
        return {"lang": code, "html_lang": HTML_LANG.get(code, code),
                "languages": languages(), "texts": page_texts(code)}

    @app.get("/api/fonts/cjk", include_in_schema=False)
    async def cjk_font() -> Response:
        path = cjk_font_path()
        if path is None:
            return Response(status_code=404)
        return FileResponse(path, media_type="font/collection",
                            headers={"Cache-Control": "max-age=86400"})

    @app.get("/api/status")
    async def status() -> dict[str, Any]:
        return manager.status()

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/api/schema")
    async def get_schema() -> dict[str, Any]:
        return schema(lim)

    @app.post("/api/validate")
    async def validate(request: Request) -> JSONResponse:
        try:
            body = await _json_body(request, lim)
            name = None
            if body.get("upload") is not None:
                name = uploads.get(str(body["upload"])).filename
            cfg = playground_config(body.get("config", {}), lim, upload_name=name)
        except MlplabError as e:
            return _error(e)
        return JSONResponse({"config": cfg.to_dict()})

    @app.post("/api/uploads")
    async def upload(file: UploadFile) -> JSONResponse:
        data = await file.read(lim.max_upload_bytes + 1)  # never more than the cap + 1
        try:
            up = await asyncio.to_thread(uploads.add, data, file.filename)
        except MlplabError as e:
            return _error(e)
        return JSONResponse(up.summary())

    @app.get("/api/sessions/{sid}/export/{kind}")
    async def export(sid: str, kind: str) -> Response:
        session = manager.get(sid)
        if session is None:
            return JSONResponse({"error": "unknown session"}, status_code=404)
        if kind not in EXPORTS:
            return JSONResponse({"error": f"unknown export '{kind[:40]}'", "expected":
                                 list(EXPORTS)}, status_code=404)
        try:
            fut = session.call(EXPORTS[kind])
            body, media, fname = await asyncio.wait_for(asyncio.wrap_future(fut),
                                                        EXPORT_TIMEOUT)
        except MlplabError as e:
            return _error(e)
        except TimeoutError:
            return JSONResponse({"error": "export timed out"}, status_code=503)
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", fname)  # the run name is the user's text
        headers = {"Content-Disposition": f'attachment; filename="{safe}"'}
        return Response(body, media_type=media, headers=headers)

    @app.websocket("/ws")
    async def ws(socket: WebSocket) -> None:
        await socket.accept()
        outbox = Outbox(asyncio.get_running_loop())
        client = socket.client.host if socket.client else ""
        try:
            session = manager.open(outbox.put, outbox.ready, client=client)
        except LimitError as e:
            await socket.send_json({"type": "error", "message": str(e), "fatal": True,
                                    "busy": True})
            await socket.close(code=1013)
            return
        await socket.send_json({"type": "hello", "session": session.sid,
                                "limits": lim.to_dict()})
        sender = asyncio.create_task(_pump(socket, outbox))
        try:
            await _receive(socket, session, outbox, lim)
        finally:
            sender.cancel()
            manager.close(session.sid)

    return app


def _warm_up() -> None:
    """Import what the first optimizer pulls in (torch._dynamo: seconds) before any page."""
    import torch

    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


async def _json_body(request: Request, lim: Limits) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > lim.max_message_bytes:
        raise LimitError("request too large", expected=f"<= {lim.max_message_bytes} bytes")
    try:
        body = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ConfigError("request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ConfigError("request body must be a JSON object")
    return body


async def _receive(socket: WebSocket, session: Session, outbox: Outbox, lim: Limits) -> None:
    """Read messages until the socket closes; bad ones get an error reply, nothing else."""
    while True:
        try:
            msg = await socket.receive()
        except (WebSocketDisconnect, RuntimeError):
            return
        if msg["type"] == "websocket.disconnect":
            return
        text: str | bytes = msg.get("text") or msg.get("bytes") or b""
        try:
            session.submit(parse_message(text, lim))
        except MlplabError as e:
            outbox.put({"type": "error", "message": str(e)})


async def _pump(socket: WebSocket, outbox: Outbox) -> None:
    """Send what the session's thread produced, newest frame last."""
    with contextlib.suppress(Exception):
        while True:
            for msg in await outbox.get():
                await socket.send_json(msg)


# --- exports (run on the session's thread, between two training segments) -------------------


def _need_run(s: Session) -> tuple[Any, Any]:
    if s.cfg is None or s.prepared is None:
        raise ConfigError("nothing to export yet", hint="configure the session first")
    # what trained: the defaults resolved for this data (e.g. weight decay per step)
    cfg = codegen.exported_config(s.resolved(), s.state.epoch if s.state else 0, s.lr_log)
    return cfg, s.prepared


def _export_script(s: Session) -> tuple[bytes, str, str]:
    cfg, p = _need_run(s)
    assert s.cfg is not None
    text = codegen.script(cfg, p, s.lr_log, total_epochs=s.cfg.train.epochs)
    return text.encode(), "text/x-python", f"{cfg.name}.py"


def _export_yaml(s: Session) -> tuple[bytes, str, str]:
    cfg, _ = _need_run(s)
    return codegen.yaml_text(cfg, s.lr_log).encode(), "application/yaml", f"{cfg.name}.yaml"


def _export_cli(s: Session) -> tuple[bytes, str, str]:
    cfg, _ = _need_run(s)
    text = codegen.cli_command(cfg) + "\n"
    later = s.lr_log[1:]
    if later:  # a command line cannot change the rate mid-run: say so rather than drop it
        text = ("# the page changed the learning rate during the run (" + ", ".join(
            f"epoch {e} -> {lr:g}" for e, lr in later) + "); this command trains with the "
            "starting rate only. The PyTorch script export reproduces the changes.\n" + text)
    return text.encode(), "text/plain", f"{cfg.name}.sh"


def _export_zip(s: Session) -> tuple[bytes, str, str]:
    from mlplab.runs.finish import finish_run

    cfg, p = _need_run(s)
    if s.state is None or s.state.epoch == 0:
        raise ConfigError("the model is not trained yet", hint="press play or step first")
    run = finish_run(cfg, s.model, p, s.tensors, s.state)
    return codegen.run_zip(run), "application/zip", f"{cfg.name}.zip"


EXPORTS = {"script": _export_script, "yaml": _export_yaml, "cli": _export_cli,
           "zip": _export_zip}
