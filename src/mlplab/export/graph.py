"""Export a trained run for serving: ONNX, TorchScript, ``torch.export``, or a plain script.

Every export takes **raw feature rows** and returns **probabilities** (class columns in the
run's order; predicted values for regression): the preprocessing learned on the training split
(imputation, scaling, one-hot encoding) is part of the exported graph.

The graph input ``x`` is one float64 matrix ``(batch, n_input_columns)`` in the run's input
column order (``run.feature_names``). Inside, the graph computes what mlplab computes:

- when every input is a number and the scaling is linear (mlplab's folded path,
  :mod:`mlplab.runs.predictor`), ``x`` is cast once to float32, missing values filled, and the
  scaling is folded into the first layer: the whole graph runs in float32;
- otherwise (categories, ``robust`` scaling's smooth clip, crosses) the preprocessing runs in
  float64 and the features are cast to float32 for the network, as mlplab's column-by-column
  transform does (rounding raw values such as 39.1 to float32 before scaling moved penguins'
  probabilities by 5e-5);

- numeric columns hold the raw values (NaN for missing: it is filled as in training when the run
  imputes, otherwise it propagates to NaN probabilities);
- categorical columns hold the **category code**: the index of the value in the run's category
  list (``model.json`` ``preprocessing.categorical``, also in the export's ``.json`` sidecar and
  in the ONNX metadata); ``-1`` for a category unseen in training (an all-zero one-hot block,
  as mlplab itself does). Graph formats have no strings, so this lookup is the caller's one
  step; :func:`encode_rows` does it for a DataFrame.

Regression outputs are in the target's own units: when the run standardised its targets
(``model.json`` ``target_scaler``), the graph applies ``y = z * scale + mean``.

Each export is verified (:func:`check`) against mlplab's own answer on random rows and on real
rows of the run's dataset, within :data:`TOLERANCE`.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from mlplab.data.columns import to_float
from mlplab.data.encoders import CLIP
from mlplab.errors import MlplabError, RunError
from mlplab.export.codegen import output_columns, target_scaler
from mlplab.models import MLP
from mlplab.runs import store as runs
from mlplab.runs.run import Run


@dataclass(frozen=True)
class Tolerance:
    """How far an export may be from mlplab: ``|got - want| <= atol + rtol * |want|``."""

    atol: float
    rtol: float


# Measured ORT vs mlplab (20 runs, 5 seeds x binary/multiclass/multilabel/regression on a mixed
# table with gaps and categories, random + real rows; float64 preprocessing in the graph): at
# most 1.19e-7 absolute on probabilities (one float32 step near 1) and 7.9e-8 relative on
# regression values around 3e5 (2.1e-2 absolute). The float32 graph of all-numeric runs
# (4 tasks x standard/minmax/none, 500 rows with gaps): at most 4.8e-7 absolute on
# probabilities, 1.2e-7 relative on values around 3e5. The bounds keep >= 20x headroom:
# absolute for probabilities (in [0, 1]), relative for values of any scale.
TOLERANCE = {"probabilities": Tolerance(atol=1e-5, rtol=0.0),
             "values": Tolerance(atol=1e-6, rtol=1e-5)}



class RawInputModel(nn.Module):
    """Preprocessing + network + head: raw rows (codes for categories) in, probabilities (or
    regression values in the target's units) out. See the module docstring for the input.

    Example
    -------
    >>> import mlplab
    >>> run = mlplab.train({"data": {"source": "gaussians", "n_samples": 100},
    ...                     "model": {"hidden": [4]}, "train": {"epochs": 5}}, save=False)
    >>> m = RawInputModel(run)
    >>> x = np.array([[1.0, 2.0]])
    >>> bool(np.allclose(m(torch.from_numpy(x)).detach().numpy(), run.predict_proba(x)))
    True
    """

    def __init__(self, run: Run) -> None:
        super().__init__()
        pre = run.preprocessor
        cols = list(pre.input_columns)
        derived = [c for c in cols if c in (getattr(pre, "dates", None) or {})
                   or c in (getattr(pre, "durations", None) or {})]
        if derived:
            raise RunError(f"the date/duration column '{derived[0]}' cannot go into a graph "
                           "export yet", hint="drop it (--drop) to export this model")
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
        f64 = torch.float64  # preprocessing in float64, as mlplab's pandas path does
        # (buffer names avoid GraphModule attributes such as .code)
        self.in_column: torch.Tensor
        self.is_numeric: torch.Tensor
        self.shift: torch.Tensor
        self.divide_by: torch.Tensor
        self.category_code: torch.Tensor
        self.fill_value: torch.Tensor
        self.register_buffer("in_column", torch.tensor(src, dtype=torch.long))  # (F,)
        self.register_buffer("is_numeric", torch.tensor(is_num, dtype=torch.bool))
        self.register_buffer("shift", torch.tensor(center, dtype=f64))
        self.register_buffer("divide_by", torch.tensor(spread, dtype=f64))
        self.register_buffer("category_code", torch.tensor(code, dtype=f64))
        self.register_buffer("fill_value", torch.tensor(fill, dtype=f64))
        scaler = target_scaler(run)
        self.scaled = scaler is not None
        self.y_mean: torch.Tensor
        self.y_scale: torch.Tensor
        self.register_buffer("y_mean", torch.tensor(scaler["mean"] if scaler else [0.0],
                                                    dtype=f64))
        self.register_buffer("y_scale", torch.tensor(scaler["scale"] if scaler else [1.0],
                                                     dtype=f64))
        self.net: nn.Module = run.model.cpu().eval()
        self.task = run.task
        self.clip = pre.clip
        first = run.predictor().first_raw  # the scaling folded into the first layer, or None
        seq = run.model.net if isinstance(run.model, MLP) else None
        self.folded = first is not None and isinstance(seq, nn.Sequential) \
            and isinstance(seq[0], nn.Linear)
        if first is not None and isinstance(seq, nn.Sequential) and self.folded:
            # float32 throughout: fill, then the network with the scaling in its first layer
            layer = nn.Linear(*first.weight_t.shape)
            layer.weight = nn.Parameter(first.weight_t.t().contiguous(), requires_grad=False)
            layer.bias = nn.Parameter(first.bias.clone(), requires_grad=False)
            self.net = nn.Sequential(layer, *list(seq)[1:]).eval()
        self.imputes = any(not np.isnan(f) for f in fill)
        self.fill32: torch.Tensor
        self.register_buffer("fill32", torch.tensor(fill, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, n_inputs) f64 -> (B, k) f32
        if self.folded:  # all numeric: one cast, then float32 throughout
            h = x.float()
            if self.imputes:
                h = torch.where(torch.isnan(h), self.fill32, h)
            out = self.task.proba(self.net(h))
        else:
            out = self.task.proba(self.net(self._features(x).float()))
        if self.scaled:  # back to the target's units: y = z * scale + mean
            out = (out.double() * self.y_scale + self.y_mean).float()
        return out  # type: ignore[no-any-return]

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        """The preprocessed float64 features (B, F): one-hot blocks, scaled numbers."""
        xs = x.index_select(1, self.in_column)  # (B, F): each output feature's raw column
        xs = torch.where(torch.isnan(xs), self.fill_value, xs)  # impute as in training
        onehot = (xs == self.category_code).to(xs.dtype)
        z = (xs - self.shift) / self.divide_by
        if self.clip:  # robust scaling: smooth_clip, as mlplab
            z = z / torch.sqrt(1.0 + (z / CLIP) ** 2)  # encoders.smooth_clip, in torch
        return torch.where(self.is_numeric, z, onehot)


def encode_rows(run: Run, X: Any) -> np.ndarray:
    """Raw rows -> the float64 matrix the graph exports take (category values -> codes).

    >>> import mlplab
    >>> run = mlplab.train({"data": {"source": "gaussians", "n_samples": 100},
    ...                     "model": {"hidden": [4]}, "train": {"epochs": 2}}, save=False)
    >>> encode_rows(run, [[1.5, -2.0]]).tolist()
    [[1.5, -2.0]]
    """
    frame = run.as_frame(X)
    pre = run.preprocessor
    missing = [c for c in pre.input_columns if c not in frame.columns]
    if missing:
        raise RunError(f"missing input column(s): {', '.join(missing)}",
                       expected=f"the training columns {', '.join(pre.input_columns[:20])}")
    out = np.empty((len(frame), len(pre.input_columns)), dtype=np.float64)
    for i, c in enumerate(pre.input_columns):
        if c in pre.categorical:
            vals = frame[c].astype(object)
            codes = pd.Index(pre.categorical[c], dtype=object).get_indexer(vals)
            out[:, i] = np.where(vals.isna().to_numpy(), np.nan, codes)
        else:  # as mlplab reads numbers: bools, "?"-style tokens, decimal commas
            out[:, i] = to_float(frame[c], c, getattr(pre, "na_values", ()),
                                 getattr(pre, "decimal", "."))
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
    values = np.asarray(run.predict(frame), dtype=np.float64)
    return values.reshape(len(frame), -1)


def signature(run: Run) -> dict[str, Any]:
    """What goes in and out of a graph export (written as the ``.json`` sidecar)."""
    pre = run.preprocessor
    out: dict[str, Any] = {"name": "proba", "columns": output_columns(run),
                           "task": run.task.name}
    scaler = target_scaler(run)
    if scaler is not None:
        out["target_scaler"] = {**scaler, "applied": "y = z * scale + mean (inside the graph)"}
    return {
        "input": {"name": "x", "dtype": "float64", "shape": ["batch", len(pre.input_columns)],
                  "columns": list(pre.input_columns),
                  "categorical": {c: list(v) for c, v in pre.categorical.items()},
                  "encoding": "numeric columns: raw values (NaN = missing); categorical "
                              "columns: index of the value in 'categorical' (-1 = unseen)"},
        "output": out,
    }


# --- checking ------------------------------------------------------------------------------


def sample_inputs(run: Run, n: int = 64,
                  seed: int = 0) -> dict[str, tuple[np.ndarray, pd.DataFrame]]:
    """Encoded rows to verify on: 'random' (scaled-normal numbers, random categories) and,
    when the run's dataset can be loaded again, 'real' (its first rows)."""
    pre = run.preprocessor
    rng = np.random.default_rng(seed)
    x = np.empty((n, len(pre.input_columns)), dtype=np.float64)
    for i, c in enumerate(pre.input_columns):
        if c in pre.categorical:
            x[:, i] = rng.integers(0, max(1, len(pre.categorical[c])), size=n)
        else:
            x[:, i] = pre.center[c] + pre.spread[c] * rng.normal(size=n) * 1.5
    out = {"random": (x, _decode_rows(run, x))}
    try:
        from mlplab.data import clean_missing, load_table

        table = clean_missing(load_table(run.config.data, run.config.seed),
                              run.config.data.impute)
        frame = table.X.iloc[:n].reset_index(drop=True)
        out["real"] = (encode_rows(run, frame), frame)
    except (MlplabError, OSError):
        pass  # the data file moved: random rows only (the report says so)
    return out


Predictor = Callable[[np.ndarray, pd.DataFrame], np.ndarray]  # (codes, raw rows) -> output


def tolerance_for(run: Run) -> Tolerance:
    """Absolute on probabilities, relative on regression values."""
    return TOLERANCE["probabilities" if run.task.is_classification else "values"]


def check(run: Run, predict: Predictor, tol: Tolerance | None = None) -> dict[str, float]:
    """Max |exported - mlplab| on each input set; raises RunError beyond the tolerance."""
    tol = tol or tolerance_for(run)
    diffs: dict[str, float] = {}
    for name, (x, frame) in sample_inputs(run).items():
        got = np.asarray(predict(x, frame), dtype=np.float64)
        want = reference(run, frame)
        if got.shape != want.shape:
            raise RunError(f"the export returns the wrong shape on {name} inputs",
                           expected=str(want.shape), found=str(got.shape))
        err = np.abs(got - want)
        diffs[name] = float(err.max(initial=0.0))
        worst = float(np.max(err - tol.rtol * np.abs(want), initial=0.0))
        if not worst <= tol.atol:  # also catches NaN
            raise RunError(f"the export disagrees with mlplab on {name} inputs",
                           expected=f"|difference| <= {tol.atol:g} + {tol.rtol:g} * |value|",
                           found=f"max |difference| {diffs[name]:.3g}",
                           hint="please report this as a bug")
    return diffs


# --- the formats ---------------------------------------------------------------------------


def _example(run: Run) -> torch.Tensor:
    return torch.from_numpy(sample_inputs(run, n=4)["random"][0])


def write_onnx(run: Run, path: Path) -> Predictor:
    """``model.onnx``: one self-contained file (no ``.onnx.data``), checked with onnxruntime."""
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
            program = torch.onnx.export(module, (_example(run),), dynamo=True,
                                        input_names=["x"], output_names=["proba"],
                                        dynamic_shapes={"x": {0: batch}}, verbose=False)
    finally:
        quiet.setLevel(level)
    assert program is not None
    model = program.model_proto  # weights inside the proto: nothing beside the file
    model.metadata_props.add(key="mlplab.signature", value=json.dumps(signature(run)))
    onnx.checker.check_model(model)
    runs.atomic_write_bytes(path, model.SerializeToString())
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return lambda x, frame: session.run(["proba"], {"x": x})[0]


def write_torchscript(run: Run, path: Path) -> Predictor:
    """``model.torchscript.pt``: the traced module, reloaded to be checked."""
    module = RawInputModel(run).eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(module, (_example(run),))
        torch.jit.save(traced, str(path))
        loaded = torch.jit.load(str(path))
    return lambda x, frame: loaded(torch.from_numpy(x)).detach().numpy()


def write_program(run: Run, path: Path) -> Predictor:
    """``model.pt2``: a ``torch.export`` ExportedProgram with a dynamic batch, reloaded."""
    module = RawInputModel(run).eval()
    batch = torch.export.Dim("batch", min=1)
    ep = torch.export.export(module, (_example(run),), dynamic_shapes={"x": {0: batch}})
    torch.export.save(ep, str(path))
    loaded = torch.export.load(str(path)).module()
    return lambda x, frame: loaded(torch.from_numpy(x)).detach().numpy()


__all__ = ["TOLERANCE", "RawInputModel", "Tolerance", "check", "encode_rows", "signature",
           "write_onnx", "write_program", "write_torchscript"]
