"""Export a trained run for serving: ONNX, TorchScript, ``torch.export``, or a plain script.

Every export takes **raw feature rows** and returns **probabilities** (class columns in the
run's order; predicted values for regression): the preprocessing learned on the training split
(imputation, scaling, one-hot encoding) is part of the exported graph.

The graph input ``x`` is one float32 matrix ``(batch, n_input_columns)`` in the run's input
column order (``run.feature_names``):

- numeric columns hold the raw values (NaN for missing: it is filled as in training when the run
  imputes, otherwise it propagates to NaN probabilities);
- categorical columns hold the **category code**: the index of the value in the run's category
  list (``model.json`` ``preprocessing.categorical``, also in the export's ``.json`` sidecar and
  in the ONNX metadata); ``-1`` for a category unseen in training (an all-zero one-hot block,
  as mlplab itself does). Graph formats have no strings, so this lookup is the caller's one
  step; :func:`encode_rows` does it for a DataFrame.

The ``script`` format is a readable, standalone ``predict.py`` (only torch and numpy) that
rebuilds the network, reads ``model.safetensors`` with a 20-line parser and does the whole
preprocessing itself, strings included.

Each export is verified before this function returns: the exported artefact (run through
onnxruntime for ONNX) must give the same probabilities as ``run.predict_proba`` on random rows
and on real rows of the run's dataset, within ``atol``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from mlplab.errors import ConfigError, MlplabError, RunError, did_you_mean
from mlplab.export.script import script_source
from mlplab.runs import store as runs
from mlplab.runs.run import Run, load

ATOL = 1e-5  # probabilities; float32 preprocessing in the graph vs float64 in pandas


class RawInputModel(nn.Module):
    """Preprocessing + network + probability head: raw rows (codes for categories) in,
    probabilities out. See the module docstring for the input encoding.

    Example
    -------
    >>> import mlplab
    >>> run = mlplab.train({"data": {"source": "gaussians", "n_samples": 100},
    ...                     "model": {"hidden": [4]}, "train": {"epochs": 5}}, save=False)
    >>> m = RawInputModel(run)
    >>> x = np.array([[1.0, 2.0]], dtype=np.float32)
    >>> bool(np.allclose(m(torch.from_numpy(x)).detach().numpy(), run.predict_proba(x)))
    True
    """

    def __init__(self, run: Run) -> None:
        super().__init__()
        pre = run.preprocessor
        cols = list(pre.input_columns)
        # one row per output feature (feature_names_out order):
        # (source column, numeric?, center, spread, category code, fill for NaN)
        spec: list[tuple[int, bool, float, float, float, float]] = []
        for i, c in enumerate(cols):
            f = pre.fill.get(c)
            if c in pre.categorical:
                cats = pre.categorical[c]
                fcode = float(cats.index(f)) if f is not None and f in cats else float("nan")
                spec += [(i, False, 0.0, 1.0, float(k), fcode) for k in range(len(cats))]
            else:
                spec.append((i, True, float(pre.center[c]), float(pre.spread[c]), 0.0,
                             float("nan") if f is None else float(f)))
        src, is_num, center, spread, code, fill = zip(*spec, strict=True)
        f32 = torch.float32
        # (buffer names avoid GraphModule attributes such as .code)
        self.in_column: torch.Tensor
        self.is_numeric: torch.Tensor
        self.shift: torch.Tensor
        self.divide_by: torch.Tensor
        self.category_code: torch.Tensor
        self.fill_value: torch.Tensor
        self.register_buffer("in_column", torch.tensor(src, dtype=torch.long))  # (F,)
        self.register_buffer("is_numeric", torch.tensor(is_num, dtype=torch.bool))
        self.register_buffer("shift", torch.tensor(center, dtype=f32))
        self.register_buffer("divide_by", torch.tensor(spread, dtype=f32))
        self.register_buffer("category_code", torch.tensor(code, dtype=f32))
        self.register_buffer("fill_value", torch.tensor(fill, dtype=f32))
        self.net = run.model.cpu().eval()
        self.task = run.task

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, n_inputs) -> (B, k)
        xs = x.index_select(1, self.in_column)  # (B, F): each output feature's raw column
        xs = torch.where(torch.isnan(xs), self.fill_value, xs)  # impute as in training
        onehot = (xs == self.category_code).to(xs.dtype)
        feats = torch.where(self.is_numeric, (xs - self.shift) / self.divide_by, onehot)
        return self.task.proba(self.net(feats))


def encode_rows(run: Run, X: Any) -> np.ndarray:
    """Raw rows -> the float32 matrix the graph exports take (category values -> codes).

    >>> import mlplab
    >>> run = mlplab.train({"data": {"source": "gaussians", "n_samples": 100},
    ...                     "model": {"hidden": [4]}, "train": {"epochs": 2}}, save=False)
    >>> encode_rows(run, [[1.5, -2.0]]).tolist()
    [[1.5, -2.0]]
    """
    frame = run.as_frame(X)
    pre = run.preprocessor
    out = np.empty((len(frame), len(pre.input_columns)), dtype=np.float32)
    for i, c in enumerate(pre.input_columns):
        if c in pre.categorical:
            vals = frame[c].astype(object)
            codes = pd.Index(pre.categorical[c], dtype=object).get_indexer(vals)
            out[:, i] = np.where(vals.isna().to_numpy(), np.nan, codes)
        else:
            out[:, i] = pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=np.float64)
    return out


def _decode_rows(run: Run, codes: np.ndarray) -> pd.DataFrame:
    """Inverse of :func:`encode_rows` (codes -> category values), for the references."""
    pre = run.preprocessor
    frame = pd.DataFrame(codes.astype(np.float64), columns=pre.input_columns)
    for c, cats in pre.categorical.items():
        col = codes[:, pre.input_columns.index(c)]
        frame[c] = pd.Series([None if np.isnan(k) else cats[int(k)] if k >= 0 else "<unseen>"
                              for k in col], dtype=object)
    return frame


def reference(run: Run, frame: pd.DataFrame) -> np.ndarray:
    """mlplab's own answer: probabilities (classification) or values (regression)."""
    if run.task.is_classification:
        return run.predict_proba(frame)
    return run.decision_function(frame)


