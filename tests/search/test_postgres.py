"""Sweeps on a real PostgreSQL server: two workers on one study, and a worker killed mid-trial.

The server's URL comes from MLPLAB_TEST_POSTGRES_URL (CI's `.ci/run` starts a throwaway
cluster and sets it; locally: `eval "$(bash .ci/postgres)"` as root). Without a reachable
server the tests are skipped, with the reason.
"""

from __future__ import annotations

import os
import uuid

import pytest

pytest.importorskip("optuna")
psycopg = pytest.importorskip("psycopg")

from tests.search.test_study import check_killed_worker_retried, check_two_workers  # noqa: E402

ENV = "MLPLAB_TEST_POSTGRES_URL"


@pytest.fixture
def database() -> str:
    """A fresh, empty database on the test server (dropped afterwards): its SQLAlchemy URL."""
    url = os.environ.get(ENV)
    if not url:
        pytest.skip(f"no PostgreSQL server: set {ENV} (bash .ci/postgres starts one)")
    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    try:
        admin = psycopg.connect(plain, connect_timeout=5, autocommit=True)
    except psycopg.OperationalError as e:
        pytest.skip(f"PostgreSQL at {ENV} not reachable: {str(e).strip().splitlines()[0]}")
    name = f"mlplab_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f"CREATE DATABASE {name}")
        try:
            yield url.rsplit("/", 1)[0] + "/" + name
        finally:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_two_workers_on_postgres_lose_and_duplicate_nothing(database, tmp_path):
    """Two worker processes (separate folders, as on two machines) share one study: all 8
    trials are there once, and the best equals a single-process run of the same trials."""
    check_two_workers(database, tmp_path, separate_dirs=True)


def test_worker_killed_mid_trial_on_postgres_is_retried(database, tmp_path):
    check_killed_worker_retried(database, tmp_path)
