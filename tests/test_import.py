"""Bring your own model: a learner's state_dict and module class become a run that every
command works on; a whole pickled model is refused without running anything in it."""

from __future__ import annotations

import json
import os
import pickle
import warnings

import numpy as np
import pytest
import torch

from mlplab.cli.main import main
from mlplab.errors import ConfigError, RunError
from mlplab.runs.importer import import_run, load_module, read_state_dict

# tutorial 000's network as a learner writes it: torch.relu in forward, a sigmoid output
SIMPLE_NN = '''
import torch
import torch.nn as nn


class SimpleNN(nn.Module):
    def __init__(self, hidden=4):
        super().__init__()
        self.fc1 = nn.Linear(2, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, 1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.sigmoid(self.fc3(x))
'''


@pytest.fixture()
def learner(tmp_path):
    """The tutorial's steps in plain PyTorch: disk data, train, save the state_dict."""
    (tmp_path / "net.py").write_text(SIMPLE_NN)
    model = load_module(f"{tmp_path / 'net.py'}:SimpleNN")
    from mlplab.data.synthetic import disk

    X, y = (torch.as_tensor(a) for a in disk(100, None, 42))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(300):
        loss = torch.nn.functional.binary_cross_entropy(model(X), y.float().reshape(-1, 1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.save(model.state_dict(), tmp_path / "net_parameter.pkl")
    with torch.no_grad():
        acc = float(((model(X)[:, 0] >= 0.5).long() == y).float().mean())
    return tmp_path, model, acc


def _import(tmp_path, *extra: str) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return main(["import", str(tmp_path / "net_parameter.pkl"), "--module",
                     f"{tmp_path / 'net.py'}:SimpleNN", "--data", "disk", "--set",
                     "data.n_samples=100", "--set", "data.test_size=0", "--set", "seed=42",
                     "-o", str(tmp_path / "run"), *extra])


def test_import_scores_the_learners_model_as_plain_pytorch_does(learner):
    tmp_path, model, acc = learner
    assert _import(tmp_path) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["train"]["accuracy"] == pytest.approx(acc)
    arch = json.loads((tmp_path / "run" / "model.json").read_text())["architecture"]
    assert arch["type"] == "custom" and arch["class"] == "SimpleNN"
    assert arch["structure"] == str(model)
    assert arch["sha256"] == __import__("hashlib").sha256(
        (tmp_path / "net.py").read_bytes()).hexdigest()
    assert arch["source"] == str(tmp_path / "net.py")
    assert (tmp_path / "run" / "config.yaml").read_text().count("epochs: 0") == 1


def test_every_command_works_on_the_imported_run_with_module(learner, capsys):
    tmp_path, _, _ = learner
    assert _import(tmp_path) == 0
    run, mod = str(tmp_path / "run"), ["--module", f"{tmp_path / 'net.py'}:SimpleNN"]
    capsys.readouterr()
    assert main(["show", run, *mod]) == 0
    shown = capsys.readouterr().out
    assert "SimpleNN (your module)" in shown and "(fc1): Linear(in_features=2" in shown
    assert "activation: relu" not in shown and "inputs: used as given (no scaling)" in shown
    assert main(["evaluate", run, "--data", "disk", "--json", *mod]) == 0
    assert 0.0 <= json.loads(capsys.readouterr().out)["accuracy"] <= 1.0
    assert main(["plot", run, "--kind", "boundary", "--overwrite", *mod]) == 0
    assert (tmp_path / "run" / "boundary.png").is_file()
    assert main(["report", run, "--overwrite", *mod]) == 0
    assert (tmp_path / "run" / "report.html").is_file()
    assert main(["export", run, "--format", "torchscript", *mod]) == 0
    assert (tmp_path / "run" / "model.torchscript.pt").is_file()


def test_a_run_of_a_module_names_the_module_flag_when_it_is_missing(learner, capsys):
    tmp_path, _, _ = learner
    assert _import(tmp_path) == 0
    capsys.readouterr()
    assert main(["show", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--module" in err and "SimpleNN" in err


class _Marker:
    """Unpickling this would create a file: proof that nothing in the pickle ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_a_whole_pickled_model_is_refused_and_nothing_in_it_runs(tmp_path, capsys):
    marker = tmp_path / "ran"
    with open(tmp_path / "net.pkl", "wb") as f:
        pickle.dump({"fc1.weight": _Marker(str(marker))}, f)
    with pytest.raises(RunError, match=r"whole pickled model.*would run code.*state_dict"):
        read_state_dict(tmp_path / "net.pkl")
    (tmp_path / "net.py").write_text(SIMPLE_NN)
    code = main(["import", str(tmp_path / "net.pkl"), "--module",
                 f"{tmp_path / 'net.py'}:SimpleNN", "--data", "disk", "-o",
                 str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert "torch.save(model.state_dict()" in err
    assert not marker.exists() and not (tmp_path / "run").exists()


def test_a_real_torch_save_of_a_whole_model_is_refused(tmp_path):
    (tmp_path / "net.py").write_text(SIMPLE_NN)
    torch.save(load_module(f"{tmp_path / 'net.py'}:SimpleNN"), tmp_path / "net.pkl")
    with pytest.raises(RunError, match="whole pickled model"):
        read_state_dict(tmp_path / "net.pkl")


def test_module_specs_with_arguments_and_clear_errors(tmp_path):
    (tmp_path / "net.py").write_text(SIMPLE_NN)
    net = load_module(f"{tmp_path / 'net.py'}:SimpleNN(hidden=6)")
    assert net.fc1.out_features == 6
    with pytest.raises(ConfigError, match="has no 'Simple'"):
        load_module(f"{tmp_path / 'net.py'}:Simple")
    with pytest.raises(ConfigError, match="arguments must be literals"):
        load_module(f"{tmp_path / 'net.py'}:SimpleNN(open('x'))")
    with pytest.raises(ConfigError, match=r"FILE\.py:CLASS"):
        load_module("net:SimpleNN")


def test_weights_that_do_not_fit_the_module_are_refused(tmp_path):
    (tmp_path / "net.py").write_text(SIMPLE_NN)
    torch.save(load_module(f"{tmp_path / 'net.py'}:SimpleNN(hidden=6)").state_dict(),
               tmp_path / "w.pt")
    with pytest.raises(RunError, match="do not fit SimpleNN"):
        import_run(tmp_path / "w.pt", f"{tmp_path / 'net.py'}:SimpleNN",
                   {"data": {"source": "disk", "n_samples": 50}}, save=False)


def test_a_module_ending_in_softmax_is_told_to_remove_it(tmp_path):
    """Tutorial 004's net fed to cross_entropy: the hint speaks about the module."""
    (tmp_path / "seq.py").write_text(
        "import torch.nn as nn\n"
        "net = nn.Sequential(nn.Linear(2, 5), nn.Sigmoid(), nn.Linear(5, 2), nn.Softmax(dim=1))\n")
    torch.save(load_module(f"{tmp_path / 'seq.py'}:net").state_dict(), tmp_path / "w.pt")
    with pytest.raises(ConfigError, match=r"remove the final nn.Softmax"):
        import_run(tmp_path / "w.pt", f"{tmp_path / 'seq.py'}:net",
                   {"data": {"source": "gaussians", "n_samples": 50}, "loss": "cross_entropy"},
                   save=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = import_run(tmp_path / "w.pt", f"{tmp_path / 'seq.py'}:net",
                         {"data": {"source": "gaussians", "n_samples": 50}}, save=False)
    assert run.task.loss == "nll"  # the softmax output is read as probabilities
    np.testing.assert_allclose(run.predict_proba([[2.0, 2.0]]).sum(), 1.0, rtol=1e-6)


def test_the_diagnosis_of_an_imported_model_does_not_invent_a_history(learner):
    """An import has no training history: no "the loss fell steadily"; the model's own
    statistics (hooks on its Linear layers) and final scores are what it reads."""
    import mlplab
    from mlplab.inspect.diagnosis import diagnose, evidence_for

    tmp_path, _, acc = learner
    assert _import(tmp_path) == 0
    run = mlplab.load(tmp_path / "run", model=load_module(f"{tmp_path / 'net.py'}:SimpleNN"))
    ev = evidence_for(run, mlplab.prepare(run.config))
    assert ev.history == [] and ev.train_score() == pytest.approx(acc)
    assert ev.activations == ["relu", "relu"] and ev.linear is False
    text = " ".join(f.detail for f in diagnose(ev, "en"))
    assert "fell steadily" not in text


def test_checkpoint_dicts_and_safetensors_are_read_as_state_dicts(tmp_path):
    from safetensors.torch import save_file

    (tmp_path / "net.py").write_text(SIMPLE_NN)
    sd = load_module(f"{tmp_path / 'net.py'}:SimpleNN").state_dict()
    torch.save({"epoch": 3, "model_state_dict": sd}, tmp_path / "ckpt.pt")
    save_file(dict(sd), str(tmp_path / "w.safetensors"))
    for name in ("ckpt.pt", "w.safetensors"):
        got = read_state_dict(tmp_path / name)
        assert got.keys() == sd.keys()
        assert all(torch.equal(got[k], sd[k]) for k in sd)
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(RunError, match="is not a state_dict"):
        read_state_dict(tmp_path / "list.pt")
