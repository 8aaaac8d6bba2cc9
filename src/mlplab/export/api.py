"""``export(run, format, path)``: every export format, written all-or-nothing.

Each format writes into a fresh temporary folder beside the destination and is checked there
(graph formats and ``predict.py`` against mlplab's own predictions, ``train.py`` by compiling
it, the notebook by nbformat's schema). Only then are its files moved into place, so a failed
export leaves nothing behind, and an existing file is replaced only with ``overwrite=True``.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mlplab.errors import ConfigError, RunError, did_you_mean
from mlplab.export import graph
from mlplab.export.codegen import Source
from mlplab.export.script import script_source
from mlplab.export.train import train_script
from mlplab.runs import store as runs
from mlplab.runs.run import Run, load

Writer = Callable[[Run, Path], "graph.Predictor | None"]  # None: nothing to compare


def _write_script(run: Run, path: Path) -> graph.Predictor:
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
        columns = {c: frame[c].tolist() for c in frame.columns}
        return np.asarray(mod.predict_proba(mod.preprocess(columns)))

    return predict


def _write_train_script(run: Run, path: Path) -> None:
    text = train_script(Source.from_run(run))
    compile(text, str(path), "exec")  # a syntax error here is a bug in the generator
    runs.atomic_write_text(path, text)


def _write_notebook(run: Run, path: Path) -> None:
    from mlplab.export.notebook import write_notebook

    write_notebook(Source.from_run(run), path)


@dataclass(frozen=True)
class Format:
    """One export format: its writer (which may return a predictor to verify) and file name."""

    write: Writer
    filename: str
    description: str
    graph: bool = False  # a serving graph: gets a .json sidecar with its signature


FORMATS: dict[str, Format] = {
    "onnx": Format(graph.write_onnx, "model.onnx", "ONNX (dynamic batch), checked with "
                   "onnxruntime", graph=True),
    "torchscript": Format(graph.write_torchscript, "model.torchscript.pt",
                          "TorchScript (traced)", graph=True),
    "exported-program": Format(graph.write_program, "model.pt2",
                               "torch.export ExportedProgram", graph=True),
    "script": Format(_write_script, "predict.py", "standalone PyTorch + NumPy predict.py"),
    "train-script": Format(_write_train_script, "train.py",
                           "plain-PyTorch training script (reproduces the run; an "
                           "imported run: loads its weights, trains nothing)"),
    "notebook": Format(_write_notebook, "train.ipynb",
                       "plain-PyTorch notebook (reproduces the run; an imported run: "
                       "loads its weights, trains nothing)"),
}


@dataclass
class ExportResult:
    """Where the export went and how closely it matched mlplab (max |diff| per input set)."""

    format: str
    path: Path
    max_abs_diff: dict[str, float] = field(default_factory=dict)
    sidecar: Path | None = None


def export(run: Run | str | Path, format: str, path: str | Path | None = None, *,
           overwrite: bool = False) -> ExportResult:
    """Export ``run`` (a :class:`Run` or a run directory) as ``format``, checked, atomically.

    Parameters
    ----------
    run : Run or path
        A run trained by mlplab (code formats need the built-in MLP).
    format : {'onnx', 'torchscript', 'exported-program', 'script', 'train-script', 'notebook'}
    path : str or Path, optional
        Output file; default ``<run dir>/<the format's file name>``.
    overwrite : bool
        Replace existing output files; without it they are refused and nothing is written.

    Returns
    -------
    ExportResult
        With the measured differences on random and real rows (graph formats and script).

    Example
    -------
    >>> import mlplab, tempfile
    >>> run = mlplab.train({"data": {"source": "moons", "n_samples": 100},
    ...                     "model": {"hidden": [4]}, "train": {"epochs": 5},
    ...                     "log": {"plots": False, "quiet": True}},
    ...                    out=tempfile.mkdtemp() + "/moons")
    >>> export(run, "train-script").path.name
    'train.py'
    """
    if format not in FORMATS:
        raise ConfigError(f"unknown export format '{format}'", expected=" | ".join(FORMATS),
                          hint=did_you_mean(format, FORMATS))
    fmt = FORMATS[format]
    if not isinstance(run, Run):
        run = load(run)
    if path is None:
        if run.path is None:
            raise RunError("where should the export go?", hint="pass path=... (or -o)")
        path = Path(run.path) / fmt.filename
    path = Path(path)
    outputs = [path] + ([path.with_name(path.name + ".json")] if fmt.graph else [])
    taken = [p for p in outputs if p.exists()]
    if taken and not overwrite:
        raise RunError(f"'{taken[0]}' exists", hint="pass --overwrite or choose another -o")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".mlplab-export-") as tmp:
        staged = Path(tmp) / path.name
        predict = fmt.write(run, staged)
        diffs = graph.check(run, predict) if predict is not None else {}
        if fmt.graph:
            runs.write_json(staged.with_name(staged.name + ".json"),
                            {"format": format, "file": path.name, **graph.signature(run),
                             "max_abs_diff": diffs})
        for out in outputs:  # every file checked: move them into place
            shutil.move(str(Path(tmp) / out.name), out)
    return ExportResult(format, path, diffs, outputs[1] if fmt.graph else None)


__all__ = ["FORMATS", "ExportResult", "Format", "export"]
