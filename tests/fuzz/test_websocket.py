"""The playground's WebSocket messages: every message gets a reply or a structured error, and
the session keeps answering; never a crash, a 500 or a closed socket."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from mlplab.web import Limits, create_app

TYPES = ["config", "play", "pause", "step", "reset", "regenerate", "set_lr", "units"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                    st.floats(allow_nan=False), st.text(max_size=8))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8)
configs = st.fixed_dictionaries({}, optional={
    "data": st.fixed_dictionaries({}, optional={
        "source": st.sampled_from(["moons", "circles", "xor", "../x", "", "spiral"]),
        "n_samples": st.integers(-5, 6000), "noise": st.floats(-1, 5)}),
    "model": st.fixed_dictionaries({}, optional={
        "hidden": st.lists(st.integers(-2, 40), max_size=7),
        "activation": st.sampled_from(["relu", "tanh", "nope", ""])}),
    "train": st.fixed_dictionaries({}, optional={"batch_size": st.integers(-1, 100) | scalars,
                                                 "epochs": st.integers(-1, 10)})})
messages = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(TYPES)},
                          optional={"config": configs | json_values, "lr": scalars,
                                    "on": scalars, "upload": scalars}).map(json.dumps),
    st.dictionaries(st.text(max_size=6), json_values, max_size=3).map(json.dumps),
    st.text(max_size=40))


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(Limits(max_sessions=4, fps=20))) as c:
        yield c


@given(batch=st.lists(messages, min_size=1, max_size=4))
def test_any_messages_get_answers_and_the_session_lives(client, batch: list[str]) -> None:
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_json()["type"] == "hello"
        for text in batch:
            ws.send_text(text)
        ws.send_text('{"type": "sentinel"}')  # answered after everything before it
        for _ in range(5000):
            msg = ws.receive_json()
            assert isinstance(msg, dict) and isinstance(msg.get("type"), str)
            if msg["type"] == "error":
                assert isinstance(msg["message"], str) and msg["message"]
                if "'sentinel'" in msg["message"]:
                    break
        else:
            raise AssertionError("the session stopped answering")
        ws.send_text('{"type": "pause"}')


@given(path=st.text(max_size=30))
def test_http_paths_never_500(client, path: str) -> None:
    from urllib.parse import quote

    assert client.get("/" + quote(path.lstrip("/"))).status_code < 500
