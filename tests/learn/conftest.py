"""Lesson tests: progress goes to a temporary folder; the lessons' own solutions, run once per
module in lesson order, give the objects a correct answer passes with."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from mlplab.learn.lessons import LESSONS


@pytest.fixture(autouse=True)
def learn_home(tmp_path, monkeypatch):
    monkeypatch.setenv("MLPLAB_LEARN_HOME", str(tmp_path / "learn-home"))
    torch.manual_seed(0)
    return tmp_path / "learn-home"


def run_solutions(lesson: str, upto: int | None = None, cwd: Any = None) -> dict[str, Any]:
    """The namespace after the solutions of ``lesson``'s steps 1..upto (all by default)."""
    ns: dict[str, Any] = {}
    for step in LESSONS[lesson].steps[:upto]:
        exec(compile(step.solution, f"<{lesson}.{step.id}>", "exec"), ns)
    return ns


@pytest.fixture(scope="session")
def solved(tmp_path_factory) -> dict[str, dict[str, Any]]:
    """Each lesson's namespace after all its solutions (run in a temporary folder: the
    state_dict step writes a file)."""
    import os

    here = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("solutions"))
    try:
        spaces = {name: run_solutions(name) for name in LESSONS}
        spaces["gaussians"]["path"] = os.path.abspath(spaces["gaussians"]["path"])
        return spaces
    finally:
        os.chdir(here)
