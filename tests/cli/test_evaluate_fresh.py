"""``mlplab evaluate RUN --data NAME`` scores a generator's run on fresh samples: a seed that is
not the one the run's data was drawn with (also when the run pins ``data.seed``, as recipes
do), printed so that ``--seed`` draws the same samples again."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from mlplab import load
from mlplab.cli.main import main

SEED_LINE = re.compile(r"^200 samples of moons drawn with seed (\d+) \(--seed \1 draws them "
                       r"again\)$")


def _evaluate(capsys, run, *args: str) -> tuple[dict, str]:
    assert main(["evaluate", str(run), "--data", "moons", "--json", *args]) == 0
    got = capsys.readouterr()
    return json.loads(got.out), got.err.strip()


@pytest.fixture(scope="module", params=[["--set", "data.seed=7"], ["--seed", "7"]],
            ids=["pinned data seed", "run seed"])
def run(request, tmp_path_factory):
    """A moons run whose data came from seed 7, pinned (a recipe's way) or the run's own."""
    path = tmp_path_factory.mktemp("evaluate") / "r"
    assert main(["train", "-d", "moons", "--n-samples", "200", "--noise", "0.3", "--hidden", "8",
                 "--epochs", "100", "--early-stopping", "off", "--set", "log.plots=false",
                 "--quiet", "-o", str(path), *request.param]) == 0
    return path


def _run_matrix(run) -> np.ndarray:
    """The run's own split matrices added up: every row of the data it was trained on."""
    metrics = load(run).metrics
    return sum(np.array(metrics[s]["confusion_matrix"]) for s in ("train", "val", "test")
               if s in metrics)


def test_the_run_s_own_seed_gives_back_its_own_rows(capsys, run) -> None:
    """The reference: with the data seed the run used, evaluate sees the run's rows."""
    m, _ = _evaluate(capsys, run, "--seed", "7")
    assert m["n"] == 200
    np.testing.assert_array_equal(m["confusion_matrix"], _run_matrix(run))


def test_default_draws_fresh_samples_and_says_which(capsys, run) -> None:
    """Guards issue 28 item 4: the run's pinned data.seed used to win, so evaluate scored the
    run's own data (its matrix was the train and test matrices added up)."""
    m, err = _evaluate(capsys, run)
    seed = int(SEED_LINE.match(err).group(1))  # type: ignore[union-attr]
    assert seed != 7 and m["n"] == 200
    again, err2 = _evaluate(capsys, run, "--seed", str(seed))
    assert again == m and err2 == err


def test_a_given_seed_is_reproducible_and_not_the_run_s_data(capsys, run) -> None:
    m1, _ = _evaluate(capsys, run, "--seed", "1234")
    m2, _ = _evaluate(capsys, run, "--seed", "1234")
    assert m1 == m2
    assert not np.array_equal(m1["confusion_matrix"], _run_matrix(run))
    m3, _ = _evaluate(capsys, run, "--seed", "99")
    assert m3["confusion_matrix"] != m1["confusion_matrix"]


def test_the_table_names_the_seed_on_stdout(capsys, run) -> None:
    assert main(["evaluate", str(run), "--data", "moons", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    assert "200 samples of moons drawn with seed 5 (--seed 5 draws them again)" in out
    assert "metrics on moons" in out
