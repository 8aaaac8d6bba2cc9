"""Exports of an imported run: the notebook and ``train.py`` load the learner's weights from
the run's ``model.safetensors`` (no unpickling), train nothing, describe no optimizer, and
reproduce the run's numbers; they copy the learner's class and nothing of the top-level code
of the file it lives in (which may be the whole training script)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch

import mlplab
from mlplab.cli.main import main
from mlplab.export import export
from mlplab.export.usercode import needed_source
from mlplab.runs.importer import load_module

nbformat = pytest.importorskip("nbformat")

# the corpus's classes in the learner's training script: the file trains, saves, and would
# hand the model to mlplab.train(..., overwrite=True) when run as a script; one line runs on
# every import of the file and leaves a mark
SCRIPT = textwrap.dedent('''
    from pathlib import Path

    import torch
    from torch import nn

    import mlplab

    HIDDEN = 8
    EPOCHS = 150


    class SigmoidInForward(nn.Module):  # tutorial 000
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(2, HIDDEN)
            self.fc2 = nn.Linear(HIDDEN, 1)

        def forward(self, x):
            return torch.sigmoid(self.fc2(torch.relu(self.fc1(x))))


    class Softmax2(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(2, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 2))

        def forward(self, x):
            return torch.softmax(self.net(x), dim=1)


    class LogSoftmax2(Softmax2):
        def forward(self, x):
            return torch.log_softmax(self.net(x), dim=1)


    MARK = open(Path(__file__).with_name("ran.txt"), "a").write("top-level code ran\\n")
    model = SigmoidInForward()
    if __name__ == "__main__":
        run = mlplab.train({"data": {"source": "moons"}}, model=model, out="runs/mine",
                           overwrite=True)
''')
# class -> the loss plain PyTorch trains its output with
LOSSES: dict[str, Any] = {
    "SigmoidInForward": lambda out, y: torch.nn.functional.binary_cross_entropy(
        out[:, 0], y.float()),
    "Softmax2": lambda out, y: torch.nn.functional.nll_loss(torch.log(out), y),
    "LogSoftmax2": lambda out, y: torch.nn.functional.nll_loss(out, y),
}
DRIVER = """
import contextlib, io, json, os, runpy, sys
os.chdir(sys.argv[1])
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    runpy.run_path("train.py", run_name="__main__")
print(buf.getvalue().splitlines()[-1])
assert not any(m == "mlplab" or m.startswith("mlplab.") for m in sys.modules), "imported mlplab"
"""


def _marks(d: Path) -> int:
    ran = d / "ran.txt"
    return len(ran.read_text().splitlines()) if ran.exists() else 0


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> dict[str, tuple[Path, str, Any]]:
    """Each class trained with plain PyTorch (Adam, 150 epochs), saved, and imported:
    class -> (run directory, --module text, the reloaded Run)."""
    d = tmp_path_factory.mktemp("learner")
    (d / "net.py").write_text(SCRIPT)
    g = torch.Generator().manual_seed(3)
    X = torch.randn(240, 2, generator=g)
    y = (X.norm(dim=1) < 1.1).long()
    pd.DataFrame({"a": X[:, 0].numpy(), "b": X[:, 1].numpy(), "label": y.numpy()}).to_csv(
        d / "d.csv", index=False)
    out = {}
    for cls, loss_fn in LOSSES.items():
        spec = f"{d / 'net.py'}:{cls}"
        torch.manual_seed(0)
        model = load_module(spec)
        opt = torch.optim.Adam(model.parameters(), lr=0.05)
        for _ in range(150):
            loss = loss_fn(model(X), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        torch.save(model.state_dict(), d / f"{cls}.pt")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert main(["import", str(d / f"{cls}.pt"), "--module", spec, "--data",
                         str(d / "d.csv"), "--target", "label", "-o", str(d / cls),
                         "--set", "log.plots=false", "--quiet"]) == 0
        out[cls] = (d / cls, spec, mlplab.load(d / cls, model=load_module(spec)))
    return out


def _assert_reproduced(run: Any, got: dict[str, Any]) -> None:
    for split in ("train", "test"):
        assert got[split]["accuracy"] == run.metrics[split]["accuracy"], split
        assert got[split]["loss"] == pytest.approx(run.metrics[split]["loss"], rel=1e-5)
    assert run.metrics["test"]["accuracy"] > 0.9  # the learner's trained weights, not new ones


def _no_training_and_no_script_code(text: str) -> None:
    assert "optimizer" not in text and "optim." not in text and ".backward()" not in text
    assert "EPOCHS" not in text and "manual_seed(SEED)" not in text
    assert "load_file(WEIGHTS)" in text and "torch.load(WEIGHTS" not in text
    assert "ran.txt" not in text and "mlplab.train" not in text and "import mlplab" not in text
    assert "model = SigmoidInForward()" not in text


@pytest.mark.parametrize("cls", list(LOSSES))
def test_the_train_script_of_an_imported_run_loads_its_weights_and_reproduces_it(
        imported, cls: str, tmp_path: Path) -> None:
    """Regression (issue 28): train.py of an imported run built a fresh model from the seed
    and "trained" it 0 epochs with an optimizer the learner never used (39% accuracy, not the
    run's 95%), and copied every top-level statement of the learner's file."""
    run_dir, _, run = imported[cls]
    before = _marks(run_dir.parent)
    export(run, "train-script", tmp_path / "train.py")
    text = (tmp_path / "train.py").read_text()
    _no_training_and_no_script_code(text)
    assert f"class {cls}(" in text and "imported" in text.splitlines()[0]
    done = subprocess.run([sys.executable, "-c", DRIVER, str(tmp_path)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.splitlines()[-1])
    assert got["imported"] == f"{cls}.pt"
    _assert_reproduced(run, got)
    assert _marks(run_dir.parent) == before  # nothing of the learner's script ran


@pytest.mark.parametrize("cls", ["SigmoidInForward", "LogSoftmax2"])
def test_the_notebook_of_an_imported_run_loads_its_weights_and_reproduces_it(
        imported, cls: str, tmp_path: Path, notebooks: Any) -> None:
    """Regression (issue 28): the notebook of an imported run re-initialised the model and
    described an optimizer and training that never happened."""
    run_dir, _, run = imported[cls]
    before = _marks(run_dir.parent)
    result = export(run, "notebook", tmp_path / "train.ipynb")
    nb = nbformat.read(result.path, as_version=4)
    _no_training_and_no_script_code("\n".join(c.source for c in nb.cells))
    assert "not train" in nb.cells[0].source
    done = notebooks.run(nb, str(tmp_path))
    _assert_reproduced(run, json.loads(notebooks.last_line(done.cells[-1])))
    assert _marks(run_dir.parent) == before


def test_only_the_class_and_what_it_uses_is_copied_from_a_training_script() -> None:
    """Regression (issue 28): exports copied every import, assignment and function of the
    learner's file, so a top-level `run = mlplab.train(..., overwrite=True)` or `open(...)`
    ran again in the exported script."""
    code = needed_source(SCRIPT, "LogSoftmax2")
    assert "class Softmax2(nn.Module):" in code and "class LogSoftmax2(Softmax2):" in code
    assert "HIDDEN = 8" in code and "import torch" in code and "from torch import nn" in code
    for left_out in ("mlplab", "open(", "EPOCHS", "pathlib", "model =", "SigmoidInForward",
                     "__main__"):
        assert left_out not in code, left_out
    namespace: dict[str, Any] = {}
    exec(compile(code, "<export>", "exec"), namespace)  # it stands alone
    assert isinstance(namespace["LogSoftmax2"](), torch.nn.Module)
