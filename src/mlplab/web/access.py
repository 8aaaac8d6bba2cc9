"""Who may use the playground: the access token (as Jupyter does it) for non-loopback servers.

A server bound to anything but loopback must have a token. The first visit carries it in the
URL (``/?token=...``, printed by ``mlplab serve``); the server answers with a cookie, so the
page's own requests (API calls, the WebSocket, downloads) carry it from then on. Scripts may
send it as ``Authorization: token ...`` instead. Every HTTP request and WebSocket handshake
without it is refused with 403 before it reaches the app.

Example
-------
>>> needs_token("127.0.0.1"), needs_token("localhost"), needs_token("0.0.0.0")
(False, False, True)
>>> len(new_token()) >= 32
True
>>> page_url("0.0.0.0", 8000, "abc")
'http://127.0.0.1:8000/?token=abc'
"""

from __future__ import annotations

import ipaddress
import json
import secrets
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlencode

COOKIE = "mlplab_token"
Scope = dict[str, Any]


def needs_token(host: str) -> bool:
    """True unless ``host`` is a loopback name or address (only this machine can connect)."""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return True  # a host name: it may resolve to a public interface


def new_token() -> str:
    """A fresh random access token (URL-safe, 192 bits)."""
    return secrets.token_urlsafe(24)


def page_url(host: str, port: int, token: str | None) -> str:
    """The URL to open: a wildcard address is reached on loopback; the token in the query."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"  # an IPv6 address
    return f"http://{shown}:{port}/" + (f"?{urlencode({'token': token})}" if token else "")


def _given(scope: Scope) -> tuple[str | None, bool]:
    """(the token the request carries, whether it came in the query string)."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("token"):
        return query["token"][0], True
    headers = {k.decode("latin-1").lower(): v.decode("latin-1")
               for k, v in scope.get("headers", [])}
    auth = headers.get("authorization", "")
    for prefix in ("token ", "bearer "):
        if auth.lower().startswith(prefix):
            return auth[len(prefix):].strip(), False
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header is simply no token
        return None, False
    return (cookie[COOKIE].value if COOKIE in cookie else None), False


class TokenGate:
    """ASGI middleware: 403 for every HTTP request and WebSocket handshake without the token."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given, in_query = _given(scope)
        if given is None or not secrets.compare_digest(given.encode(), self.token.encode()):
            await _refuse(scope, send)
            return
        if scope["type"] == "http" and in_query:
            send = self._with_cookie(send)
        await self.app(scope, receive, send)

    def _with_cookie(self, send: Any) -> Any:
        cookie = f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode()

        async def wrapped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"set-cookie", cookie)]}
            await send(message)
        return wrapped


async def _refuse(scope: Scope, send: Any) -> None:
    body = json.dumps({"error": "this playground needs its access token",
                       "hint": "open the URL that `mlplab serve` printed (it ends in "
                               "?token=...)"}).encode()
    start = {"status": 403, "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode())]}
    if scope["type"] == "http":
        await send({"type": "http.response.start", **start})
        await send({"type": "http.response.body", "body": body})
    elif "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", **start})
        await send({"type": "websocket.http.response.body", "body": body})
    else:  # closing before the handshake is answered: the server replies 403
        await send({"type": "websocket.close", "code": 1008})
