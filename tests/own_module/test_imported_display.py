"""An imported run is shown as what it is: the learner's model, imported from their file and
scored on rows mlplab drew, not a run mlplab trained with an optimizer on a "train" split."""

from __future__ import annotations

import re
import textwrap
import warnings
from pathlib import Path

import pytest
import torch

import mlplab
from mlplab.cli.main import main
from mlplab.runs.importer import load_module

NET = textwrap.dedent('''
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(2, 8)
            self.fc2 = nn.Linear(8, 1)

        def forward(self, x):
            return torch.sigmoid(self.fc2(torch.relu(self.fc1(x))))
''')


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> tuple[Path, str]:
    """An imported run directory (with its report) and the --module text that rebuilds it."""
    d = tmp_path_factory.mktemp("imported")
    (d / "net.py").write_text(NET)
    spec = f"{d / 'net.py'}:Net"
    torch.manual_seed(0)
    torch.save(load_module(spec).state_dict(), d / "weights.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["import", str(d / "weights.pt"), "--module", spec, "--data", "disk",
                     "--set", "data.n_samples=100", "-o", str(d / "run"), "--quiet"]) == 0
    return d / "run", spec


def _said_trained(text: str) -> list[str]:
    """What a display of a run mlplab trained says and an imported one must not."""
    pats = [r"optim\s+adamw", r"lr[= ]0\.01", r"0 epochs in", r"\btrain\b\s*│"]
    return [p for p in pats if re.search(p, text)]


def test_show_says_imported_not_trained_and_labels_the_rows_it_scored(imported, capsys) -> None:
    """Regression (issue 28): `mlplab show` of an imported run printed "optim adamw lr=0.01",
    "0 epochs" and a "train" row, as if mlplab had trained the learner's model."""
    run_dir, spec = imported
    capsys.readouterr()
    assert main(["show", str(run_dir), "--module", spec]) == 0
    text = capsys.readouterr().out
    assert "imported from weights.pt" in text and "not trained by mlplab" in text
    assert "scored on" in text and "80% of the rows" in text and "20% of the rows" in text
    assert "100 disk points drawn by mlplab (seed 42)" in text
    assert _said_trained(text) == []


def test_the_runs_repr_and_notebook_display_say_imported(imported) -> None:
    """Regression (issue 28): the Run's repr and its rich display showed an imported run as
    trained (epochs and seconds, a "train" split)."""
    run_dir, spec = imported
    run = mlplab.load(run_dir, model=load_module(spec))
    assert "imported from 'weights.pt', not trained by mlplab" in repr(run)
    html = run._repr_html_()
    assert "imported from weights.pt, not trained by mlplab" in html
    assert "scored on" in html and ">80% of the rows<" in html
    assert ">train<" not in html and "epochs in" not in html


@pytest.mark.parametrize("lang, imported_text, share", [
    ("en", "imported from weights.pt, not trained by mlplab", ">80% of the rows<"),
    ("zh", "从 weights.pt 导入，并非由 mlplab 训练", ">80% 的数据<"),
])
def test_the_report_says_imported_and_names_no_optimizer(imported, tmp_path, lang,
                                                         imported_text, share) -> None:
    """Regression (issue 28): report.html of an imported run named the default optimizer
    ("adamw lr 0.01") and labelled mlplab's split of fresh points "train"."""
    run_dir, spec = imported
    page = (run_dir / "report.html").read_text(encoding="utf-8") if lang == "en" else None
    if page is None:
        assert main(["report", str(run_dir), "--module", spec, "--lang", lang, "-o",
                     str(tmp_path)]) == 0
        page = (tmp_path / "report.html").read_text(encoding="utf-8")
    head = page.split("<h2>", 1)[0]  # the title and what the run is
    assert imported_text in head and "adamw" not in head and "lr 0.01" not in head
    metrics = page.split("<table>", 1)[1].split("</table>", 1)[0]
    assert share in metrics and ">train<" not in metrics and ">训练集<" not in metrics


def test_a_run_mlplab_trained_keeps_its_optimizer_and_split_names(tmp_path, capsys) -> None:
    """The honest labels are for imported runs only."""
    run = mlplab.train({"data": {"source": "moons", "n_samples": 80}, "model": {"hidden": [3]},
                        "train": {"epochs": 3}, "log": {"quiet": True, "plots": False}},
                       out=tmp_path / "run")
    assert "imported" not in repr(run)
    capsys.readouterr()
    assert main(["show", str(tmp_path / "run")]) == 0
    text = capsys.readouterr().out
    assert "optim" in text and "3 epochs in" in text and "imported" not in text


def _point_labels(fig) -> list[str]:
    """The legend entries of a figure's markers (its figure-level and axes legends)."""
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    return [t.get_text() for leg in legends for t in leg.get_texts()]


def test_the_figures_label_an_imported_runs_points_as_the_text_views_do(imported) -> None:
    """Regression: data.png and boundary.png of an imported run labelled its points "train"
    and "test" while show, report and notebook said "scored on 80% / 20% of the rows"."""
    run_dir, spec = imported
    run = mlplab.load(run_dir, model=load_module(spec))
    data, boundary = run.plot("data"), run.plot("boundary")
    for fig in (data, boundary):
        labels = _point_labels(fig)
        assert "80% of the rows" in labels and "20% of the rows" in labels
        assert "train" not in labels and "test" not in labels
    assert data.axes[0].get_title() == "Data (80% of the rows: 80, 20% of the rows: 20)"
    titles = [ax.get_title() for ax in boundary.axes if ax.get_title()]
    assert [t.split(" · ")[0] for t in titles] == ["80% of the rows", "20% of the rows"]


def test_the_figures_of_a_run_mlplab_trained_still_say_train_and_test(tmp_path) -> None:
    """The share-of-the-rows labels are for imported runs only."""
    run = mlplab.train({"data": {"source": "moons", "n_samples": 80}, "model": {"hidden": [3]},
                        "train": {"epochs": 3}, "log": {"quiet": True, "plots": False}},
                       out=tmp_path / "run")
    data, boundary = run.plot("data"), run.plot("boundary")
    for fig in (data, boundary):
        labels = _point_labels(fig)
        assert "train" in labels and "test" in labels and "of the rows" not in " ".join(labels)
    assert data.axes[0].get_title() == "Data (train 64, test 16)"
    titles = [ax.get_title() for ax in boundary.axes if ax.get_title()]
    assert [t.split(" · ")[0] for t in titles] == ["train", "test"]