def output_columns(run: Run) -> list[str]:
    if run.task.is_classification:
        return [f"proba_{c}" for c in run.classes]
    return [f"predicted_{n}" for n in run.target_encoder.target_names]


def signature(run: Run) -> dict[str, Any]:
    """What goes in and out of a graph export (written as the ``.json`` sidecar)."""
    pre = run.preprocessor
    return {
        "input": {"name": "x", "dtype": "float32", "shape": ["batch", len(pre.input_columns)],
                  "columns": list(pre.input_columns),
                  "categorical": {c: list(v) for c, v in pre.categorical.items()},
                  "encoding": "numeric columns: raw values (NaN = missing); categorical "
                              "columns: index of the value in 'categorical' (-1 = unseen)"},
        "output": {"name": "proba", "columns": output_columns(run), "task": run.task.name},
    }


# --- checking ------------------------------------------------------------------------------


def sample_inputs(run: Run, n: int = 64,
                  seed: int = 0) -> dict[str, tuple[np.ndarray, pd.DataFrame]]:
    """Encoded rows to verify on: 'random' (scaled-normal numbers, random categories) and,
    when the run's dataset can be loaded again, 'real' (its first rows)."""
    pre = run.preprocessor
    rng = np.random.default_rng(seed)
    x = np.empty((n, len(pre.input_columns)), dtype=np.float32)
    for i, c in enumerate(pre.input_columns):
        if c in pre.categorical:
            x[:, i] = rng.integers(0, max(1, len(pre.categorical[c])), size=n)
        else:
            x[:, i] = pre.center[c] + pre.spread[c] * rng.normal(size=n) * 1.5
    out = {"random": (x, _decode_rows(run, x))}
    try:
        from mlplab.data import load_table

        frame = load_table(run.config.data, run.config.seed).X.iloc[:n].reset_index(drop=True)
        out["real"] = (encode_rows(run, frame), frame)
    except (MlplabError, OSError):
        pass  # the data file moved: random rows only (the report says so)
    return out


Predictor = Callable[[np.ndarray, pd.DataFrame], np.ndarray]  # (codes, raw rows) -> proba


def check(run: Run, predict: Predictor, atol: float = ATOL) -> dict[str, float]:
    """Max |exported - mlplab| on each input set; raises if any exceeds ``atol``."""
    diffs: dict[str, float] = {}
    for name, (x, frame) in sample_inputs(run).items():
        got = np.asarray(predict(x, frame), dtype=np.float64)
        want = reference(run, frame)
        diff = float(np.max(np.abs(got - want))) if got.shape == want.shape else float("inf")
        diffs[name] = diff
        if not diff <= atol:
            raise RunError(f"the export disagrees with mlplab on {name} inputs",
                           expected=f"max |difference| <= {atol:g}", found=f"{diff:.3g}",
                           hint="please report this as a bug")
    return diffs


# --- the formats ---------------------------------------------------------------------------


def _example(run: Run) -> torch.Tensor:
    return torch.from_numpy(sample_inputs(run, n=4)["random"][0])


