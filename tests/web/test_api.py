"""The playground's REST + WebSocket API, through FastAPI's test client."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from mlplab import registry
from mlplab.config import RunConfig
from mlplab.web import Limits, create_app

SMALL = {"data": {"source": "moons", "n_samples": 200, "noise": 0.15, "test_size": 0.3},
         "model": {"hidden": [6]}, "train": {"batch_size": 20}}


@pytest.fixture
def client():
    with TestClient(create_app(Limits(max_sessions=3, fps=20))) as c:
        yield c


def train_to(ws, epoch):
    """Play until at least ``epoch``, then pause; returns the paused frame."""
    ws.send_json({"type": "play"})
    ws.frame_at(lambda m: m["epoch"] >= epoch)
    ws.send_json({"type": "pause"})
    return ws.frame_at(lambda m: not m["playing"])


def test_schema_is_runconfigs_schema_with_registry_choices(client):
    body = client.get("/api/schema").json()
    assert body["schema"] == RunConfig.model_json_schema()
    assert body["choices"]["activation"] == list(registry.ACTIVATIONS)
    assert body["choices"]["optimizer"] == list(registry.OPTIMIZERS)
    assert set(body["choices"]["datasets"]) == set(registry.DATASETS)
    assert body["limits"]["max_sessions"] == 3
    assert RunConfig.from_dict(body["defaults"]).data.source == "disk"


def test_page_and_static_files_are_served_locally(client):
    page = client.get("/").text
    assert 'id="boundary"' in page and "static/app.js" in page
    for f in ("app.js", "draw.js", "style.css"):
        assert client.get(f"/static/{f}").status_code == 200
    assert "cdn" not in page.lower() and "https://" not in page


@pytest.mark.parametrize("config, status, words", [
    ({"model": {"hidden": [4, 2]}}, 200, None),
    ({"optim": {"lrr": 0.1}}, 400, "unknown config key 'optim.lrr'"),
    ({"model": {"activation": "rellu"}}, 400, "did you mean 'relu'"),
    ({"data": {"source": "/etc/passwd"}}, 400, "unknown dataset"),
    ({"model": {"hidden": [64]}}, 413, "at most 32 neurons"),
    ({"model": {"hidden": [2] * 9}}, 413, "at most 6 hidden layers"),
    ({"data": {"n_samples": 10**6}}, 413, "data.n_samples"),
    ({"train": {"epochs": 10**6}}, 413, "train.epochs"),
])
def test_validate_uses_the_cli_schema_and_the_limits(client, config, status, words):
    r = client.post("/api/validate", json={"config": config})
    assert r.status_code == status, r.text
    if words:
        assert words in r.json()["error"]
    else:
        assert r.json()["config"]["train"]["device"] == "cpu"


def test_session_lifecycle_step_play_pause_lr_reset(client, connect):
    with connect() as ws:
        data = ws.configure(SMALL)
        sid = ws.session
        assert data["layers"] == [2, 6, 1] and data["task"] == "binary"
        assert len(data["points"]["train"]) == 140 and len(data["points"]["test"]) == 60
        f0 = ws.frame_at()
        assert f0["epoch"] == 0 and f0["grid"]["kind"] == "binary"
        assert len(f0["weights"]) == 2 and len(f0["weights"][0]) == 6
        ws.send_json({"type": "step"})
        assert ws.frame_at(lambda m: m["epoch"] > 0)["epoch"] == 1
        ws.send_json({"type": "step"})
        assert ws.frame_at(lambda m: m["epoch"] > 1)["epoch"] == 2
        paused = train_to(ws, 40)
        assert paused["epoch"] >= 40 and paused["test_loss"] < f0["test_loss"]
        ws.send_json({"type": "set_lr", "lr": 0.001})
        assert ws.frame_at(lambda m: m["lr"] == 0.001)["epoch"] == paused["epoch"]
        ws.send_json({"type": "units", "on": True})
        units = ws.frame_at(lambda m: "units" in m)["units"]
        assert len(units) == 1 and len(units[0]) == 6
        ws.send_json({"type": "reset"})
        ws.until(lambda m: m["type"] == "data")
        assert ws.frame_at()["epoch"] == 0
        assert client.app.state.manager.get(sid) is not None
    import time

    deadline = time.monotonic() + 60  # the socket closed: the session goes (a busy machine
    while client.app.state.manager.get(sid) is not None and time.monotonic() < deadline:
        time.sleep(0.02)  # took more than the 2 s this loop used to allow)
    assert client.app.state.manager.get(sid) is None, "the session outlived its socket by 60 s"


def test_hostile_messages_get_errors_and_touch_nothing(client, connect):
    with connect() as a, connect() as b:
        a.configure(SMALL)
        b.configure(SMALL)
        b.frame_at()
        for bad in ["not json", "[]", '{"type": 3}', '{"type": "exec", "cmd": "ls"}',
                    '{"type": "set_lr", "lr": "fast"}', '{"type": "set_lr", "lr": -1}',
                    '{"type": "play", "extra": 1}', "x" * 70_000,
                    '{"type": "config", "config": {"data": {"source": "../../etc/passwd"}}}',
                    '{"type": "config", "config": {"model": {"hidden": [1000]}}}',
                    '{"type": "config", "config": {}, "upload": "no-such-id"}']:
            a.send_text(bad)
            err = a.until(lambda m: m["type"] == "error")
            assert err["message"]
        a.send_json({"type": "step"})  # still alive and still configured
        assert a.frame_at(lambda m: m["epoch"] == 1)["epoch"] == 1
        b.send_json({"type": "step"})  # the other session never saw any of it
        assert b.frame_at(lambda m: m["epoch"] > 0)["epoch"] == 1


def test_session_cap_is_enforced(client, connect):
    with connect() as a, connect() as b, \
            connect() as c:
        for ws in (a, b, c):
            ws.hello()
        with connect() as d:
            msg = d.receive_json()
            assert msg["type"] == "error" and msg["fatal"] and msg["busy"]
            assert msg["message"].startswith("server busy: all playground sessions are taken")


GOOD_CSV = "x1,x2,kind\n" + "\n".join(
    f"{i % 7 - 3},{(i * 3) % 11 - 5},{'a' if (i % 7 - 3) + ((i * 3) % 11 - 5) > 0 else 'b'}"
    for i in range(120)) + "\n"


@pytest.mark.parametrize("content, status, words", [
    (b"\x00\x01binary\x00" * 10, 400, "not a text table"),
    (b"only_one_column\n1\n2\n", 400, "too small"),
    (b"", 400, "empty"),
    (b"a,b\n" + b"1,2\n" * 6000, 413, "too many rows"),
    (b"a,b\n" + b"1,2\n" * 700_000, 413, "file too large"),
    (b"a,b\n1,2\n3,4,5,6\n", 400, "well-formed"),
])
def test_bad_uploads_are_refused(client, content, status, words):
    r = client.post("/api/uploads", files={"file": ("x.csv", content, "text/csv")})
    assert r.status_code == status and words in r.json()["error"], r.text


def test_upload_trains_and_draws_the_chosen_features(client, connect):
    r = client.post("/api/uploads", files={"file": ("../../secret data.csv",
                                                    GOOD_CSV.encode(), "text/csv")})
    up = r.json()
    assert r.status_code == 200 and up["rows"] == 120 and up["filename"] == "secret_data.csv"
    assert up["target"] == "kind" and up["draw"] == ["x1", "x2"]
    with connect() as ws:
        cfg = {"data": {"target": "kind"}, "model": {"hidden": [4]}}
        data = ws.configure(cfg, upload=up["id"], draw=["x2", "x1"])
        assert data["draw"] == ["x2", "x1"] and sorted(data["classes"]) == ["a", "b"]
        assert data["config"]["data"]["source"] == "secret_data.csv"
        assert train_to(ws, 20)["train_score"] > 0.6


def run_script(text, tmp_path):
    path = tmp_path / "exported.py"
    path.write_text(text)
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_exports_reproduce_the_run(client, tmp_path, connect):
    import mlplab

    with connect() as ws:
        ws.configure(SMALL)
        sid = ws.session
        train_to(ws, 30)
        ws.send_json({"type": "set_lr", "lr": 0.003})  # changed on the fly, mid-run
        ws.frame_at(lambda m: m["lr"] == 0.003)
        final = train_to(ws, 60)
        base = f"/api/sessions/{sid}/export"
        script = client.get(f"{base}/script").text
        assert "import torch" in script and "import mlplab" not in script
        assert "LR_CHANGES = {" in script
        got = run_script(script, tmp_path)
        assert got["epochs"] == final["epoch"]
        assert got["test_accuracy"] == pytest.approx(final["test_score"], abs=0.02)
        assert got["test_loss"] == pytest.approx(final["test_loss"], rel=0.05, abs=1e-3)

        cfg = RunConfig.from_dict(__import__("yaml").safe_load(client.get(f"{base}/yaml").text))
        assert cfg.train.epochs == final["epoch"] and cfg.data.source == "moons"
        note, cli = client.get(f"{base}/cli").text.splitlines()
        assert note.startswith("# the page changed the learning rate") and "-> 0.003" in note
        assert cli.startswith("mlplab train --data moons") and "model.hidden=[6]" in cli

        z = zipfile.ZipFile(io.BytesIO(client.get(f"{base}/zip").content))
        names = set(z.namelist())
        assert {"playground/config.yaml", "playground/model.safetensors",
                "playground/model.json"} <= names
        z.extractall(tmp_path / "run")
        run = mlplab.load(tmp_path / "run" / "playground")
        assert run.metrics["test"]["accuracy"] == pytest.approx(final["test_score"], abs=1e-6)
    assert client.get(f"/api/sessions/{sid}/export/script").status_code == 404


def test_serve_refuses_a_bad_port(capsys):
    from mlplab.cli.main import main

    assert main(["serve", "--port", "70000"]) == 2
    assert "error: bad --port" in capsys.readouterr().err


def test_export_filename_cannot_inject_headers(client, connect):
    with connect() as ws:
        ws.configure({**SMALL, "name": 'evil"\r\nSet-Cookie: x=1'})
        sid = ws.session
        r = client.get(f"/api/sessions/{sid}/export/yaml")
        assert r.status_code == 200 and "set-cookie" not in r.headers
        assert r.headers["content-disposition"].count('"') == 2
