"""The run-directory loader against mutated JSON/YAML and truncated or flipped weight bytes:
the run loads (and predicts), or one ``error:`` line; never a traceback, never unpickling."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mlplab
from mlplab.errors import MlplabError


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "run"
    mlplab.train({"data": {"source": "moons", "n_samples": 80}, "model": {"hidden": [3]},
                  "train": {"epochs": 2}, "log": {"plots": False, "quiet": True}}, out=path)
    return path


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**9, 10**9), st.floats(),
              st.text(max_size=6)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6)


def _mutate_json(data: object, path: list[int], value: object) -> object:
    """Replace the value reached by following ``path`` (indices into dict items / lists)."""
    if not path or not isinstance(data, dict | list) or not data:
        return value
    if isinstance(data, dict):
        key = list(data)[path[0] % len(data)]
        return {**data, key: _mutate_json(data[key], path[1:], value)}
    i = path[0] % len(data)
    return [*data[:i], _mutate_json(data[i], path[1:], value), *data[i + 1:]]


def _check(run: Path, cli, clean_error) -> None:
    code, _, err = cli("show", run)
    if code != 0:
        clean_error(code, err)
        return
    try:
        loaded = mlplab.load(run)
    except MlplabError:
        raise AssertionError("show succeeded but load failed") from None
    probs = loaded.predict_proba(np.zeros((3, len(loaded.feature_names)), dtype=np.float32))
    assert probs.shape[0] == 3


@given(name=st.sampled_from(["model.json", "metrics.json", "config.yaml"]),
       path=st.lists(st.integers(0, 50), max_size=4), value=json_values,
       cut=st.none() | st.integers(0, 400))
def test_mutated_metadata(cli, clean_error, run_dir, name, path, value, cut) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        shutil.copytree(run_dir, run)
        f = run / name
        if cut is not None:
            f.write_bytes(f.read_bytes()[:cut])
        elif name.endswith(".json"):
            f.write_text(json.dumps(_mutate_json(json.loads(f.read_text()), path, value)))
        else:
            import yaml

            f.write_text(yaml.safe_dump(_mutate_json(yaml.safe_load(f.read_text()), path,
                                                     value)))
        _check(run, cli, clean_error)


@given(cut=st.none() | st.integers(0, 2000), flips=st.lists(
    st.tuples(st.integers(0, 10**6), st.integers(1, 255)), max_size=4))
def test_truncated_or_flipped_weights(cli, clean_error, run_dir, cut, flips) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        shutil.copytree(run_dir, run)
        f = run / "model.safetensors"
        raw = bytearray(f.read_bytes())
        for pos, mask in flips:
            raw[pos % len(raw)] ^= mask
        f.write_bytes(bytes(raw[:cut] if cut is not None else raw))
        _check(run, cli, clean_error)
