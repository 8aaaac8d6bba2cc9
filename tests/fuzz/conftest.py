"""Hypothesis profiles, and the property every fuzz test checks: a correct result, or one
clean error and nothing written.

Profiles: ``ci`` (a few derandomized examples, run by ``make test``) and ``fuzz`` (many random
examples, ``make fuzz``), chosen with ``MLPLAB_FUZZ_PROFILE``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings

from mlplab.cli.main import main

_COMMON = {"deadline": None, "database": None, "print_blob": True,
           "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture]}
# ci: bounded time, so no shrinking (the failing example is printed as found)
settings.register_profile("ci", max_examples=8, derandomize=True,
                          phases=[Phase.explicit, Phase.generate], **_COMMON)
settings.register_profile("fuzz", max_examples=300,
                          phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
                          **_COMMON)
settings.load_profile(os.environ.get("MLPLAB_FUZZ_PROFILE", "ci"))

Cli = Callable[..., tuple[int, str, str]]


def _run_cli(*args: object) -> tuple[int, str, str]:
    """``mlplab ARGS`` in-process -> (exit code, stdout, stderr); an exception escaping
    ``main`` (what a user would see as a traceback) fails the test."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def cli(capsys) -> Cli:
    def run(*args: object) -> tuple[int, str, str]:
        with capsys.disabled():
            return _run_cli(*args)
    return run


def assert_clean_error(code: int, err: str, *unwritten: Path) -> None:
    """Exit 2, exactly one ``error:`` line (warnings aside), and none of ``unwritten`` exists."""
    assert code == 2, (code, err)
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("warning:")]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for path in unwritten:
        assert not path.exists(), path


@pytest.fixture
def clean_error() -> Callable[..., None]:
    return assert_clean_error


