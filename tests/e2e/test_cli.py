"""The command line: the workflow end to end, and every bad input as one clean line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mlplab.cli.main import main

FAST = ["--epochs", "30", "--quiet", "--set", "log.plots=false"]


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_user_error(code: int, err: str, pattern: str) -> None:
    assert code == 2, err
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("warning:")]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    import re
    assert re.search(pattern, lines[0]), lines[0]


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory):
    """Train once on a CSV with string labels and reuse the run."""
    import numpy as np

    tmp = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    n = 150
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                       "kind": rng.choice(["p", "q"], size=n)})
    df["label"] = np.where(df.a + df.b > 0, "yes", "no")
    data = tmp / "data.csv"
    df.to_csv(data, index=False)
    out = tmp / "run"
    assert main(["train", "--data", str(data), "--target", "label", "--out", str(out),
                 *FAST]) == 0
    return tmp, data, out


def test_train_writes_a_run_and_says_where(capsys, tmp_path):
    code, out, err = cli(capsys, "train", "--data", "moons", "--hidden", "8", "--out",
                         tmp_path / "r", *(f for f in FAST if f != "--quiet"))
    assert code == 0, err
    assert f"run saved to {tmp_path / 'r'}" in out
    assert (tmp_path / "r" / "model.safetensors").is_file()


def test_flags_override_recipe_and_config(capsys, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("optim: {lr: 0.2}\nmodel: {hidden: [3]}\n")
    code, _, err = cli(capsys, "train", "--recipe", "moons-mlp", "--config", cfg, "--lr", "0.3",
                       "--set", "train.eval_every=5", "--out", tmp_path / "r", *FAST)
    assert code == 0, err
    import yaml
    saved = yaml.safe_load((tmp_path / "r" / "config.yaml").read_text())
    assert saved["optim"]["lr"] == 0.3 and saved["model"]["hidden"] == [3]
    assert saved["optim"]["name"] == "adam" and saved["train"]["eval_every"] == 5


def test_evaluate_predict_show(capsys, csv_run):
    tmp, data, out = csv_run
    code, stdout, err = cli(capsys, "evaluate", out, "--data", data, "--json")
    assert code == 0, err
    m = json.loads(stdout)
    assert m["accuracy"] > 0.8 and m["n"] == 150
    rows = pd.read_csv(data).drop(columns=["label"]).head(5)
    rows.to_csv(tmp / "new.csv", index=False)
    code, _, err = cli(capsys, "predict", out, tmp / "new.csv", "-o", tmp / "pred.csv")
    assert code == 0, err
    pred = pd.read_csv(tmp / "pred.csv")
    assert {"proba_no", "proba_yes", "predicted_label"} <= set(pred.columns)
    assert set(pred["predicted_label"]) <= {"yes", "no"}
    assert (pred["proba_no"] + pred["proba_yes"]).round(5).eq(1).all()
    code, stdout, err = cli(capsys, "show", out)
    assert code == 0 and "accuracy" in stdout


def test_listing_commands(capsys):
    code, out, _ = cli(capsys, "datasets")
    assert code == 0 and "circles" in out and "penguins" in out
    code, out, _ = cli(capsys, "recipes")
    assert code == 0 and "disk-mlp" in out and "linear-regression" in out


# --- bad input: one line, exit 2, nothing written ------------------------------------------


@pytest.mark.parametrize(("args", "pattern"), [
    (["--epochs", "-5"], r"train\.epochs"),
    (["--lr", "abc"], r"--lr"),
    (["--activation", "rellu"], r"unknown activation 'rellu'.*did you mean 'relu'"),
    (["--loss", "hinge"], r"unknown loss 'hinge'"),
    (["--optimizer", "lbfgs"], r"unknown optimizer 'lbfgs'"),
    (["--data", "cirles"], r"unknown dataset 'cirles'.*did you mean 'circles'"),
    (["--recipe", "nope"], r"unknown recipe 'nope'"),
    (["--head", "softmax", "--loss", "cross_entropy"], r"applies softmax twice"),
    (["--output", "softmax", "--loss", "cross_entropy"], r"applies softmax twice"),  # deprecated
    (["--set", "optim.lrr=1"], r"unknown config key 'optim\.lrr'.*did you mean 'lr'"),
    (["--bogus-flag"], r"No such option"),
])
def test_bad_flags(capsys, tmp_path, args, pattern):
    code, _, err = cli(capsys, "train", "--out", tmp_path / "r", *FAST, *args)
    assert_user_error(code, err, pattern)
    assert not (tmp_path / "r").exists()


def _write(tmp_path: Path, name: str, content: bytes | str) -> Path:
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return p


@pytest.mark.parametrize(("name", "content", "target", "pattern"), [
    ("missing.csv", None, "y", r"not found"),
    ("empty.csv", "", "y", r"empty"),
    ("header.csv", "a,b,y\n", "y", r"no rows|no data"),
    ("garbage.csv", bytes(range(256)) * 20, "y", r"not a text table|encoding"),
    ("ragged.csv", "a,b,y\n1,2,0\n3,4,1,9,9\n5,6,0\n", "y", r"line 3 has 5 fields"),
    ("col.csv", "a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n", "label", r"target column 'label'"),
    ("single.csv", "a,b,y\n1,2,0\n3,4,0\n5,6,0\n7,8,0\n", "y", r"one class|single"),
    ("inf.csv", "a,b,y\n1,inf,0\n3,4,1\n5,6,0\n7,8,1\n", "y", r"finite|inf"),
    ("text.csv", "a,b,y\n1,2,0\n3,x,1\n5,6,0\n7,8,1\n", "y", r"'x'"),
    ("nan.csv", "a,b,y\n1,,0\n3,4,1\n5,6,0\n7,8,1\n", "y", r"missing"),
])
def test_bad_files(capsys, tmp_path, name, content, target, pattern):
    path = tmp_path / name if content is None else _write(tmp_path, name, content)
    code, _, err = cli(capsys, "train", "--data", path, "--target", target, "--out",
                       tmp_path / "r", *FAST)
    assert_user_error(code, err, pattern)
    assert not (tmp_path / "r").exists()


def test_predict_input_missing_a_feature(capsys, csv_run, tmp_path):
    tmp, data, out = csv_run
    pd.read_csv(data).drop(columns=["b", "label"]).to_csv(tmp_path / "x.csv", index=False)
    code, _, err = cli(capsys, "predict", out, tmp_path / "x.csv", "-o", tmp_path / "p.csv")
    assert_user_error(code, err, r"missing input column: b")
    assert not (tmp_path / "p.csv").exists()


def test_predict_does_not_overwrite(capsys, csv_run, tmp_path):
    tmp, data, out = csv_run
    target = _write(tmp_path, "p.csv", "keep me")
    code, _, err = cli(capsys, "predict", out, data, "-o", target)
    assert_user_error(code, err, r"exists")
    assert target.read_text() == "keep me"


def test_invalid_run_directories(capsys, csv_run, tmp_path):
    tmp, data, out = csv_run
    code, _, err = cli(capsys, "evaluate", tmp_path, "--data", data)
    assert_user_error(code, err, r"not a valid mlplab run")
    fake = tmp_path / "fake"
    fake.mkdir()
    for f in ("config.yaml", "model.json"):
        (fake / f).write_bytes((out / f).read_bytes())
    import pickle
    (fake / "model.safetensors").write_bytes(pickle.dumps({"a": 1}))
    code, _, err = cli(capsys, "show", fake)
    assert_user_error(code, err, r"pickle")


def test_existing_out_dir_is_refused_and_kept(capsys, csv_run):
    tmp, data, out = csv_run
    before = (out / "model.safetensors").read_bytes()
    code, _, err = cli(capsys, "train", "--data", "moons", "--out", out, *FAST)
    assert_user_error(code, err, r"exists and is not empty.*--overwrite")
    assert (out / "model.safetensors").read_bytes() == before


def test_console_script_runs_as_a_process(tmp_path):
    """The installed `mlplab` entry point works and reports errors without a traceback."""
    exe = Path(sys.executable).parent / "mlplab"
    r = subprocess.run([str(exe), "train", "--data", "nope", "--quiet"], capture_output=True,
                       text=True, cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.startswith("error: unknown dataset 'nope'")
    assert "Traceback" not in r.stderr
