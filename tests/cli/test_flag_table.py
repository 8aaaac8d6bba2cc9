"""The one flag table (``mlplab.cli.flags``): every choice list a command's ``--help`` shows is
the registry's, every flag names a real RunConfig key, and a flag sets exactly what the
matching ``--set KEY=VALUE`` sets, in every command that takes it."""

from __future__ import annotations

import re
import subprocess
import sys
import typing
from typing import Any

import pytest
import typer

from mlplab import registry
from mlplab.cli import main as cli_main
from mlplab.cli.flags import FLAGS, field_of
from mlplab.config import RunConfig, TaskName, flatten

# the tables the choices must come from, written out here from their owners
REFERENCE: dict[str, list[str]] = {
    "--loss": ["auto", *registry.LOSSES],
    "--activation": list(registry.ACTIVATIONS),
    "--head": ["auto", *registry.OUTPUTS],  # auto: what forward returns (logits for an MLP)
    "--init": list(registry.INITS),
    "--optimizer": list(registry.OPTIMIZERS),
    "--schedule": list(registry.SCHEDULERS),
    "--task": list(typing.get_args(TaskName)),
    "--impute": ["error", "mean", "median", "most_frequent", "drop"],
}
LIST = re.compile(r"[\w-]+(?: \| [\w-]+)+")  # 'a | b | c' in a help text


@pytest.fixture(scope="module")
def commands() -> dict[str, Any]:
    cli_main._register_commands()
    return dict(typer.main.get_command(cli_main.app).commands)  # type: ignore[attr-defined]


def _reference(opt: str) -> list[str]:
    if opt == "--scale":
        from mlplab.data.encoders import SCALES  # what the preprocessing implements
        return list(SCALES)
    if opt == "--format":
        from mlplab.export.api import FORMATS
        return list(FORMATS)
    return REFERENCE[opt]


def test_every_choice_list_in_help_is_the_registry_s(commands) -> None:
    """Guards the drift issue 29 found: --loss lacked poisson and nll, baseline's --scale
    lacked robust."""
    seen = set()
    for name, cmd in commands.items():
        for p in cmd.params:
            for listed in LIST.findall(getattr(p, "help", None) or ""):
                opt = max(p.opts, key=len)
                assert listed.split(" | ") == _reference(opt), (name, opt, listed)
                seen.add((name, opt))
    for cmd in ("train", "baseline", "sweep"):
        assert {(cmd, o) for o in REFERENCE} | {(cmd, "--scale")} <= seen
    assert {("import", "--scale"), ("import", "--task"), ("export", "--format")} <= seen


