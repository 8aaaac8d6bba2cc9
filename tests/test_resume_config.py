"""What a resumed run trained with (issue 19 item 7): checkpoints are verified, the config is
written when the run starts, and a changed config is refused unless explicitly overridden."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

import mlplab
from mlplab.errors import RunError
from mlplab.training.callbacks import Callback
from mlplab.training.checkpoint import LATEST, META, load_latest

# mini-batches with plain SGD: the eager runner, whose optimizer reads lr at every step
CFG = {"name": "rc", "data": {"source": "gaussians", "n_samples": 120},
       "model": {"hidden": [5]}, "optim": {"name": "sgd", "lr": 0.1, "momentum": 0.9},
       "train": {"epochs": 12, "batch_size": 32, "eval_every": 4},
       "log": {"quiet": True, "plots": False, "checkpoint_every": 3}}


class Crash(Callback):
    every = 1

    def on_epoch(self, state) -> None:
        if state.epoch == 7:
            raise RuntimeError("power cut")


class SeesConfig(Callback):
    """Reads RUN/config.yaml while training."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.seen: dict | None = None

    def on_train_begin(self, state) -> None:
        self.seen = yaml.safe_load((self.run_dir / "config.yaml").read_text())


class LrFrom(Callback):
    """The independent reference for an override: set the lr by hand after ``epoch``."""

    every = 1

    def __init__(self, epoch: int, lr: float) -> None:
        self.epoch, self.lr = epoch, lr

    def on_epoch(self, state) -> None:
        if state.epoch == self.epoch:
            for g in state.optimizer.param_groups:
                g["lr"] = self.lr


@pytest.fixture
def interrupted(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    with pytest.raises(RuntimeError, match="power cut"):
        mlplab.train(CFG, out=run, callbacks=[Crash()])
    assert load_latest(run).epoch == 6
    return run


def _ckpt(run: Path) -> Path:
    return run / "checkpoints" / json.loads((run / "checkpoints" / LATEST).read_text())[
        "checkpoint"]


def test_config_yaml_exists_from_the_start(tmp_path: Path) -> None:
    seen = SeesConfig(tmp_path / "run")
    mlplab.train(CFG, out=tmp_path / "run", callbacks=[seen])
    assert seen.seen is not None and seen.seen["optim"]["lr"] == 0.1
    assert seen.seen["train"]["epochs"] == 12


def test_a_run_refused_before_training_writes_nothing(tmp_path: Path) -> None:
    from torch import nn

    from mlplab.errors import MlplabError

    with pytest.raises(MlplabError):  # 3 outputs for a binary task: refused by fit up front
        mlplab.train(CFG, out=tmp_path / "run", model=nn.Linear(2, 3))
    assert not (tmp_path / "run").exists()


def test_a_tampered_checkpoint_is_refused(interrupted: Path) -> None:
    meta_file = _ckpt(interrupted) / META
    meta = json.loads(meta_file.read_text())
    meta["config"]["optim"]["lr"] = 0.5  # the edit the issue made: accepted, half applied
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(RunError, match="was modified after it was written"):
        mlplab.train(resume=interrupted)
    assert not (interrupted / "model.json").exists()


def test_flipped_tensor_bytes_are_refused(interrupted: Path) -> None:
    tensors = _ckpt(interrupted) / "state.safetensors"
    data = bytearray(tensors.read_bytes())
    data[-3] ^= 0x01
    tensors.write_bytes(bytes(data))
    with pytest.raises(RunError, match="was modified after it was written"):
        mlplab.train(resume=interrupted)


def test_an_edited_config_yaml_is_refused(interrupted: Path) -> None:
    cfg = yaml.safe_load((interrupted / "config.yaml").read_text())
    cfg["optim"]["lr"] = 0.5
    (interrupted / "config.yaml").write_text(yaml.safe_dump(cfg))
    with pytest.raises(RunError, match=r"optim.lr: 0.1 -> 0.5"):
        mlplab.train(resume=interrupted)


def test_an_unfinished_run_needs_resume_or_overwrite(interrupted: Path) -> None:
    with pytest.raises(RunError, match="holds an unfinished run"):
        mlplab.train(CFG, out=interrupted)
    run = mlplab.train(CFG, out=interrupted, overwrite=True)
    assert run.info["epochs_run"] == 12 and "resumes" not in run.info


def test_override_takes_effect_and_is_recorded(interrupted: Path) -> None:
    """The resumed run with lr 0.02 from epoch 6 equals an uninterrupted run whose lr is set
    to 0.02 by hand after epoch 6, and says so in config.yaml and model.json."""
    ref = mlplab.train(CFG, save=False, callbacks=[LrFrom(6, 0.02)])
    plain = mlplab.train(CFG, save=False)
    run = mlplab.train(resume=interrupted, override={"optim.lr": 0.02})
    got = mlplab.load(interrupted)
    for k, v in ref.model.state_dict().items():
        assert torch.equal(got.model.state_dict()[k], v), k
    assert any(not torch.equal(got.model.state_dict()[k], v)  # the override mattered
               for k, v in plain.model.state_dict().items())
    assert run.info["resumes"] == [{"epoch": 6, "changed": {"optim.lr": [0.1, 0.02]}}]
    saved = json.loads((interrupted / "model.json").read_text())["training"]["resumes"]
    assert saved == run.info["resumes"]
    assert yaml.safe_load((interrupted / "config.yaml").read_text())["optim"]["lr"] == 0.02


def test_a_schedule_refuses_changes_it_depends_on(tmp_path: Path) -> None:
    cfg = {**CFG, "schedule": {"name": "cosine"}}
    with pytest.raises(RuntimeError, match="power cut"):
        mlplab.train(cfg, out=tmp_path / "run", callbacks=[Crash()])
    with pytest.raises(RunError, match=r"cannot change optim\.lr on resume"):
        mlplab.train(resume=tmp_path / "run", override={"optim.lr": 0.02})


def test_cli_resume_override(interrupted: Path) -> None:
    from mlplab.cli.main import main

    assert main(["train", "--override", "--lr", "0.02"]) == 2
    assert main(["train", "--resume", str(interrupted), "--lr", "0.02"]) == 2
    assert not (interrupted / "model.json").exists()
    assert main(["train", "-q", "--resume", str(interrupted), "--override", "--lr", "0.02",
                 "--set", "train.epochs=15"]) == 0
    info = json.loads((interrupted / "model.json").read_text())["training"]
    assert info["resumes"] == [{"epoch": 6, "changed": {"optim.lr": [0.1, 0.02],
                                                        "train.epochs": [12, 15]}}]
    assert info["epochs_run"] == 15
