"""Every lesson notebook, with the solutions in its answer cells, runs top to bottom in a real
kernel (one kernel for all lessons) and every step reports passed; the CLI writes them."""

from __future__ import annotations

import json
import os

import pytest

from mlplab.cli.main import main
from mlplab.learn import LESSONS, progress
from mlplab.learn.notebook import ANSWER_TAG, lesson_notebook

nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")


@pytest.mark.slow
def test_every_lesson_notebook_with_its_solutions_passes_every_step(tmp_path, learn_home,
                                                                   notebooks):
    env_before = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "Agg"
    # a kernel of its own: it must start with the learner's progress folder set above
    client = notebooks.client(lesson_notebook("disk", solutions=True), str(tmp_path),
                              kernel_name="python3")
    reports: dict[str, list[str]] = {}
    try:
        with client.setup_kernel():
            for name in LESSONS:
                nb = lesson_notebook(name, lang="en", solutions=True)
                client.nb = nb
                for i, cell in enumerate(nb.cells):
                    if cell.cell_type == "code":
                        client.execute_cell(cell, i)
                checks = [c for c in nb.cells if c.cell_type == "code"
                          and c.source.startswith("L.check(")]
                reports[name] = [notebooks.text(c) for c in checks]
    finally:
        if env_before is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = env_before
    for name, spec in LESSONS.items():
        assert len(reports[name]) == len(spec.steps)
        assert all(r.startswith("✓ Passed:") for r in reports[name]), (name, reports[name])
        assert progress.passed(name) == [s.id for s in spec.steps]  # the kernel's record


def test_the_cli_writes_a_notebook_with_empty_answer_cells(tmp_path, capsys):
    out = tmp_path / "circles.ipynb"
    assert main(["learn", "--notebook", "circles", "-o", str(out), "--lang", "zh"]) == 0
    nb = json.loads(out.read_text(encoding="utf-8"))
    for c in nb["cells"]:
        c["source"] = "".join(c["source"])  # nbformat stores lines
    answers = [c for c in nb["cells"] if ANSWER_TAG in c["metadata"].get("tags", [])]
    assert [c["source"] for c in answers] == ["# 在这里写你的答案"] * 2
    assert nb["cells"][0]["source"].startswith("# 圆环")
    assert "L.check(model=linear, X=X_test, y=y_test, step=1)" in [
        c["source"] for c in nb["cells"]]
    assert main(["learn", "--notebook", "circles", "-o", str(out)]) == 2  # no overwrite
    assert "exists" in capsys.readouterr().err


def test_the_cli_lists_lessons_with_progress(capsys):
    progress.record("circles", "linear_fails")
    assert main(["learn", "--lang", "en"]) == 0
    listing = capsys.readouterr().out
    rows = {line.split("│")[1].strip(): line for line in listing.splitlines()
            if line.count("│") >= 4}
    assert set(rows) == set(LESSONS)
    assert "1/2" in rows["circles"] and "0/3" in rows["disk"]
    assert main(["learn", "circles", "--lang", "en", "--reset"]) == 0
    assert progress.passed("circles") == []
    assert main(["learn", "--notebook", "nope", "-o", "x.ipynb"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown lesson 'nope'") and err.count("\n") == 1
