"""RunConfig: defaults, dotted paths, files, value parsing and the one-line errors."""

from pathlib import Path

import pytest

from mlplab.config import (
    RunConfig,
    flatten,
    parse_value,
    read_config_file,
    set_path,
    with_overrides,
)
from mlplab.errors import ConfigError


def test_every_key_is_optional_and_round_trips_through_yaml(tmp_path: Path) -> None:
    cfg = RunConfig.from_dict({})
    path = tmp_path / "c.yaml"
    path.write_text(cfg.to_yaml())
    assert RunConfig.from_dict(read_config_file(path)) == cfg


def test_a_toml_file_means_the_same_as_yaml(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text('seed = 3\n[optim]\nname = "sgd"\nlr = 0.5\n')
    (tmp_path / "c.yaml").write_text("seed: 3\noptim: {name: sgd, lr: 0.5}\n")
    assert read_config_file(tmp_path / "c.toml") == read_config_file(tmp_path / "c.yaml")


def test_dotted_paths_set_nested_keys() -> None:
    d: dict = {}
    set_path(d, "optim.lr", 0.3)
    set_path(d, "model.hidden", [4, 4])
    assert d == {"optim": {"lr": 0.3}, "model": {"hidden": [4, 4]}}
    cfg = with_overrides(RunConfig.from_dict(d), {"optim.momentum": 0.9})
    assert (cfg.optim.lr, cfg.optim.momentum, cfg.model.hidden) == (0.3, 0.9, [4, 4])
    assert flatten({"a": {"b": 1, "c": {"d": 2}}}) == {"a.b": 1, "a.c.d": 2}


@pytest.mark.parametrize(("text", "value"), [
    ("0.1", 0.1), ("3", 3), ("[8, 8]", [8, 8]), ("true", True), ("relu", "relu"),
    ("null", None),
])
def test_set_values_are_parsed_as_yaml_scalars(text: str, value: object) -> None:
    assert parse_value(text) == value


@pytest.mark.parametrize(("d", "pattern"), [
    ({"optim": {"lr": -1}}, r"optim\.lr"),
    ({"model": {"activation": "rellu"}}, r"unknown activation 'rellu'.*did you mean 'relu'"),
    ({"optim": {"nmae": "sgd"}}, r"optim\.nmae"),
    ({"train": {"epochs": "many"}}, r"train\.epochs"),
])
def test_bad_values_name_the_key(d: dict, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        RunConfig.from_dict(d)


def test_overrides_never_change_the_callers_config() -> None:
    cfg = RunConfig.from_dict({"optim": {"lr": 0.1}})
    with_overrides(cfg, {"optim.lr": 0.5})
    assert cfg.optim.lr == 0.1