def _export_onnx(run: Run, path: Path) -> Predictor:
    import onnx
    import onnxruntime as ort

    module = RawInputModel(run).eval()
    batch = torch.export.Dim("batch", min=1)
    quiet = logging.getLogger("torch.onnx")  # "torchvision is not installed" notices
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (_example(run),), str(path), dynamo=True,
                              input_names=["x"], output_names=["proba"],
                              dynamic_shapes={"x": {0: batch}}, verbose=False)
    finally:
        quiet.setLevel(level)
    model = onnx.load(str(path))
    for key, value in {"mlplab.signature": json.dumps(signature(run))}.items():
        model.metadata_props.add(key=key, value=value)
    runs.atomic_write_bytes(path, model.SerializeToString())
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return lambda x, frame: session.run(["proba"], {"x": x})[0]


def _export_torchscript(run: Run, path: Path) -> Predictor:
    module = RawInputModel(run).eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(module, (_example(run),))
        torch.jit.save(traced, str(path))
        loaded = torch.jit.load(str(path))
    return lambda x, frame: loaded(torch.from_numpy(x)).detach().numpy()


def _export_program(run: Run, path: Path) -> Predictor:
    module = RawInputModel(run).eval()
    batch = torch.export.Dim("batch", min=1)
    ep = torch.export.export(module, (_example(run),), dynamic_shapes={"x": {0: batch}})
    torch.export.save(ep, str(path))
    loaded = torch.export.load(str(path)).module()
    return lambda x, frame: loaded(torch.from_numpy(x)).detach().numpy()


def _export_script(run: Run, path: Path) -> Predictor:
    if run.path is None:
        raise RunError("the script format reads the run's model.safetensors",
                       hint="save the run first (run.save(...)) or export a run directory")
    weights = (Path(run.path) / "model.safetensors").resolve()
    runs.atomic_write_text(path, script_source(run, weights))
    spec = importlib.util.spec_from_file_location("mlplab_exported_predict", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)

    def predict(x: np.ndarray, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(mod.predict_proba(mod.preprocess(frame.to_dict("records"))))

    return predict


@dataclass(frozen=True)
class Format:
    """One export format: its writer (which returns a predictor to verify) and file name."""

    write: Callable[[Run, Path], Predictor]
    filename: str
    description: str


FORMATS: dict[str, Format] = {
    "onnx": Format(_export_onnx, "model.onnx", "ONNX (dynamic batch), checked with onnxruntime"),
    "torchscript": Format(_export_torchscript, "model.torchscript.pt", "TorchScript (traced)"),
    "exported-program": Format(_export_program, "model.pt2", "torch.export ExportedProgram"),
    "script": Format(_export_script, "predict.py", "standalone PyTorch + NumPy script"),
}


@dataclass
class ExportResult:
    """Where the export went and how closely it matched mlplab (max |diff| per input set)."""

    format: str
    path: Path
    max_abs_diff: dict[str, float] = field(default_factory=dict)
    sidecar: Path | None = None


def export(run: Run | str | Path, format: str, path: str | Path | None = None, *,
           atol: float = ATOL, overwrite: bool = True) -> ExportResult:
    """Export ``run`` (a :class:`Run` or a run directory) as ``format`` and verify it.

    Parameters
    ----------
    run : Run or path
        A run trained by mlplab with the built-in MLP (a custom module cannot be rebuilt
        outside Python for the script format; graph formats work if you pass a loaded Run).
    format : {'onnx', 'torchscript', 'exported-program', 'script'}
    path : output file; default ``<run dir>/<model.onnx | model.torchscript.pt | model.pt2 |
        predict.py>``.
    atol : the largest accepted difference from ``run.predict_proba``.

    Returns
    -------
    ExportResult
        With the measured differences on random and real rows.
    """
    if format not in FORMATS:
        raise ConfigError(f"unknown export format '{format}'", expected=" | ".join(FORMATS),
                          hint=did_you_mean(format, FORMATS))
    if not isinstance(run, Run):
        run = load(run)
    if path is None:
        if run.path is None:
            raise RunError("where should the export go?", hint="pass path=... (or -o)")
        path = Path(run.path) / FORMATS[format].filename
    path = Path(path)
    if path.exists() and not overwrite:
        raise RunError(f"'{path}' exists", hint="pass --overwrite or choose another -o")
    path.parent.mkdir(parents=True, exist_ok=True)
    predict = FORMATS[format].write(run, path)
    diffs = check(run, predict, atol)
    sidecar = None
    if format != "script":
        sidecar = path.with_name(path.name + ".json")
        runs.write_json(sidecar, {"format": format, "file": path.name, **signature(run),
                                  "max_abs_diff": diffs})
    return ExportResult(format, path, diffs, sidecar)


__all__ = ["FORMATS", "ExportResult", "RawInputModel", "encode_rows", "export", "signature"]
