"""A required option shows no default in --help (regression: import's --data showed
'[default: (circles)]', the config's default, though it must be given)."""

from __future__ import annotations

from typer.testing import CliRunner

from mlplab.cli.main import app


def test_import_help_shows_no_default_for_required_data() -> None:
    out = CliRunner().invoke(app, ["import", "--help"], env={"COLUMNS": "200"}).output
    line = next(ln for ln in out.splitlines() if "--data" in ln)
    assert "required" in line and "default" not in line