def test_rendered_help_lists_every_loss_and_scale(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    for cmd, words in (("train", ["poisson", "nll", "robust"]), ("baseline", ["robust"])):
        assert cli_main.main([cmd, "--help"]) == 0
        text = capsys.readouterr().out
        assert all(w in text for w in words), cmd


def test_help_imports_no_torch() -> None:
    code = ("import sys; from mlplab.cli.main import main; main(['train', '--help']); "
            "main(['sweep', '--help']); main(['baseline', '--help']); "
            "print('torch' in sys.modules, file=sys.stderr)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert res.stderr.strip() == "False" and "--lr" in res.stdout


def test_every_flag_names_a_real_config_key(commands) -> None:
    keys = set(flatten(RunConfig().to_dict()))
    for flag in FLAGS.values():
        assert flag.path in keys, flag
        assert field_of(flag.path).description or flag.path in ("model.output", "model.init",
                                                                 "task", "loss", "optim.name")
    # the generated options of train are the table, once each
    train = {max(p.opts, key=len) for p in commands["train"].params}
    assert {f"--{n.replace('_', '-')}" for n in FLAGS} <= train


# flag arguments -> the --set items that mean the same
SAMPLES = [
    (["--lr", "0.3"], ["optim.lr=0.3"]),
    (["--hidden", "8,4", "--activation", "relu,tanh"],
     ["model.hidden=[8, 4]", "model.activation=[relu, tanh]"]),
    (["--hidden", "none"], ["model.hidden=[]"]),
    (["--target", "a", "--target", "b", "--features", "x1,x2"],
     ["data.target=[a, b]", "data.features=[x1, x2]"]),
    (["--target", "a"], ["data.target=a"]),
    (["--batch-size", "32", "--early-stopping", "off"],
     ["train.batch_size=32", "train.early_stopping=off"]),
    (["--batch-size", "full", "--eval-every", "5"],
     ["train.batch_size=full", "train.eval_every=5"]),
    (["--head", "sigmoid", "--loss", "bce", "--batchnorm", "--dropout", "0.25"],
     ["model.output=sigmoid", "loss=bce", "model.batchnorm=true", "model.dropout=0.25"]),
    (["--optimizer", "sgd", "--momentum", "0.9", "--schedule", "cosine", "--weight-decay",
      "0.001"], ["optim.name=sgd", "optim.momentum=0.9", "schedule.name=cosine",
                 "optim.weight_decay=0.001"]),
    (["--scale", "robust", "--impute", "median", "--na-values", "NA,n/a", "--drop", "id"],
     ["data.scale=robust", "data.impute=median", "data.na_values=[NA, n/a]",
      "data.drop=[id]"]),
    (["-d", "moons", "--n-samples", "300", "--noise", "0.2", "--seed", "3", "--pos-label", "M",
      "--test-size", "0.3"], ["data.source=moons", "data.n_samples=300", "data.noise=0.2",
                              "seed=3", "data.pos_label=M", "data.test_size=0.3"]),
    (["--task", "multiclass", "--epochs", "7", "--clip-grad-norm", "1.5", "--threshold", "0.7"],
     ["task=multiclass", "train.epochs=7", "train.clip_grad_norm=1.5", "train.threshold=0.7"]),
]
LOG_SAMPLES = [(["--name", "x", "--checkpoint-every", "5", "--tensorboard"],
                ["name=x", "log.checkpoint_every=5", "log.tensorboard=true"])]


class Built(Exception):
    def __init__(self, cfg: RunConfig) -> None:
        self.cfg = cfg


def _config(monkeypatch, command: str, args: list[str]) -> dict[str, Any]:
    """The RunConfig a command builds from ``args``, caught before anything trains."""
    def catch(cfg: RunConfig, *a: object, **k: object) -> None:
        raise Built(cfg)

    import mlplab.api
    import mlplab.search.sweep
    monkeypatch.setattr(mlplab.api, "train", catch)
    monkeypatch.setattr(mlplab.api, "prepare", catch)
    monkeypatch.setattr(mlplab.search.sweep, "sweep", catch)
    with pytest.raises(Built) as got:
        cli_main.main([command, *args])
    return got.value.cfg.to_dict()


@pytest.mark.parametrize("command", ["train", "baseline", "sweep"])
def test_flags_set_what_set_sets(monkeypatch, command) -> None:
    default = _config(monkeypatch, command, [])
    samples = SAMPLES if command == "train" else SAMPLES[::2]  # the same table behind each
    for flags, sets in samples + (LOG_SAMPLES if command != "baseline" else []):
        by_flag = _config(monkeypatch, command, flags)
        by_set = _config(monkeypatch, command, [a for s in sets for a in ("--set", s)])
        assert by_flag == by_set, flags
        changed = {k for k, v in flatten(by_flag).items() if flatten(default)[k] != v}
        assert changed == {s.split("=")[0] for s in sets}, flags


def test_old_head_spelling_and_flags_after_recipe(monkeypatch, capsys) -> None:
    cfg = _config(monkeypatch, "train", ["--output", "sigmoid"])
    assert cfg["model"]["output"] == "sigmoid"
    assert _config(monkeypatch, "train", ["--output", "sigmoid", "--head", "softmax"]
                   )["model"]["output"] == "softmax"
    cfg = _config(monkeypatch, "train", ["--recipe", "moons-mlp", "--lr", "0.3"])
    assert cfg["optim"]["lr"] == 0.3 and cfg["optim"]["name"] == "adam"


def test_sweep_keys_are_flag_names() -> None:
    """Guards sweep's former ALIASES table: each short key it knew means the same key."""
    from mlplab.cli.commands.sweep import parse_spec

    old = {"lr": "optim.lr", "hidden": "model.hidden", "activation": "model.activation",
           "optimizer": "optim.name", "momentum": "optim.momentum",
           "weight_decay": "optim.weight_decay", "l1": "optim.l1", "dropout": "model.dropout",
           "epochs": "train.epochs", "batch_size": "train.batch_size", "init": "model.init",
           "clip_grad_norm": "train.clip_grad_norm", "n_samples": "data.n_samples",
           "noise": "data.noise"}
    for short, key in old.items():
        assert parse_spec(f"{short}=1")[0] == key
    assert parse_spec("batch-size=8,16") == ("train.batch_size", [8, 16])
    assert parse_spec("schedule=step,cosine") == ("schedule.name", ["step", "cosine"])
    assert parse_spec("optim.eps=1e-6")[0] == "optim.eps"


def test_a_bad_choice_is_one_error_line(capsys) -> None:
    assert cli_main.main(["train", "--loss", "poison", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown loss 'poison'") and err.count("\n") == 1
    assert "poisson" in err
