"""Optuna sweeps: pruning, every worker's trials in the summary, dead workers' trials retried.

The multi-worker tests run on a journal file and SQLite everywhere, and on a real PostgreSQL
server when MLPLAB_TEST_POSTGRES_URL names one (CI's `.ci/run` starts a throwaway cluster and
sets it; locally, as root: `eval "$(bash .ci/postgres)"`). Without a reachable server those
are skipped with the reason, except under CI (CI=true), where they fail.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pandas as pd
import pytest

optuna = pytest.importorskip("optuna")

from mlplab.search.study import optuna_storage, optuna_sweep  # noqa: E402

BASE = {"data": {"source": "moons", "n_samples": 120}, "model": {"hidden": [6]},
        "optim": {"name": "sgd", "lr": 0.3}, "train": {"epochs": 30, "eval_every": 10},
        "log": {"quiet": True, "plots": False}}
LR = {"optim.lr": {"low": 0.001, "high": 1.0, "log": True}}


def load(storage, name: str, tmp_path: Path) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=optuna_storage(storage, tmp_path))


def test_pruned_trials_are_marked_and_not_ranked(tmp_path):
    """Regression: pruned members had history padded to the last epoch, epochs_run 500 and
    were ranked with the finished ones. Five good trials set the median; the two with a tiny
    learning rate are pruned at their first evaluation (epoch 10)."""
    journal = tmp_path / "s.journal"
    study = optuna.create_study(study_name="p", storage=optuna_storage(journal, tmp_path),
                                direction="minimize")
    for lr in [0.5] * 5 + [0.001, 0.5, 0.001]:
        study.enqueue_trial({"optim.lr": lr})
    plots = {**BASE, "log": {"quiet": True, "plots": True}}  # the study's grid figure too
    res = optuna_sweep(plots, LR, 8, storage=journal, study_name="p", metric="val_loss",
                       batch=5, out=tmp_path / "sw", seed=0)
    states = dict(zip(res.table["trial"], res.table["state"], strict=True))
    assert states == {0: "complete", 1: "complete", 2: "complete", 3: "complete",
                      4: "complete", 5: "pruned", 6: "complete", 7: "pruned"}
    for k in (5, 7):
        run = res.runs[k]
        assert run.info["epochs_run"] == 10 and run.info["stop_reason"] == "pruned"
        assert [h["epoch"] for h in run.history] == [10]
        # frozen from then on: its final metrics are those of epoch 10
        assert run.metrics["val"]["loss"] == pytest.approx(run.history[0]["val_loss"], rel=1e-5)
        history = pd.read_csv(run.path / "history.csv")
        assert history["epoch"].tolist() == [10]
    summary = pd.read_csv(tmp_path / "sw" / "summary.csv")
    assert summary["state"].tolist() == ["complete"] * 6 + ["pruned"] * 2
    assert summary["val_loss"][:6].is_monotonic_increasing
    study = load(journal, "p", tmp_path)
    assert study.best_value == pytest.approx(summary["val_loss"][0])
    assert [t.state.name for t in study.trials].count("PRUNED") == 2
    assert (tmp_path / "sw" / "boundaries.png").stat().st_size > 1000
    assert (tmp_path / "sw" / "best.json").is_file()


def test_members_trained_alone_are_pruned_too(tmp_path):
    """Members an ensemble cannot run (here: a step schedule) report to the pruner through a
    callback and stop at the epoch it says, marked pruned."""
    journal = tmp_path / "s.journal"
    study = optuna.create_study(study_name="solo", storage=optuna_storage(journal, tmp_path),
                                direction="minimize")
    for lr in [0.5] * 5 + [0.001]:
        study.enqueue_trial({"optim.lr": lr})
    cfg = {**BASE, "schedule": {"name": "step", "step_size": 100}}
    res = optuna_sweep(cfg, LR, 6, storage=journal, study_name="solo", metric="val_loss",
                       batch=5, out=tmp_path / "sw", seed=0)
    assert res.n_batched == 0
    assert res.table["state"].tolist() == ["complete"] * 5 + ["pruned"]
    pruned = res.runs[5]
    assert pruned.info["epochs_run"] == 10 and [h["epoch"] for h in pruned.history] == [10]


def test_study_refuses_another_metric(tmp_path):
    """A study ranks by one metric; a worker asking for another is refused up front."""
    from mlplab.errors import ConfigError

    optuna_sweep(BASE, LR, 1, storage=tmp_path / "s.journal", study_name="m", batch=1,
                 out=tmp_path / "a")
    with pytest.raises(ConfigError, match="ranks trials by val_accuracy, not val_loss"):
        optuna_sweep(BASE, LR, 1, storage=tmp_path / "s.journal", study_name="m",
                     metric="val_loss", out=tmp_path / "b")


ENV = "MLPLAB_TEST_POSTGRES_URL"


def test_errors_leave_no_trial_running(tmp_path, monkeypatch):
    """A space the config rejects is refused before any trial exists; an error while a batch
    trains marks its trials failed instead of leaving them "running" in the shared study;
    a summary of a study that does not exist is refused."""
    from mlplab.errors import ConfigError
    from mlplab.search import study as study_module

    journal = tmp_path / "s.journal"
    with pytest.raises(ConfigError, match="hidden sizes must be between 1"):
        optuna_sweep(BASE, {"model.hidden": [[4], [0]]}, 2, storage=journal, study_name="e",
                     out=tmp_path / "sw")
    assert "e" not in optuna.get_all_study_names(optuna_storage(journal, tmp_path))

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(study_module, "run_configs", broken)
    with pytest.raises(RuntimeError, match="out of memory"):
        optuna_sweep(BASE, LR, 4, storage=journal, study_name="e", batch=2,
                     out=tmp_path / "sw")
    assert [t.state.name for t in load(journal, "e", tmp_path).trials] == ["FAIL", "FAIL"]
    with pytest.raises(ConfigError, match="no study named 'nope'"):
        optuna_sweep(BASE, LR, 0, storage=journal, study_name="nope", out=tmp_path / "sw")


def test_unreachable_database_is_one_error_line_without_the_password(tmp_path, capsys,
                                                                    monkeypatch):
    from mlplab.cli.main import main
    from mlplab.search import study as study_module

    monkeypatch.setattr(study_module, "DB_ATTEMPTS", 1)
    args = write_inputs(tmp_path)
    out = tmp_path / "sw"
    assert main(["sweep", *args, "--optuna", "2", "--out", str(out), "--storage",
                 "postgresql://me:s3cret@127.0.0.1:1/db"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot open the Optuna storage "
                          "postgresql+psycopg://me:***@127.0.0.1:1/db: connection failed")
    assert "s3cret" not in err and len(err.strip().splitlines()) == 1 and not out.exists()


# --- several worker processes -------------------------------------------------------------


def write_inputs(tmp_path: Path, epochs: int = 30, eval_every: int = 10) -> list[str]:
    """Base config and space files for `mlplab sweep`; returns the common arguments."""
    (tmp_path / "base.yaml").write_text(
        "data: {source: moons, n_samples: 120}\nmodel: {hidden: [6]}\noptim: {name: sgd}\n"
        f"train: {{epochs: {epochs}, eval_every: {eval_every}}}\n")
    (tmp_path / "space.yaml").write_text("optim.lr: {low: 0.001, high: 1.0, log: true}\n")
    return ["-c", str(tmp_path / "base.yaml"), "--space", str(tmp_path / "space.yaml"),
            "--metric", "val_loss"]


def worker(args: list[str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "mlplab.cli.main", "sweep", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def run_workers(arg_lists: list[list[str]], timeout: float = 240) -> None:
    procs = [worker(a) for a in arg_lists]
    try:
        for p in procs:
            _, err = p.communicate(timeout=timeout)
            assert p.returncode == 0, err.decode()[-3000:]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def check_two_workers(storage: str, tmp_path: Path, separate_dirs: bool) -> None:
    """Two workers run 4 trials each on one study; a summary of the study (the last worker's,
    or a `--optuna 0` summary on another machine) lists all 8 with unique member names, and
    its best equals the best of the same 8 trials replayed in one process."""
    common = [*write_inputs(tmp_path), "--storage", storage, "--study", "shared",
              "--batch", "2", "--no-prune"]
    dirs = [tmp_path / "w0", tmp_path / ("w1" if separate_dirs else "w0")]
    run_workers([[*common, "--optuna", "4", "--out", str(d)] for d in dirs])
    from mlplab.cli.main import main

    report = tmp_path / "report"
    assert main(["sweep", *common, "--optuna", "0", "--out", str(report)]) == 0
    study = load(storage, "shared", tmp_path)
    assert len(study.trials) == 8 and {t.number for t in study.trials} == set(range(8))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    for folder in {report, dirs[1]} if not separate_dirs else {report}:
        summary = pd.read_csv(folder / "summary.csv")
        assert sorted(summary["trial"]) == list(range(8))
        assert summary["member"].is_unique and set(summary["state"]) == {"complete"}
        assert summary["trial"][0] == study.best_trial.number
    hosts = pd.read_csv(report / "summary.csv")
    assert all(Path(p).parent in dirs for p in hosts["path"])
    if not separate_dirs:
        assert all((Path(p) / "model.safetensors").is_file() for p in hosts["path"])
    # the same trials in one process
    replay = tmp_path / "replay.journal"
    one = optuna.create_study(study_name="one", storage=optuna_storage(replay, tmp_path),
                              direction="minimize")
    for t in study.trials:
        one.enqueue_trial(t.params)
    res = optuna_sweep(tmp_path / "base.yaml", {"optim.lr": {"low": 0.001, "high": 1.0,
                                                              "log": True}}, 8,
                       storage=replay, study_name="one", metric="val_loss", batch=8,
                       prune=False, out=tmp_path / "one")
    one = load(replay, "one", tmp_path)
    assert one.best_trial.params == study.best_trial.params
    assert one.best_value == pytest.approx(study.best_value, rel=1e-5)
    assert res.best.mean == pytest.approx(study.best_value, rel=1e-5)


def test_two_workers_share_one_journal_study(tmp_path):
    """Regression: with two workers, summary.csv and seeds.csv listed one worker's trials
    and member folder numbers repeated."""
    check_two_workers(str(tmp_path / "shared.journal"), tmp_path, separate_dirs=False)


def check_killed_worker_retried(storage: str, tmp_path: Path) -> None:
    """SIGKILL a worker mid-trial: once its heartbeat is stale, the next worker marks that
    trial failed, retries it with the same parameters and completes it."""
    common = [*write_inputs(tmp_path, epochs=20_000, eval_every=10_000), "--storage", storage,
              "--study", "killed", "--batch", "1", "--heartbeat", "1", "--optuna", "1"]
    a = worker([*common, "--out", str(tmp_path / "a")])
    try:
        deadline = time.monotonic() + 120
        running: list[optuna.trial.FrozenTrial] = []
        while not running:
            assert a.poll() is None, a.communicate()[1].decode()[-3000:]
            assert time.monotonic() < deadline, "worker A never started a trial"
            time.sleep(0.2)
            with contextlib.suppress(KeyError):  # KeyError: the study does not exist yet
                running = load(storage, "killed", tmp_path).get_trials(
                    states=(optuna.trial.TrialState.RUNNING,))
        time.sleep(0.5)  # inside training
        a.send_signal(signal.SIGKILL)
        a.wait(timeout=30)
    finally:
        if a.poll() is None:
            a.kill()
            a.wait()
    time.sleep(3.5)  # heartbeat 1 s: stale after the grace period of 2 s
    run_workers([[*common, "--out", str(tmp_path / "b")]])
    trials = load(storage, "killed", tmp_path).trials
    assert [t.state.name for t in trials] == ["FAIL", "COMPLETE"]
    assert trials[1].system_attrs["failed_trial"] == running[0].number == 0
    assert trials[0].params and trials[1].params == trials[0].params
    summary = pd.read_csv(tmp_path / "b" / "summary.csv")
    assert summary["state"].tolist() == ["complete", "fail"]


@pytest.mark.skipif(bool(os.environ.get(ENV)),
                    reason="the same test runs on PostgreSQL below")
def test_killed_worker_trial_is_failed_and_retried_sqlite(tmp_path):
    """The heartbeat and retry on a database file, for machines without PostgreSQL."""
    check_killed_worker_retried(f"sqlite:///{tmp_path / 'study.db'}", tmp_path)


# --- PostgreSQL ----------------------------------------------------------------------------


def unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):  # CI starts a server (.ci/run): these tests must run there
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh, empty database on the test server (dropped afterwards): its URL."""
    psycopg = pytest.importorskip("psycopg")
    url = os.environ.get(ENV)
    if not url:
        unavailable(f"no PostgreSQL server: set {ENV} (bash .ci/postgres starts one)")
    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    try:
        admin = psycopg.connect(plain, connect_timeout=10, autocommit=True)
    except psycopg.OperationalError as e:
        unavailable(f"PostgreSQL at {ENV} not reachable: {str(e).strip().splitlines()[0]}")
    name = f"mlplab_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f"CREATE DATABASE {name}")
        try:
            yield plain.rsplit("/", 1)[0] + "/" + name  # postgresql://: mlplab adds psycopg
        finally:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_two_workers_on_postgres_lose_and_duplicate_nothing(database, tmp_path):
    """Two worker processes (separate folders, as on two machines) share one study: all 8
    trials are there once, and the best equals a single-process run of the same trials."""
    check_two_workers(database, tmp_path, separate_dirs=True)


def test_worker_killed_mid_trial_on_postgres_is_retried(database, tmp_path):
    check_killed_worker_retried(database, tmp_path)
