"""The playground's WebSocket as the web tests drive it: ``connect()`` opens a socket on the
module's ``client`` (FastAPI's TestClient) and waits for the messages a test expects."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest

Msg = dict[str, Any]


class Page:
    """One playground WebSocket; anything else (``send_json``, ``receive_json``, ...) goes to
    the socket itself."""

    def __init__(self, ws: Any, fail_on_error: bool) -> None:
        self.ws, self.fail_on_error = ws, fail_on_error
        self.session: str | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ws, name)

    def until(self, pred: Callable[[Msg], bool], limit: int = 5000) -> Msg:
        """Receive messages until ``pred(msg)``; fail after ``limit`` messages (and at any
        ``error`` message when opened with ``fail_on_error``)."""
        for _ in range(limit):
            msg = self.ws.receive_json()
            assert not (self.fail_on_error and msg["type"] == "error"), msg
            if pred(msg):
                return msg  # type: ignore[no-any-return]
        raise AssertionError("expected message never came")

    def frame_at(self, pred: Callable[[Msg], bool] = lambda m: True) -> Msg:
        return self.until(lambda m: m["type"] == "frame" and pred(m))

    def hello(self) -> str:
        """The server's first message; returns (and keeps) the session id."""
        msg = self.ws.receive_json()
        assert msg["type"] == "hello" and len(msg["session"]) >= 16, msg
        self.session = msg["session"]
        return self.session

    def configure(self, config: Msg, **extra: Any) -> Msg:
        """Hello, then a valid setup: returns the ``data`` message."""
        self.hello()
        self.ws.send_json({"type": "config", "config": config, **extra})
        data = self.until(lambda m: m["type"] in ("data", "error"))
        assert data["type"] == "data", data
        return data


@contextmanager
def _open_page(client: Any, *, fail_on_error: bool = False) -> Iterator[Page]:
    with client.websocket_connect("/ws") as ws:
        yield Page(ws, fail_on_error)


@pytest.fixture(scope="session")
def open_page() -> Callable[..., AbstractContextManager[Page]]:
    """``with open_page(client) as ws:`` a :class:`Page` on ``/ws`` of any TestClient (for
    module-scoped fixtures)."""
    return _open_page


@pytest.fixture
def connect(client: Any) -> Callable[..., AbstractContextManager[Page]]:
    """``with connect() as ws:`` a :class:`Page` on ``/ws`` of the module's ``client``."""
    return functools.partial(_open_page, client)
