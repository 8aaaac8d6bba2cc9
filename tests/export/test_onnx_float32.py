"""The ONNX export of an all-numeric run computes in float32, as mlplab's own folded path does.

The input stays the documented float64 matrix; the graph casts it once, fills missing values
and runs the network with the scaling folded into its first layer. Reference: mlplab's
``Run.predict_proba`` / ``Run.predict`` on the same rows, within the export tolerance, on every
task; and the ONNX graph itself, read with ``onnx``, for its dtypes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlplab
from mlplab.export import graph
from mlplab.export.api import export

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

QUICK = {"log": {"quiet": True, "plots": False}}
DOUBLE = onnx.TensorProto.DOUBLE


def table(task: str, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    X = rng.normal([40.0, -3.0, 0.5], [9.0, 0.1, 2.0], (n, 3))  # raw units, far from 0/1
    z = (X[:, 0] - 40) / 9 + X[:, 2]
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame.loc[::17, "b"] = np.nan  # imputed with the training median
    if task == "binary":
        return frame.assign(y=(z > 0).astype(int))
    if task == "multiclass":
        return frame.assign(y=np.digitize(z, [-1.0, 1.0]))
    if task == "multilabel":
        return frame.assign(y1=(z > 0).astype(int), y2=(X[:, 1] > -3).astype(int))
    return frame.assign(y=3e5 + 1e4 * z)  # regression, in large units


TARGETS = {"binary": "y", "multiclass": "y", "multilabel": ["y1", "y2"], "regression": "y"}


def train(task: str, scale: str = "standard") -> mlplab.Run:
    return mlplab.train({"data": {"target": TARGETS[task], "impute": "median", "scale": scale},
                         "model": {"hidden": [8, 8]}, "train": {"epochs": 30}, **QUICK},
                        data=table(task), save=False)


def rows() -> pd.DataFrame:
    X = np.random.default_rng(1).normal([40.0, -3.0, 0.5], [15.0, 0.2, 3.0], (500, 3))
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame.loc[::9, "b"] = np.nan
    return frame


def session(run: mlplab.Run, tmp_path: Path) -> tuple[ort.InferenceSession, onnx.ModelProto]:
    path = export(run, "onnx", tmp_path / "m.onnx").path  # checked against mlplab on export
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]), \
        onnx.load(str(path))


@pytest.mark.parametrize("task", list(TARGETS))
def test_float32_graph_equals_mlplab_on_every_task(task: str, tmp_path: Path) -> None:
    run = train(task)
    assert graph.RawInputModel(run).folded
    sess, model = session(run, tmp_path)
    X = rows()
    got = sess.run(["proba"], {"x": X.to_numpy(np.float64)})[0]
    want = graph.reference(run, X)
    tol = graph.tolerance_for(run)
    np.testing.assert_allclose(got, want, atol=tol.atol, rtol=tol.rtol)
    assert sess.get_inputs()[0].type == "tensor(double)"  # the documented input
    doubles = [i.name for i in model.graph.initializer if i.data_type == DOUBLE]
    if task != "regression":  # only the target scaler (y = z * scale + mean) stays float64
        assert doubles == []
        inferred = onnx.shape_inference.infer_shapes(model).graph.value_info
        assert [v.name for v in inferred if v.type.tensor_type.elem_type == DOUBLE] == []
    users = [n for n in model.graph.node if "x" in n.input]
    assert [n.op_type for n in users] == ["Cast"]  # x is read once, by one cast


def test_robust_scaling_keeps_its_smooth_clip_in_the_graph(tmp_path: Path) -> None:
    run = train("binary", scale="robust")
    assert not graph.RawInputModel(run).folded  # smooth clip: not linear, float64 features
    sess, _ = session(run, tmp_path)
    X = rows()
    X.loc[::5, "a"] = 400.0  # far outliers: clipped to +-3 scaled units
    got = sess.run(["proba"], {"x": X.to_numpy(np.float64)})[0]
    np.testing.assert_allclose(got, run.predict_proba(X), atol=1e-5, rtol=0.0)
