"""``--set KEY=VALUE`` and config files: a validated config, or one ``error:`` line."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from mlplab.cli.commands._common import build_config
from mlplab.config import RunConfig, parse_value
from mlplab.errors import MlplabError

KEYS = ["optim.lr", "model.hidden", "model.activation", "train.epochs", "train.batch_size",
        "data.source", "data.n_samples", "seed", "task", "loss", "schedule.name", "model.dropout",
        "optim", "model", "data.test_size", "nope.key", "", "optim.lr.x", "train"]
values = st.one_of(st.text(max_size=12), st.integers(-10**6, 10**6).map(str),
                   st.floats(allow_nan=True).map(str),
                   st.lists(st.integers(-3, 40), max_size=4).map(lambda v: ",".join(map(str, v))),
                   st.sampled_from(["relu", "adam", "none", "[]", "{}", "null", "true", "[1,",
                                    "1e400", "-0", "moons", "auto", "full"]))
sets = st.lists(st.tuples(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), values)
                .map(lambda kv: f"{kv[0]}={kv[1]}"), max_size=4)


@given(sets=sets)
def test_set_gives_a_config_or_a_config_error(sets: list[str]) -> None:
    try:
        cfg = build_config(None, None, {}, sets)
    except MlplabError as e:
        assert str(e) and "\n" not in str(e)
        return
    assert isinstance(cfg, RunConfig)
    assert RunConfig.from_dict(cfg.to_dict()) == cfg  # what was accepted round-trips


@given(lr=st.floats(1e-6, 10.0), hidden=st.lists(st.integers(1, 64), max_size=4),
       epochs=st.integers(0, 10_000))
def test_set_values_reach_the_config(lr: float, hidden: list[int], epochs: int) -> None:
    """Valid values land in the config unchanged, whatever their spelling in --set."""
    cfg = build_config(None, None, {}, [f"optim.lr={lr!r}", f"train.epochs={epochs}",
                                        "model.hidden=" + (",".join(map(str, hidden)) + ","
                                                           if hidden else "[]")])
    assert (cfg.optim.lr, cfg.train.epochs, cfg.model.hidden) == (lr, epochs, hidden)


@given(text=st.text(max_size=10))
def test_parse_value_never_raises_other_errors(text: str) -> None:
    with contextlib.suppress(MlplabError):
        parse_value(text)


@given(body=st.one_of(st.text(max_size=80), st.binary(max_size=80).map(
    lambda b: b.decode("latin-1"))), suffix=st.sampled_from([".yaml", ".toml", ".json"]))
def test_config_files_through_train(cli, clean_error, body: str, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"c{suffix}"
        path.write_text(body, encoding="utf-8")
        run = Path(tmp) / "run"
        code, _, err = cli("train", "-c", path, "-o", run, "--epochs", "1", "--quiet",
                           "--set", "log.plots=false", "--set", "data.n_samples=40")
        if code != 0:
            clean_error(code, err, run)
        else:
            assert (run / "model.safetensors").is_file()


