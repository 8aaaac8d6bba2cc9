"""The pipes between the page and a session: message checks, the outbox, fair CPU turns.

Example
-------
>>> parse_message('{"type": "set_lr", "lr": 0.1}', Limits())
{'type': 'set_lr', 'lr': 0.1}
>>> parse_message('{"type": "rm -rf"}', Limits())  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
mlplab.errors.ConfigError: unknown message type 'rm -rf': expected one of config, play, ...
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from mlplab.errors import ConfigError
from mlplab.web.limits import LimitError, Limits

# message type -> {field: accepted types}; every field is required except those in OPTIONAL
MESSAGES: dict[str, dict[str, tuple[type, ...]]] = {
    "config": {"config": (dict,), "upload": (str, type(None)), "draw": (list, type(None))},
    "play": {}, "pause": {}, "step": {}, "reset": {}, "regenerate": {},
    "set_lr": {"lr": (int, float)},
    "units": {"on": (bool,)},
}
OPTIONAL = {"upload", "draw"}
BUSY_AFTER = 0.5  # seconds a session waits for a compute slot before the page is told

def parse_message(text: str | bytes, limits: Limits) -> dict[str, Any]:
    """Decode and check one WebSocket message; raise ConfigError when it is not acceptable."""
    if len(text) > limits.max_message_bytes:
        raise LimitError("message too large", expected=f"<= {limits.max_message_bytes} bytes",
                         found=f"{len(text)} bytes")
    try:
        msg = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ConfigError("message is not valid JSON") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise ConfigError("message must be a JSON object with a string 'type'")
    kind = msg["type"]
    fields = MESSAGES.get(kind)
    if fields is None:
        raise ConfigError(f"unknown message type '{kind[:40]}'",
                          expected="one of " + ", ".join(MESSAGES))
    for key in msg:
        if key != "type" and key not in fields:
            raise ConfigError(f"unexpected field '{str(key)[:40]}' in a '{kind}' message")
    for key, types in fields.items():
        if key not in msg and key in OPTIONAL:
            continue
        v = msg.get(key)
        if key not in msg or not isinstance(v, types) or (isinstance(v, bool) and
                                                          bool not in types):
            raise ConfigError(f"bad field '{key}' in a '{kind}' message",
                              expected=" or ".join(t.__name__ for t in types),
                              found=type(v).__name__)
    if kind == "set_lr" and not 0 < msg["lr"] <= 100:
        raise ConfigError("bad learning rate", expected="0 < lr <= 100", found=str(msg["lr"]))
    if kind == "config" and msg.get("draw") is not None and (
            len(msg["draw"]) > 2 or not all(isinstance(n, str) for n in msg["draw"])):
        raise ConfigError("bad 'draw'", expected="a list of up to two column names")
    return msg


class Turns:
    """At most ``k`` sessions compute at once; the others wait their turn in FIFO order.

    Python runs one thread at a time anyway (the GIL): with 20 sessions all training, free-for-
    all threads starve the event loop and each other. Short fair turns keep every session's
    frames coming at a steady rate and the server responsive.
    """

    def __init__(self, k: int) -> None:
        self.k, self.running = max(1, k), 0
        self.cv = threading.Condition()
        self.queue: deque[object] = deque()

    def acquire(self, busy: Callable[[int], None] | None = None) -> None:
        """Wait for a slot; after :data:`BUSY_AFTER` seconds of waiting call ``busy(ahead)``
        (sessions ahead in the queue), and ``busy(0)`` once the slot is ours."""
        me = object()
        told = False
        with self.cv:
            self.queue.append(me)
            while self.queue[0] is not me or self.running >= self.k:
                if not self.cv.wait(BUSY_AFTER) and busy is not None and not told:
                    told = True
                    busy(1 + self.queue.index(me))
            self.queue.popleft()
            self.running += 1
            self.cv.notify_all()
        if told and busy is not None:
            busy(0)

    def release(self) -> None:
        with self.cv:
            self.running -= 1
            self.cv.notify_all()

    def pass_turn(self, busy: Callable[[int], None] | None = None) -> None:
        """Let waiting sessions go first (no-op when nobody waits)."""
        if self.queue:
            self.release()
            self.acquire(busy)


class Outbox:
    """Thread -> event loop mailbox: every message kept, but only the newest frame.

    A slow browser therefore never makes frames pile up in memory; it just sees fewer.
    """

    def __init__(self, loop: Any) -> None:
        import asyncio

        self.loop = loop
        self.event = asyncio.Event()
        self.lock = threading.Lock()
        self.msgs: deque[dict[str, Any]] = deque(maxlen=256)
        self.frame: dict[str, Any] | None = None

    def put(self, msg: dict[str, Any]) -> None:
        with self.lock:
            if msg.get("type") == "frame":
                self.frame = msg
            else:
                if self.frame is not None:  # keep order: the frame before this message
                    self.msgs.append(self.frame)
                    self.frame = None
                self.msgs.append(msg)
        with contextlib.suppress(RuntimeError):  # the loop is gone: the socket closed
            self.loop.call_soon_threadsafe(self.event.set)

    def ready(self) -> bool:
        """True when no frame is waiting to be sent (so a new one is worth computing)."""
        return self.frame is None

    async def get(self) -> list[dict[str, Any]]:
        await self.event.wait()
        self.event.clear()
        with self.lock:
            out = list(self.msgs)
            self.msgs.clear()
            if self.frame is not None:
                out.append(self.frame)
                self.frame = None
        return out
