"""Every dataset and option the page offers exports a script that reproduces the session.

The matrix covers every dataset once (uploads with missing values and categoricals included),
and every optimizer with both batch modes; each case trains a session through the WebSocket,
exports the PyTorch script, runs it and compares its final test loss and score with the
session's last frame. All scripts run in ONE fresh interpreter (``runpy`` per script, each in
its own folder; a torch import costs seconds), which also checks that none imports mlplab.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from mlplab.web import Limits, create_app

pytestmark = pytest.mark.slow

# an uploaded table with gaps in numeric and categorical columns (the run fills them with the
# median / most frequent value; the script must do the same, not drop rows)
UPLOAD = "size,weight,colour,label\n" + "\n".join(
    f"{'' if i % 11 == 3 else i % 9},{'' if i % 13 == 5 else (i * 7) % 10},"
    f"{'' if i % 17 == 2 else ('red', 'blue', 'green')[i % 3]},"
    f"{'big' if (i % 9) + ((i * 7) % 10) > 8 else 'small'}" for i in range(160)) + "\n"

# (dataset, optimizer, batch size or "full"); every optimizer meets both batch modes
CASES = [
    ("disk", "sgd", 16), ("circles", "adam", "full"), ("moons", "adamw", 16),
    ("blobs", "rmsprop", "full"), ("gaussians", "sgd", "full"), ("xor", "adam", 16),
    ("spiral", "adamw", "full"), ("linear", "rmsprop", 16), ("line", "adam", 16),
    ("iris", "adamw", 16), ("wine", "sgd", 16), ("breast_cancer", "rmsprop", 16),
    ("digits", "adam", "full"), ("penguins", "adam", 16), ("upload", "adamw", 16),
    ("upload", "sgd", "full"), ("moons", "adam", 16, ["x1^2", "x1*x2", "sin(x2)"]),
]
EPOCHS = 12


DRIVER = """
import contextlib, io, json, os, runpy, sys, traceback
for folder in sys.argv[1:]:
    os.chdir(folder)
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            runpy.run_path("exported.py", run_name="__main__")
        result = json.loads(buf.getvalue().strip().splitlines()[-1])
    except BaseException:
        result = {"error": traceback.format_exc()[-3000:]}
    print(json.dumps({"case": os.path.basename(folder), "result": result}))
assert not any(m == "mlplab" or m.startswith("mlplab.") for m in sys.modules), "imported mlplab"
"""


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(Limits(max_sessions=4, fps=30))) as c:
        yield c


def case_id(case: tuple) -> str:
    return "-".join(str(c) if not isinstance(c, list) else "crosses" for c in case)


def _train_and_export(client, open_page, case: tuple, folder: Path) -> dict:
    """Train the case's session for EPOCHS steps (the lr changed mid-run), write its exported
    script to ``folder/exported.py``; returns the session's last frame."""
    source, opt, batch, *rest = case
    cfg = {"seed": 3, "data": {"source": source, "n_samples": 300},
           "model": {"hidden": [6, 4], "crosses": rest[0] if rest else []},
           "optim": {"name": opt, "lr": 0.01}, "train": {"batch_size": batch}}
    extra = {}
    if source == "upload":
        up = client.post("/api/uploads", files={"file": ("shop.csv", UPLOAD.encode(),
                                                         "text/csv")}).json()
        cfg["data"] = {"target": "label"}
        extra = {"upload": up["id"]}
        (folder / "shop.csv").write_text(UPLOAD)
    with open_page(client, fail_on_error=True) as ws:
        sid = ws.hello()
        ws.send_json({"type": "config", "config": cfg, **extra})
        ws.until(lambda m: m["type"] == "data")
        for _ in range(EPOCHS // 2):
            ws.send_json({"type": "step"})
        ws.until(lambda m: m["type"] == "frame" and m["epoch"] == EPOCHS // 2)
        ws.send_json({"type": "set_lr", "lr": 0.003})  # a mid-run change the script repeats
        for _ in range(EPOCHS - EPOCHS // 2):
            ws.send_json({"type": "step"})
        final = ws.until(lambda m: m["type"] == "frame" and m["epoch"] == EPOCHS)
        r = client.get(f"/api/sessions/{sid}/export/script")
        assert r.status_code == 200, r.text
    (folder / "exported.py").write_text(r.text)
    return final


@pytest.fixture(scope="module")
def reproduced(client, open_page, tmp_path_factory) -> dict[str, tuple[dict, dict]]:
    """case id -> (the session's last frame, the script's printed result); a case whose
    session failed maps to its exception."""
    root = tmp_path_factory.mktemp("matrix")
    finals: dict[str, Any] = {}
    for case in CASES:
        folder = root / case_id(case)
        folder.mkdir()
        try:
            finals[case_id(case)] = _train_and_export(client, open_page, case, folder)
        except Exception as e:  # reported by that case's test, not by all of them
            finals[case_id(case)] = e
    folders = [str(root / name) for name, f in finals.items() if isinstance(f, dict)]
    out = subprocess.run([sys.executable, "-c", DRIVER, *folders], capture_output=True,
                         text=True, timeout=900, env={**os.environ, "MPLBACKEND": "Agg"})
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    got = {d["case"]: d["result"] for d in lines}
    return {name: f if isinstance(f, Exception) else (f, got.get(name, {"error": "no result"}))
            for name, f in finals.items()}


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_exported_script_reproduces_the_session(reproduced, case):
    result = reproduced[case_id(case)]
    if isinstance(result, Exception):
        raise result
    final, got = result
    assert "error" not in got, got.get("error")
    test = got.get("test", got)  # {"test": {...}} (run metrics) or a flat dict
    score = test.get("accuracy", test.get("r2", test.get("test_accuracy", test.get("test_r2"))))
    loss = test.get("loss", test.get("test_loss"))
    assert loss == pytest.approx(final["test_loss"], rel=1e-4, abs=1e-5)
    assert score == pytest.approx(final["test_score"], abs=1e-6)


def test_a_script_exported_before_training_trains_nothing(client, tmp_path, connect):
    """Regression: a script exported at epoch 0 said EPOCHS = 1."""
    with connect(fail_on_error=True) as ws:
        sid = ws.hello()
        ws.send_json({"type": "config", "config": {"data": {"source": "moons"}}})
        first = ws.until(lambda m: m["type"] == "frame")
        r = client.get(f"/api/sessions/{sid}/export/script")
    assert r.status_code == 200 and first["epoch"] == 0
    assert "EPOCHS = 0" in r.text
