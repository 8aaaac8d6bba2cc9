"""A corpus of learner modules, written the ways the tutorials and their readers write them,
through every route mlplab offers (the notebook helpers, ``mlplab.train`` with the module, a
run trained further, ``mlplab import``): each must score what plain PyTorch scores, with the
loss that fits what its ``forward`` returns."""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import mlplab
from mlplab.cli.main import main
from mlplab.errors import ConfigError
from mlplab.outputs import probe_output

SOURCE = textwrap.dedent('''
    import torch
    from torch import nn


    class SigmoidInForward(nn.Module):  # tutorial 000
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(2, 8)
            self.fc2 = nn.Linear(8, 1)

        def forward(self, x):
            return torch.sigmoid(self.fc2(torch.relu(self.fc1(x))))


    class SigmoidFirst(nn.Module):  # nn.Sigmoid registered before the Linear layers
        def __init__(self):
            super().__init__()
            self.sigmoid = nn.Sigmoid()
            self.fc1 = nn.Linear(2, 8)
            self.relu = nn.ReLU()
            self.fc2 = nn.Linear(8, 1)

        def forward(self, x):
            return self.sigmoid(self.fc2(self.relu(self.fc1(x))))


    class LogitsUnusedSigmoid(SigmoidFirst):  # declares a sigmoid, returns logits
        def forward(self, x):
            return self.fc2(self.relu(self.fc1(x)))


    class Softmax2(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))

        def forward(self, x):
            return torch.softmax(self.net(x), dim=1)


    class LogSoftmax2(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2),
                                     nn.LogSoftmax(dim=1))

        def forward(self, x):
            return self.net(x)
''')
NAMESPACE: dict[str, Any] = {"__name__": "__main__"}  # as a notebook cell defines them
exec(compile(SOURCE, "<notebook cell>", "exec"), NAMESPACE)

# name -> (builder, kind its forward returns)
CORPUS = {
    "sigmoid-in-forward": (lambda: NAMESPACE["SigmoidInForward"](), "sigmoid"),
    "sigmoid-registered-first": (lambda: NAMESPACE["SigmoidFirst"](), "sigmoid"),
    "logits-unused-sigmoid": (lambda: NAMESPACE["LogitsUnusedSigmoid"](), "logits"),
    "softmax": (lambda: NAMESPACE["Softmax2"](), "softmax"),
    "log-softmax": (lambda: NAMESPACE["LogSoftmax2"](), "log_softmax"),
    "sequential-logits": (lambda: nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1)),
                          "logits"),
    "sequential-sigmoid": (lambda: nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1),
                                                 nn.Sigmoid()), "sigmoid"),
}


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    X = torch.randn(240, 2, generator=g)
    return X, (X.norm(dim=1) < 1.1).float()


def plain_loss_and_predictions(model: nn.Module, kind: str, X: torch.Tensor,
                               y: torch.Tensor) -> tuple[nn.Module, torch.Tensor]:
    """The loss a careful PyTorch user pairs with this output, and the predicted labels."""
    out = model(X)
    if kind in ("logits", "sigmoid"):
        loss_fn = nn.BCEWithLogitsLoss() if kind == "logits" else nn.BCELoss()
        p1 = torch.sigmoid(out) if kind == "logits" else out
        return loss_fn(out, y.reshape(-1, 1)), (p1.reshape(-1) >= 0.5).long()
    logp = torch.log(out.clamp_min(torch.finfo(out.dtype).tiny)) if kind == "softmax" else out
    return nn.NLLLoss()(logp, y.long()), out.argmax(dim=1)


def plain_train(model: nn.Module, kind: str, X: torch.Tensor, y: torch.Tensor,
                epochs: int) -> list[float]:
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for _ in range(epochs):
        opt.zero_grad()
        loss, _ = plain_loss_and_predictions(model, kind, X, y)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    return losses


@pytest.fixture(scope="module")
def trained() -> dict[str, nn.Module]:
    """Each corpus module after 150 plain full-batch SGD epochs."""
    X, y = _data()
    out = {}
    for name, (build, kind) in CORPUS.items():
        torch.manual_seed(0)
        model = build()
        plain_train(model, kind, X, y, 150)
        out[name] = model
    return out


def _reference(model: nn.Module, kind: str) -> tuple[float, float]:
    X, y = _data()
    with torch.no_grad():
        loss, pred = plain_loss_and_predictions(model, kind, X, y)
    return float(loss), int((pred == y.long()).sum()) / len(y)


CFG = {"data": {"scale": "none", "test_size": 0.0, "val_size": 0.0},
       "train": {"epochs": 0}, "log": {"quiet": True, "plots": False}}


@pytest.mark.parametrize("name", CORPUS)
def test_the_probe_reads_what_forward_returns(name: str) -> None:
    build, kind = CORPUS[name]
    got = probe_output(build(), _data()[0])
    assert got.kind == kind, got


@pytest.mark.parametrize("labels", ["(n,)", "(n, 1)"])
@pytest.mark.parametrize("name", CORPUS)
def test_helpers_score_what_plain_pytorch_scores(name: str, labels: str, trained) -> None:
    model, kind = trained[name], CORPUS[name][1]
    X, y = _data()
    want_loss, want_acc = _reference(model, kind)
    got = mlplab.evaluate(model, X, y.reshape(-1, 1) if labels == "(n, 1)" else y.long())
    assert got["accuracy"] == pytest.approx(want_acc, abs=1e-12)
    assert got["output"].startswith(kind)


