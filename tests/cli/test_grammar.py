"""One CLI grammar: every command's options, walked through click, spell each meaning one way.

- a flag name means one thing everywhere (same spellings beside it, same kind of value);
- whatever a command writes is ``-o/--out``, and it replaces nothing without ``--overwrite``;
- ``--quiet`` prints nothing but errors;
- the old spellings (``train --output`` for the head, ``-o/--output`` for files) still work,
  with one deprecation warning.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
import typer

from mlplab import load, registry
from mlplab.cli import main as cli_main

FAST = ["--epochs", "5", "--hidden", "4", "--set", "log.plots=false"]

# commands whose output *is* their result (a table, the metrics, the server URL): --quiet would
# leave them nothing to do
ANSWERS = {"show", "evaluate", "datasets", "recipes", "serve"}
WRITERS = {"train", "predict", "compare", "baseline", "export", "import", "sweep", "plot",
           "report", "learn"}


@pytest.fixture(scope="module")
def commands() -> dict[str, Any]:
    cli_main._register_commands()
    return dict(typer.main.get_command(cli_main.app).commands)  # type: ignore[attr-defined]


def _options(cmd: Any) -> list[Any]:
    return [p for p in cmd.params if p.param_type_name == "option"]


def test_every_flag_has_one_meaning(commands) -> None:
    """A flag name comes with the same other spellings and the same kind of value everywhere,
    and deprecated spellings are hidden."""
    seen: dict[str, set[tuple[object, ...]]] = defaultdict(set)
    for cmd in commands.values():
        for opt in _options(cmd):
            shape = (tuple(sorted(opt.opts)), opt.is_flag, opt.hidden, opt.multiple)
            for name in opt.opts:
                seen[name].add(shape)
    mixed = {name: shapes for name, shapes in seen.items() if len(shapes) > 1}
    assert not mixed, mixed
    assert seen["--output"] == {(("--output",), False, True, False)}  # the deprecated alias


def test_writers_take_out_and_overwrite(commands) -> None:
    writers = {name for name, cmd in commands.items()
               if any({"--out", "--overwrite"} & set(o.opts) for o in _options(cmd))}
    assert writers == WRITERS
    for name in WRITERS:
        names = {n for o in _options(commands[name]) for n in o.opts}
        assert {"-o", "--out", "--overwrite"} <= names, name


def test_printing_commands_take_quiet(commands) -> None:
    for name, cmd in commands.items():
        names = {n for o in _options(cmd) for n in o.opts}
        assert ("--quiet" in names) == (name not in ANSWERS), name
        if "--quiet" in names:
            assert "-q" in names


def test_head_flag_and_train_out(commands) -> None:
    train = {n: o for o in _options(commands["train"]) for n in o.opts}
    assert train["--head"].help == " | ".join(["auto", *registry.OUTPUTS])  # the registry's
    assert train["--out"] is train["-o"]


def cli(capsys, *args: object) -> tuple[int, str, str]:
    code = cli_main.main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_quiet_train_prints_nothing(capsys, tmp_path) -> None:
    code, out, err = cli(capsys, "train", *FAST, "-o", tmp_path / "r", "--quiet")
    assert (code, out, err) == (0, "", "")
    assert (tmp_path / "r" / "model.safetensors").is_file()


def test_train_names_its_report(capsys, tmp_path) -> None:
    code, out, _ = cli(capsys, "train", "--epochs", "5", "--hidden", "4", "-o", tmp_path / "r")
    assert code == 0
    assert out.strip().splitlines()[-1] == f"open {tmp_path / 'r' / 'report.html'}"
    assert (tmp_path / "r" / "report.html").is_file()


def test_old_head_spelling_warns_and_works(capsys, tmp_path) -> None:
    code, _, err = cli(capsys, "train", *FAST, "--quiet", "-o", tmp_path / "r",
                       "--output", "sigmoid", "--loss", "bce")
    assert code == 0, err
    assert err.startswith("warning: --output is deprecated; use --head") and err.count("\n") == 1
    assert load(tmp_path / "r").config.model.output == "sigmoid"


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grammar")
    for name in ("a", "b"):
        assert cli_main.main(["train", *FAST, "--quiet", "-o", str(tmp / name)]) == 0
    return tmp


def test_writers_refuse_to_overwrite(capsys, two_runs) -> None:
    """compare used to replace its page silently; every writer now refuses without
    --overwrite and writes nothing."""
    a, b = two_runs / "a", two_runs / "b"
    page = two_runs / "page.html"
    page.write_text("mine")
    rows = two_runs / "rows.csv"
    pd_rows = "x1,x2\n0.1,0.2\n"
    rows.write_text(pd_rows)
    pred = two_runs / "pred.csv"
    pred.write_text("mine")
    for args in (["compare", a, b, "-o", page], ["predict", a, rows, "-o", pred],
                 ["report", a, "-o", a], ["plot", a, "-o", a, "--kind", "data"]):
        if args[0] in ("report", "plot"):  # put an earlier report/figure in place
            (a / "report.html").write_text("mine")
            (a / "data.png").write_bytes(b"mine")
        code, out, err = cli(capsys, *args)
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, (args, err)
        assert "--overwrite" in err
    assert page.read_text() == "mine" and pred.read_text() == "mine"
    assert (a / "report.html").read_text() == "mine"
    code, _, err = cli(capsys, "compare", a, b, "-o", page, "--overwrite", "--quiet")
    assert (code, err) == (0, "") and page.read_text().startswith("<!")


def test_old_output_spellings_still_write(capsys, two_runs) -> None:
    a, b = two_runs / "a", two_runs / "b"
    rows = two_runs / "rows2.csv"
    rows.write_text("x1,x2\n0.1,0.2\n")
    for args, path in ((["predict", a, rows], two_runs / "p2.csv"),
                       (["compare", a, b], two_runs / "c2.html")):
        code, _, err = cli(capsys, *args, "--output", path, "--quiet")
        assert code == 0, err
        assert err == "warning: --output is deprecated; use -o/--out\n"
        assert path.is_file()
