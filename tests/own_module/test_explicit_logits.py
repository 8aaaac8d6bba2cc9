"""An explicit head always wins, logits included (issue 29): ``model.output`` defaults to
"auto", so ``read_output`` can tell "not given" (the probe decides) from ``--head logits``
(honoured, whatever forward ends in: logits may be any values); the saved config holds the
kind that ran, on train and on import."""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from torch import nn

import mlplab
from mlplab.cli.main import main
from mlplab.config import RunConfig
from mlplab.outputs import read_output
from mlplab.runs.importer import load_module

# forward ends in torch.sigmoid: the probe reads "sigmoid"
SIGMOID_NET = textwrap.dedent('''
    import torch
    from torch import nn


    class SigmoidNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 1)

        def forward(self, x):
            return torch.sigmoid(self.fc(x))
''')


class HandSigmoid(nn.Module):
    """A sigmoid written out by hand: the probe sees a division and reads logits."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 1 / (1 + torch.exp(-self.fc(x)))


class SigmoidNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.fc(x))


def _data() -> pd.DataFrame:
    X = np.random.default_rng(0).normal(size=(120, 2))
    return pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "label": (X.sum(1) > 0).astype(int)})


CFG = {"data": {"target": "label"}, "train": {"epochs": 5}, "log": {"quiet": True}}


def test_the_default_output_is_auto_and_resolves_to_logits_for_an_mlp() -> None:
    assert RunConfig().model.output == "auto"
    run = mlplab.train({"data": {"source": "moons", "n_samples": 100}, "train": {"epochs": 2},
                        "log": {"quiet": True, "plots": False}}, save=False)
    assert run.config.model.output == "logits" == run.task.output


def test_a_hand_written_sigmoid_is_read_as_logits_by_default(tmp_path: Path) -> None:
    torch.manual_seed(0)
    run = mlplab.train(CFG, data=_data(), model=HandSigmoid(), out=tmp_path / "r")
    assert run.task.output == "logits" and run.task.loss == "bce_logits"
    saved = yaml.safe_load((tmp_path / "r" / "config.yaml").read_text())
    assert saved["model"]["output"] == "logits"


def test_read_output_honours_an_explicit_logits_over_a_sigmoid_forward() -> None:
    """Regression: a stated "logits" was indistinguishable from the default and lost to the
    probe; any values pass the logits check."""
    net = SigmoidNet()
    x = torch.randn(16, 2)
    assert read_output(net, x).kind == "sigmoid"  # auto: the probe decides
    found = read_output(net, x, "logits")
    assert found.kind == "logits" and "as configured" in found.reason


def test_an_explicit_logits_head_wins_on_train(tmp_path: Path) -> None:
    torch.manual_seed(0)
    cfg = {**CFG, "model": {"output": "logits"}}
    run = mlplab.train(cfg, data=_data(), model=SigmoidNet(), out=tmp_path / "r")
    assert run.task.output == "logits" and run.task.loss == "bce_logits"
    assert "as configured" in run.info["output"]
    saved = yaml.safe_load((tmp_path / "r" / "config.yaml").read_text())
    assert saved["model"]["output"] == "logits"
    # and without it the probe's sigmoid is what trains and is saved
    auto = mlplab.train(CFG, data=_data(), model=SigmoidNet(), out=tmp_path / "a")
    assert auto.task.output == "sigmoid" and auto.config.model.output == "sigmoid"


@pytest.mark.parametrize("head", [[], ["--head", "logits"]])
def test_an_explicit_logits_head_wins_on_import(tmp_path: Path, head: list[str]) -> None:
    (tmp_path / "net.py").write_text(SIGMOID_NET)
    model = load_module(f"{tmp_path / 'net.py'}:SigmoidNet")
    torch.save(model.state_dict(), tmp_path / "net.pt")
    _data().to_csv(tmp_path / "d.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["import", str(tmp_path / "net.pt"), "--module",
                     f"{tmp_path / 'net.py'}:SigmoidNet", "--data", str(tmp_path / "d.csv"),
                     "--target", "label", "-o", str(tmp_path / "run"), "--quiet", *head])
    assert code == 0
    run = mlplab.load(tmp_path / "run", model=load_module(f"{tmp_path / 'net.py'}:SigmoidNet"))
    want = "logits" if head else "sigmoid"
    assert run.task.output == want and run.config.model.output == want