@pytest.mark.parametrize("name", CORPUS)
def test_a_run_of_the_module_scores_what_plain_pytorch_scores(name: str, trained) -> None:
    model, kind = trained[name], CORPUS[name][1]
    X, y = _data()
    want_loss, want_acc = _reference(model, kind)
    run = mlplab.train(CFG, data=(X.numpy(), y.numpy()), model=copy.deepcopy(model), save=False)
    assert run.task.output == kind and run.info["output"].startswith(kind)
    assert run.metrics["train"]["accuracy"] == pytest.approx(want_acc, abs=1e-12)
    assert run.metrics["train"]["loss"] == pytest.approx(want_loss, rel=1e-5)


@pytest.mark.parametrize("name", CORPUS)
def test_training_the_module_follows_plain_pytorch(name: str) -> None:
    build, kind = CORPUS[name]
    X, y = _data()
    torch.manual_seed(0)
    ref = build()
    mine = copy.deepcopy(ref)
    want = plain_train(ref, kind, X, y, 20)
    cfg = {**CFG, "optim": {"name": "sgd", "lr": 0.5, "weight_decay": 0.0},
           "train": {"epochs": 20, "eval_every": 1, "batch_size": None,
                     "early_stopping": None}}
    run = mlplab.train(cfg, data=(X.numpy(), y.numpy()), model=mine, save=False)
    got = [row["train_loss"] for row in run.history]
    assert got == pytest.approx(want, rel=1e-5)  # each epoch's loss, as the loop computed it
    for a, b in zip(ref.state_dict().values(), mine.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_an_explicit_head_that_forward_cannot_return_is_refused_before_training() -> None:
    X, y = _data()
    cfg = {**CFG, "model": {"output": "sigmoid"}, "train": {"epochs": 5}}
    with pytest.raises(ConfigError, match="does not return values in"):
        mlplab.train(cfg, data=(X.numpy() * 50, y.numpy()), model=CORPUS["sequential-logits"][0](),
                     save=False)


@pytest.mark.parametrize("name", ["sigmoid-in-forward", "log-softmax", "logits-unused-sigmoid"])
def test_import_scores_what_plain_pytorch_scores(name: str, trained, tmp_path: Path,
                                                 capsys) -> None:
    model, kind = trained[name], CORPUS[name][1]
    (tmp_path / "net.py").write_text(SOURCE)
    torch.save(model.state_dict(), tmp_path / "net.pt")
    X, y = _data()
    pd.DataFrame({"a": X[:, 0].numpy(), "b": X[:, 1].numpy(),
                  "label": y.numpy().astype(int)}).to_csv(tmp_path / "d.csv", index=False)
    cls = type(model).__name__
    assert main(["import", str(tmp_path / "net.pt"), "--module", f"{tmp_path / 'net.py'}:{cls}",
                 "--data", str(tmp_path / "d.csv"), "--target", "label", "-o",
                 str(tmp_path / "run"), "--set", "data.test_size=0", "--quiet"]) == 0
    run = mlplab.load(tmp_path / "run", model=copy.deepcopy(model))
    want_loss, want_acc = _reference(model, kind)
    assert run.task.output == kind
    assert run.metrics["train"]["accuracy"] == pytest.approx(want_acc, abs=1e-12)
    assert run.metrics["train"]["loss"] == pytest.approx(want_loss, rel=1e-5)
    assert np.isfinite(run.metrics["train"]["loss"])


@pytest.mark.parametrize("name", ["sigmoid-registered-first", "softmax", "log-softmax"])
def test_evaluate_on_a_file_scores_what_plain_pytorch_scores(name: str, trained,
                                                             tmp_path: Path, capsys) -> None:
    """``mlplab evaluate RUN --data FILE --module ...`` of an imported run: plain PyTorch's
    accuracy on those rows (the route a learner takes to score their net on new data)."""
    import json

    model, kind = trained[name], CORPUS[name][1]
    (tmp_path / "net.py").write_text(SOURCE)
    torch.save(model.state_dict(), tmp_path / "net.pt")
    X, y = _data()
    frame = pd.DataFrame({"a": X[:, 0].numpy(), "b": X[:, 1].numpy(),
                          "label": y.numpy().astype(int)})
    frame.to_csv(tmp_path / "d.csv", index=False)
    module = f"{tmp_path / 'net.py'}:{type(model).__name__}"
    assert main(["import", str(tmp_path / "net.pt"), "--module", module, "--data",
                 str(tmp_path / "d.csv"), "--target", "label", "-o", str(tmp_path / "run"),
                 "--set", "data.test_size=0", "--quiet"]) == 0
    g = torch.Generator().manual_seed(11)  # new rows the run never saw
    X2 = torch.randn(150, 2, generator=g)
    y2 = (X2.norm(dim=1) < 1.1).float()
    pd.DataFrame({"a": X2[:, 0].numpy(), "b": X2[:, 1].numpy(),
                  "label": y2.numpy().astype(int)}).to_csv(tmp_path / "new.csv", index=False)
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run"), "--data", str(tmp_path / "new.csv"),
                 "--module", module, "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    with torch.no_grad():
        _, pred = plain_loss_and_predictions(model, kind, X2, y2)
    want = int((pred == y2.long()).sum()) / len(y2)
    assert got["accuracy"] == pytest.approx(want, abs=1e-12)
