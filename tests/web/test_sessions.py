"""Session behaviours the page relies on, through the WebSocket API (issue 17)."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import torch

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from mlplab.models import ModelSpec, build_model
from mlplab.web import Limits, create_app
from mlplab.web.limits import LimitError
from mlplab.web.uploads import parse_csv

SMALL = {"data": {"source": "moons", "n_samples": 200, "test_size": 0.3},
         "model": {"hidden": [5]}, "train": {"batch_size": 20}}


@pytest.fixture
def client():
    with TestClient(create_app(Limits(max_sessions=4, fps=30, max_epochs=40))) as c:
        yield c


def test_crosses_are_part_of_the_model_against_plain_torch():
    """x1², x2², x1·x2, sin x1, sin x2 are computed from the first two inputs inside forward."""
    crosses = ["x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"]
    model = build_model(ModelSpec(3, [4], ["tanh"], 1, crosses=crosses), seed=0)
    x = torch.randn(7, 3)
    a, b = x[:, 0:1], x[:, 1:2]
    wide = torch.cat([x, a * a, b * b, a * b, torch.sin(a), torch.sin(b)], dim=1)  # (7, 8)
    lin1, lin2 = model.linears()
    assert lin1.in_features == 8
    expected = lin2(torch.tanh(wide @ lin1.weight.T + lin1.bias))
    assert torch.allclose(model(x), expected, atol=1e-6)
    assert torch.allclose(model.hidden_activations(x)[0],
                          torch.tanh(wide @ lin1.weight.T + lin1.bias), atol=1e-6)


def test_crosses_travel_from_the_page_to_the_saved_run(client, tmp_path, connect):
    import mlplab

    cfg = {**SMALL, "model": {"hidden": [5], "crosses": ["x1^2", "sin(x2)"]}}
    with connect() as ws:
        data = ws.configure(cfg)
        assert data["layers"] == [4, 5, 1] and data["inputs"] == ["x1", "x2", "x1^2", "sin(x2)"]
        ws.send_json({"type": "units", "on": True})
        frame = ws.frame_at(lambda m: "inputs" in m)
        assert len(frame["inputs"]) == 4 and len(frame["weights"][0][0]) == 4
        ws.send_json({"type": "play"})
        final = ws.frame_at(lambda m: m["done"])
        sid = next(iter(client.app.state.manager.sessions))
        z = zipfile.ZipFile(io.BytesIO(client.get(f"/api/sessions/{sid}/export/zip").content))
        z.extractall(tmp_path)
        run = mlplab.load(tmp_path / "playground")
        assert run.model.spec.crosses == ["x1^2", "sin(x2)"]
        assert run.metrics["test"]["accuracy"] == pytest.approx(final["test_score"], abs=1e-9)
    with connect() as ws:
        ws.hello()
        ws.send_json({"type": "config", "config": {"data": {"source": "linear"},
                                                   "model": {"crosses": ["x1*x2"]}}})
        err = ws.until(lambda m: m["type"] == "error")
        assert "the cross 'x1*x2' needs 2 input columns" in err["message"]


def test_changing_the_drawn_features_keeps_the_run(client, connect):
    """Regression: choosing other x/y features reset training to epoch 0."""
    r = client.post("/api/uploads", files={"file": ("t.csv", (
        "a,b,c,label\n" + "\n".join(f"{i % 5},{(i * 3) % 7},{(i * 5) % 11},{i % 2}"
                                    for i in range(80))).encode(), "text/csv")})
    up = r.json()
    with connect() as ws:
        data = ws.configure({"data": {"target": "label"}, "model": {"hidden": [3]},
                             "train": {"batch_size": 10}}, upload=up["id"])
        assert data["fresh"] and data["draw"] == ["a", "b"]
        for _ in range(12):
            ws.send_json({"type": "step"})
        before = ws.frame_at(lambda m: m["epoch"] == 12)
        ws.send_json({"type": "config", "config": data["config"], "upload": up["id"],
                      "draw": ["c", "a"]})
        view = ws.until(lambda m: m["type"] == "data")
        assert not view["fresh"] and view["draw"] == ["c", "a"]
        after = ws.frame_at()
        assert after["epoch"] == 12 and after["weights"] == before["weights"]


def test_the_end_of_a_run_is_said_and_play_then_does_nothing(client, connect):
    """Regression: at the epoch cap the run stopped silently; play then showed 'pause'."""
    with connect() as ws:
        ws.configure(SMALL)
        ws.send_json({"type": "play"})
        end = ws.until(lambda m: m["type"] == "end")
        assert end == {"type": "end", "epoch": 40, "cap": 40}
        assert ws.frame_at()["done"]
        for kind in ("play", "step"):
            ws.send_json({"type": kind})
            assert ws.until(lambda m: m["type"] == "end")["epoch"] == 40
            f = ws.frame_at()
            assert f["epoch"] == 40 and not f["playing"]
        ws.send_json({"type": "reset"})
        ws.until(lambda m: m["type"] == "data")
        assert ws.frame_at()["epoch"] == 0


def test_bad_setups_say_what_is_wrong_not_units_before_config(client, connect):
    """Regression: a bad link gave "'units' before any config" instead of its own error."""
    with connect() as ws:
        ws.hello()
        ws.send_json({"type": "units", "on": True})  # a view setting: fine before a config
        ws.send_json({"type": "config", "config": {"data": {"source": "foo"}}})
        err = ws.until(lambda m: m["type"] == "error")
        assert err["message"].startswith("unknown dataset 'foo'")
        ws.send_json({"type": "play"})
        err = ws.until(lambda m: m["type"] == "error")
        assert "needs a valid setup first" in err["message"]
        ws.send_json({"type": "config", "config": SMALL})
        assert ws.until(lambda m: m["type"] in ("data", "error"))["type"] == "data"


def test_regularization_from_the_page_trains(client, connect):
    """Regression: L1 / L2 chosen on the page must reach the optimizer and the exports."""
    import yaml

    cfg = {**SMALL, "optim": {"name": "adamw", "l1": 0.01, "weight_decay": 0.0}}
    with connect() as ws:
        data = ws.configure(cfg)
        assert data["config"]["optim"]["l1"] == 0.01
        assert data["config"]["optim"]["weight_decay"] == 0.0
        ws.send_json({"type": "step"})
        ws.frame_at(lambda m: m["epoch"] == 1)
        sid = next(iter(client.app.state.manager.sessions))
        exported = yaml.safe_load(client.get(f"/api/sessions/{sid}/export/yaml").text)
        assert exported["optim"]["l1"] == 0.01 and exported["optim"]["weight_decay"] == 0.0


def test_digits_draws_two_pixels_that_vary(client, connect):
    """Regression: digits drew its first pixel, which is 0 in every image."""
    with connect() as ws:
        data = ws.configure({"data": {"source": "digits"}, "model": {"hidden": [4]}})
        pts = np.array(data["points"]["train"])
        assert pts[:, 0].std() > 0 and pts[:, 1].std() > 0


def test_one_dimensional_regression_has_neuron_thumbnails_and_a_value_range(client, connect):
    with connect() as ws:
        data = ws.configure({"data": {"source": "linear", "n_samples": 100},
                             "model": {"hidden": [3]}})
        lo, hi = data["value_range"]
        targets = [p[2] for p in data["points"]["train"]]
        assert lo == pytest.approx(min(targets), abs=1e-3) and hi > lo
        ws.send_json({"type": "units", "on": True})
        units = ws.frame_at(lambda m: "units" in m)["units"]
        assert len(units) == 1 and len(units[0]) == 3


def test_a_loss_warning_reaches_the_page(client, connect):
    with connect() as ws:
        ws.hello()
        ws.send_json({"type": "config", "config": {**SMALL, "loss": "mse"}})
        warn = ws.until(lambda m: m["type"] in ("warning", "error"))
        assert warn["type"] == "warning" and "mse" in warn["messages"][0]


def test_upload_limit_in_human_units():
    with pytest.raises(LimitError, match=r"expected at most 1.0 kB, found 2.0 kB"):
        parse_csv(b"a,b\n" + b"1" * 1997, Limits(max_upload_bytes=1000))


def test_page_texts_follow_the_language(client):
    zh = client.get("/api/i18n/zh").json()
    en = client.get("/api/i18n/en").json()
    assert zh["html_lang"] == "zh-CN" and set(zh["texts"]) == set(en["texts"])
    assert zh["texts"]["playground.play"] != en["texts"]["playground.play"]
    assert '<html lang="zh-CN">' in client.get("/?lang=zh").text
    assert '<html lang="en">' in client.get("/?lang=xx").text


def test_the_playground_trains_until_paused_never_stops_early(client, connect):
    """Whatever RunConfig's default, the page's runs end only at the stated epoch cap."""
    with connect() as ws:
        data = ws.configure({**SMALL, "train": {"batch_size": 20, "early_stopping": 3}})
        assert data["config"]["train"]["early_stopping"] is None
        assert data["config"]["train"]["epochs"] == data["epochs_cap"] == 40


def test_mini_batch_frames_come_from_fits_batch_seam(monkeypatch):
    """The session sends mid-epoch frames from fit's batch seam (Callback.on_batch_end), not
    from a hook on the model's forward: one look per optimizer step, on the eager runner."""
    from mlplab.web.sessions import COMMANDS, Session

    sent: list[dict] = []
    s = Session("t" * 8, Limits(fps=30, max_epochs=6), sent.append)
    s.apply("config", {"type": "config", "config": {**SMALL, "train": {"batch_size": 20,
                                                                       "epochs": 6}}})
    looks: list[int] = []
    monkeypatch.setattr(s, "between_batches", lambda: looks.append(s.state.epoch))
    s.apply("play", {"type": "play"})
    assert s.play.playing and set(COMMANDS) >= {"play", "pause", "step", "reset"}
    s._train()
    assert s.state.runner_name == "eager" and s.done
    assert len(looks) == 6 * 7  # 140 training rows in batches of 20: 7 steps an epoch
    assert not s.model._forward_pre_hooks  # nothing hooked into the model
