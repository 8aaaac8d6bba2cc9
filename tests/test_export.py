"""Export: every format takes raw rows and returns mlplab's probabilities."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import mlplab
from mlplab.errors import ConfigError
from mlplab.export.graph import encode_rows, export

# torch 2.13 deprecates torch.jit (TorchScript) in favour of torch.export; it still works
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.*deprecated:DeprecationWarning")


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory) -> mlplab.Run:
    """Numeric + categorical columns, string labels, mean imputation: all preprocessing."""
    rng = np.random.default_rng(1)
    n = 200
    df = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n) * 4 + 10,
                       "color": rng.choice(["red", "green", "blue"], size=n)})
    df["label"] = np.where(df.x1 + (df.x2 - 10) / 4 + (df.color == "red") > 0.5, "yes", "no")
    df.loc[::17, "x2"] = np.nan
    path = tmp_path_factory.mktemp("mixed") / "mixed.csv"
    df.to_csv(path, index=False)
    cfg = {"data": {"source": str(path), "target": "label", "impute": "mean"},
           "model": {"hidden": [8]}, "train": {"epochs": 30},
           "log": {"quiet": True, "plots": False}}
    return mlplab.train(cfg, out=tmp_path_factory.mktemp("runs") / "mixed")


def _new_rows() -> pd.DataFrame:
    """Rows unlike the training ones: a missing number and an unseen category."""
    return pd.DataFrame({"x1": [0.3, -1.2, 2.0], "x2": [np.nan, 7.0, 12.5],
                         "color": ["red", "purple", "blue"]})


def test_onnx_dynamic_batch_matches_predict_proba(mixed_run, tmp_path: Path) -> None:
    import onnxruntime as ort

    result = export(mixed_run, "onnx", tmp_path / "m.onnx")
    assert set(result.max_abs_diff) == {"random", "real"}  # verified on both kinds of rows
    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    rows = _new_rows()
    x = encode_rows(mixed_run, rows)
    assert x[1, 2] == -1 and np.isnan(x[0, 1])  # unseen category -> -1, missing -> NaN
    for batch in (rows.iloc[:1], rows):  # batch size is dynamic
        got = session.run(["proba"], {"x": encode_rows(mixed_run, batch)})[0]
        np.testing.assert_allclose(got, mixed_run.predict_proba(batch), atol=1e-5)
    assert result.sidecar is not None and "categorical" in result.sidecar.read_text()


@pytest.mark.parametrize("fmt", ["torchscript", "exported-program"])
def test_torch_formats_reload_and_match(mixed_run, tmp_path: Path, fmt: str) -> None:
    result = export(mixed_run, fmt, tmp_path / f"m.{fmt}")
    if fmt == "torchscript":
        module = torch.jit.load(str(result.path))
    else:
        module = torch.export.load(str(result.path)).module()
    rows = _new_rows()
    got = module(torch.from_numpy(encode_rows(mixed_run, rows))).detach().numpy()
    np.testing.assert_allclose(got, mixed_run.predict_proba(rows), atol=1e-5)


def test_script_is_standalone_and_predicts_a_csv(mixed_run, tmp_path: Path) -> None:
    """predict.py imports only torch and numpy (plus the stdlib) and gives the same numbers."""
    result = export(mixed_run, "script", tmp_path / "predict.py")
    source = result.path.read_text()
    imports = {line.split()[1] for line in source.splitlines()
               if line.startswith(("import ", "from "))}
    assert imports <= {"csv", "json", "sys", "numpy", "torch"}
    rows = _new_rows()
    rows.to_csv(tmp_path / "rows.csv", index=False)
    res = subprocess.run([sys.executable, "-I", str(result.path), str(tmp_path / "rows.csv")],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    printed = pd.read_csv(pd.io.common.StringIO(res.stdout))
    np.testing.assert_allclose(printed[["proba_no", "proba_yes"]].to_numpy(),
                               mixed_run.predict_proba(rows), atol=1e-5)


def test_multiclass_and_regression_exports(tmp_path: Path) -> None:
    blobs = mlplab.train({"data": {"source": "blobs", "n_samples": 150, "n_classes": 3},
                          "model": {"hidden": [5]}, "train": {"epochs": 10},
                          "log": {"quiet": True, "plots": False}}, out=tmp_path / "blobs")
    assert export(blobs, "script").max_abs_diff["real"] <= 1e-5
    reg = mlplab.train({"data": {"source": "linear", "n_samples": 150}, "model": {"hidden": []},
                        "train": {"epochs": 10}, "log": {"quiet": True, "plots": False}},
                       out=tmp_path / "reg")
    res = export(reg, "torchscript")
    assert res.path == tmp_path / "reg" / "model.torchscript.pt"
    x = np.array([[0.5] * len(reg.feature_names)], dtype=np.float32)
    got = torch.jit.load(str(res.path))(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(got, reg.decision_function(x), atol=1e-5)


def test_cli_export_and_bad_format(mixed_run) -> None:
    from mlplab.cli.main import main

    assert main(["export", str(mixed_run.path), "--format", "script"]) == 0
    assert (Path(mixed_run.path) / "predict.py").is_file()
    with pytest.raises(ConfigError, match="did you mean 'onnx'"):
        export(mixed_run, "onx")
