"""A playground that is safe to share: the access token, the caps, 30 sessions at once.

Everything runs against a real ``mlplab serve`` process on loopback (tests/web/conftest.py).
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("websockets")
import websockets
from fastapi.testclient import TestClient

from mlplab.web import Limits, create_app
from mlplab.web.access import needs_token
from mlplab.web.channels import Turns

TOKEN = "class-2026-secret-token"


def http(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


async def ws_status(url: str, **kw: object) -> int:
    """The HTTP status of a WebSocket handshake (101 when it opens)."""
    try:
        async with websockets.connect(url, **kw) as ws:
            await ws.recv()
            return 101
    except websockets.InvalidStatus as e:
        return int(e.response.status_code)


def test_non_loopback_hosts_need_a_token():
    assert [needs_token(h) for h in ("127.0.0.1", "::1", "localhost", "127.5.0.1")] == \
        [False] * 4
    assert all(needs_token(h) for h in ("0.0.0.0", "::", "192.168.1.20", "my-laptop.lan"))


def test_serve_refuses_a_short_token(capsys):
    from mlplab.cli.main import main

    assert main(["serve", "--token", "abc"]) == 2
    assert "error: bad --token" in capsys.readouterr().err


def test_every_request_without_the_token_gets_403(server_factory):
    with server_factory("--token", TOKEN) as (url, proc):
        ws_url = url.replace("http", "ws") + "ws"
        for path in ("", "api/schema", "static/app.js", "api/status", "api/i18n/zh",
                     "api/sessions/x/export/script"):
            for headers in ({}, {"Authorization": "token wrong"},
                            {"Cookie": "mlplab_token=wrong"}, {"Cookie": "\x7f;;=="}):
                status, _, body = http(url + path, headers)
                assert status == 403, (path, headers)
                assert b"access token" in body
        status, _, _ = http(url + "?token=wrong")
        assert status == 403
        assert asyncio.run(ws_status(ws_url)) == 403
        assert asyncio.run(ws_status(ws_url + "?token=nope")) == 403
        assert asyncio.run(ws_status(
            ws_url, additional_headers={"Cookie": "mlplab_token=nope"})) == 403

        # the URL `mlplab serve` prints: the page, then a cookie for everything else
        status, headers, page = http(url + f"?token={TOKEN}&lang=zh")
        assert status == 200 and b'<html lang="zh-CN">' in page
        cookie = headers["set-cookie"].split(";")[0]
        assert cookie == f"mlplab_token={TOKEN}" and "HttpOnly" in headers["set-cookie"]
        assert http(url + "static/app.js", {"Cookie": cookie})[0] == 200
        assert http(url + "api/schema", {"Authorization": f"token {TOKEN}"})[0] == 200
        assert asyncio.run(ws_status(ws_url, additional_headers={"Cookie": cookie})) == 101
        assert asyncio.run(ws_status(ws_url + f"?token={TOKEN}")) == 101
        assert proc.poll() is None


def test_a_wildcard_host_without_token_gets_one_printed(tmp_path):
    """`serve --host 0.0.0.0` must print a URL with a fresh token (checked without binding
    0.0.0.0: the decision and the URL come from the same functions serve uses)."""
    from mlplab.web.access import new_token, page_url

    token = new_token()
    url = page_url("0.0.0.0", 8000, token)
    assert url == f"http://127.0.0.1:8000/?token={token}" and token != new_token()


def test_per_client_cap_says_server_busy():
    with TestClient(create_app(Limits(max_sessions=10, max_per_client=2))) as client:
        with client.websocket_connect("/ws") as a, client.websocket_connect("/ws") as b:
            assert a.receive_json()["type"] == b.receive_json()["type"] == "hello"
            with client.websocket_connect("/ws") as c:
                msg = c.receive_json()
                assert msg["type"] == "error" and msg["fatal"] and msg["busy"]
                assert msg["message"].startswith("server busy: too many sessions from your")
        assert client.get("/api/status").json()["sessions"] <= 2


def test_a_session_waiting_for_a_compute_slot_is_told_so():
    turns, told, done = Turns(1), [], threading.Event()
    turns.acquire()

    def waiter() -> None:
        turns.acquire(told.append)
        turns.release()
        done.set()

    t = threading.Thread(target=waiter)
    t.start()
    for _ in range(200):  # the waiter reports itself first in line, then waits on
        if told:
            break
        threading.Event().wait(0.05)
    assert told == [1] and not done.is_set()
    turns.release()
    t.join(10)
    assert done.is_set() and told == [1, 0]


# --- 30 sessions at once: good and malformed clients ----------------------------------------


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def good_client(ws_url: str, i: int) -> None:
    """Configure a setup of its own, train, and check that every message is about it."""
    n, hidden = 100 + 20 * i, [1 + i % 6]
    async with websockets.connect(ws_url, max_size=2**24) as ws:
        assert json.loads(await ws.recv())["type"] == "hello"
        cfg = {"seed": i, "data": {"source": "moons", "n_samples": n, "test_size": 0.5},
               "model": {"hidden": hidden}, "train": {"batch_size": 25}}
        await ws.send(json.dumps({"type": "config", "config": cfg}))
        epochs = []
        while True:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 120))
            assert msg["type"] not in ("error",), msg
            if msg["type"] == "data":
                assert msg["layers"] == [2, *hidden, 1] and msg["config"]["seed"] == i
                assert len(msg["points"]["train"]) + len(msg["points"]["test"]) == n
                await ws.send(json.dumps({"type": "play"}))
            elif msg["type"] == "frame":
                assert len(msg["weights"][0]) == hidden[0]  # this session's own model
                epochs.append(msg["epoch"])
                if msg["epoch"] >= 5:
                    break
        assert epochs == sorted(epochs)


async def bad_client(ws_url: str, i: int) -> None:
    """Malformed, hostile or rude: each must get an error (or nothing) and harm no one."""
    kind = i % 5
    async with websockets.connect(ws_url, max_size=2**24) as ws:
        await ws.recv()  # hello
        if kind == 0:
            for bad in ["not json", "[]", '{"type": 7}', '{"type": "play", "x": 1}',
                        '{"type": "config", "config": {"model": {"hidden": [9999]}}}',
                        '{"type": "config", "config": {"data": {"source": "/etc/passwd"}}}']:
                await ws.send(bad)
                assert json.loads(await ws.recv())["type"] == "error"
        elif kind == 1:
            await ws.send(b"\x00\xff" * 100)  # binary garbage
            assert json.loads(await ws.recv())["type"] == "error"
        elif kind == 2:
            await ws.send("x" * 100_000)  # over the message cap
            assert json.loads(await ws.recv())["type"] == "error"
        elif kind == 3:  # configure, play, and vanish without a close frame
            await ws.send(json.dumps({"type": "config", "config": {
                "data": {"n_samples": 300}, "train": {"batch_size": 1}}}))
            await ws.send(json.dumps({"type": "play"}))
            await asyncio.sleep(0.5)
            ws.transport.abort()
            return
        else:  # flood the command queue
            for _ in range(200):
                await ws.send('{"type": "step"}')


async def crowd(ws_url: str) -> None:
    await asyncio.gather(*(good_client(ws_url, i) for i in range(20)),
                         *(bad_client(ws_url, i) for i in range(10)))


def sessions_open(url: str) -> int:
    status, _, body = http(url + "api/status", {"Authorization": f"token {TOKEN}"})
    assert status == 200
    return int(json.loads(body)["sessions"])


def wait_idle(url: str) -> None:
    for _ in range(300):
        if sessions_open(url) == 0:
            return
        threading.Event().wait(0.1)
    raise AssertionError("sessions were not closed")


@pytest.mark.slow
def test_thirty_sessions_at_once_no_cross_talk_no_crash_memory_back(server_factory):
    with server_factory("--token", TOKEN, "--max-sessions", "40", "--max-per-client",
                        "40") as (url, proc):
        ws_url = url.replace("http", "ws") + f"ws?token={TOKEN}"
        asyncio.run(crowd(ws_url))  # warm-up round: imports, allocator pools, caches
        wait_idle(url)
        baseline = rss_kb(proc.pid)
        for _ in range(2):
            asyncio.run(crowd(ws_url))
            wait_idle(url)
        after = rss_kb(proc.pid)
        assert proc.poll() is None
        assert http(url + "api/schema", {"Authorization": f"token {TOKEN}"})[0] == 200
        # two more rounds of 30 sessions left no memory behind (10% slack for the allocator)
        print(f"server RSS after warm-up {baseline} kB, after two more rounds {after} kB")
        assert after <= baseline * 1.10, (baseline, after)
