"""The live sessions of one server: a cap in total, a cap per client, one queue for the CPU.

Example
-------
>>> m = SessionManager(Limits(max_sessions=4, max_per_client=1))
>>> s = m.open(lambda msg: None, client="10.0.0.7")
>>> m.open(lambda msg: None, client="10.0.0.7")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
mlplab.web.limits.LimitError: server busy: too many sessions from your address: ...
>>> m.status()["sessions"]
1
>>> m.close_all()
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from mlplab.web.channels import Turns
from mlplab.web.limits import LimitError, Limits
from mlplab.web.sessions import Send, Session


class SessionManager:
    """The live sessions, capped at ``limits.max_sessions`` in total and
    ``limits.max_per_client`` per client address; ids are unguessable tokens."""

    def __init__(self, limits: Limits, uploads: Any = None) -> None:
        self.limits, self.uploads = limits, uploads
        self.sessions: dict[str, Session] = {}
        self.clients: dict[str, str] = {}  # session id -> client address
        self.lock = threading.Lock()
        self.turns = Turns(limits.compute_slots)

    def open(self, send: Send, ready: Callable[[], bool] | None = None,
             client: str = "") -> Session:
        """A new session for ``client``; LimitError ("server busy: ...") past either cap."""
        lim = self.limits
        with self.lock:
            if len(self.sessions) >= lim.max_sessions:
                raise LimitError("server busy: all playground sessions are taken",
                                 expected=f"at most {lim.max_sessions} at once",
                                 hint="try again in a minute, or close another tab")
            if Counter(self.clients.values())[client] >= lim.max_per_client:
                raise LimitError("server busy: too many sessions from your address",
                                 expected=f"at most {lim.max_per_client} at once",
                                 hint="close another playground tab")
            sid = secrets.token_urlsafe(16)
            s = Session(sid, lim, send, self.uploads, ready, self.turns)
            self.sessions[sid], self.clients[sid] = s, client
        s.start()
        return s

    def get(self, sid: str) -> Session | None:
        return self.sessions.get(sid)

    def close(self, sid: str) -> None:
        with self.lock:
            s = self.sessions.pop(sid, None)
            self.clients.pop(sid, None)
        if s is not None:
            s.close()

    def close_all(self) -> None:
        for sid in list(self.sessions):
            self.close(sid)

    def status(self) -> dict[str, Any]:
        """How full the server is: sessions, the caps, and sessions waiting for the CPU."""
        return {"sessions": len(self.sessions), "max_sessions": self.limits.max_sessions,
                "compute_slots": self.turns.k, "waiting": len(self.turns.queue)}
