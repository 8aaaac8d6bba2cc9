"""``mlplab import --head`` and ``--set model.output=``: the stated output kind reaches
``read_output`` on import as it does in training, and wins over the probe."""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import mlplab
from mlplab.cli.main import main
from mlplab.runs.importer import load_module

# a sigmoid written out by hand: the probe sees a division, not a sigmoid, and reads logits
HAND_SIGMOID = textwrap.dedent('''
    import torch
    from torch import nn


    class HandSigmoid(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(2, 8)
            self.fc2 = nn.Linear(8, 1)

        def forward(self, x):
            z = self.fc2(torch.relu(self.fc1(x)))
            return 1 / (1 + torch.exp(-z))
''')


@pytest.fixture()
def hand_sigmoid(tmp_path: Path) -> tuple[Path, nn.Module, float]:
    """The module trained with BCELoss in plain PyTorch, its data as a CSV, and its accuracy."""
    (tmp_path / "net.py").write_text(HAND_SIGMOID)
    model = load_module(f"{tmp_path / 'net.py'}:HandSigmoid")
    g = torch.Generator().manual_seed(3)
    X = torch.randn(200, 2, generator=g)
    y = (X.norm(dim=1) < 1.1).float()
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(200):
        loss = nn.BCELoss()(model(X), y.reshape(-1, 1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.save(model.state_dict(), tmp_path / "net.pt")
    pd.DataFrame({"a": X[:, 0].numpy(), "b": X[:, 1].numpy(),
                  "label": y.numpy().astype(int)}).to_csv(tmp_path / "d.csv", index=False)
    with torch.no_grad():
        acc = int(((model(X)[:, 0] >= 0.5).float() == y).sum()) / len(y)
    return tmp_path, model, acc


def _import(d: Path, *extra: str) -> mlplab.Run:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["import", str(d / "net.pt"), "--module", f"{d / 'net.py'}:HandSigmoid",
                     "--data", str(d / "d.csv"), "--target", "label", "--set",
                     "data.test_size=0", "-o", str(d / "run"), "--overwrite", "--quiet",
                     *extra])
    assert code == 0
    return mlplab.load(d / "run", model=load_module(f"{d / 'net.py'}:HandSigmoid"))


@pytest.mark.parametrize("how", [["--head", "sigmoid"], ["--set", "model.output=sigmoid"]])
def test_a_stated_head_wins_over_the_probe_on_import(hand_sigmoid, how: list[str]) -> None:
    """Regression (issue 28): import had no --head and ignored --set model.output, so a
    hand-written sigmoid was scored as logits (every probability above 0.5)."""
    d, _, acc = hand_sigmoid
    run = _import(d, *how)
    assert run.task.output == "sigmoid" and run.task.loss == "bce"
    assert run.metrics["train"]["accuracy"] == pytest.approx(acc, abs=1e-12)
    assert "as configured" in run.info["output"]


def test_without_a_head_the_probe_decides_and_says_so(hand_sigmoid) -> None:
    """The probe's answer is what import uses when nothing is stated (and it is recorded)."""
    d, _, _ = hand_sigmoid
    run = _import(d)
    assert run.task.output == "logits"
    assert "logits" in run.info["output"]


def test_a_head_forward_cannot_return_is_refused_on_import(tmp_path: Path, capsys) -> None:
    """--head softmax on a one-column output is refused in one line, nothing written."""
    (tmp_path / "net.py").write_text(HAND_SIGMOID)
    model = load_module(f"{tmp_path / 'net.py'}:HandSigmoid")
    torch.save(model.state_dict(), tmp_path / "net.pt")
    X = np.random.default_rng(0).normal(size=(50, 2))
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "label": (X[:, 0] > 0).astype(int)}).to_csv(
        tmp_path / "d.csv", index=False)
    code = main(["import", str(tmp_path / "net.pt"), "--module",
                 f"{tmp_path / 'net.py'}:HandSigmoid", "--data", str(tmp_path / "d.csv"),
                 "--target", "label", "--head", "softmax", "-o", str(tmp_path / "run")])
    assert code == 2
    assert "softmax" in capsys.readouterr().err
    assert not (tmp_path / "run" / "model.safetensors").exists()
