"""mlplab in Jupyter, through a real kernel (nbclient + ipykernel): the helpers on a
tutorial's SimpleNN, the live training display and a Run that shows itself as HTML."""

from __future__ import annotations

import subprocess
import sys

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

EPOCHS = 120

# A learner's notebook: the tutorial's own model and loop, then mlplab's helpers and a run.
CELLS = [
    """\
import torch
from torch import nn
from sklearn.datasets import make_moons
import mlplab

X_np, y_np = make_moons(400, noise=0.1, random_state=0)
X = torch.tensor(X_np, dtype=torch.float32)
y = torch.tensor(y_np, dtype=torch.float32).unsqueeze(1)   # (n, 1) float labels

class SimpleNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(2, 16)
        self.fc2 = nn.Linear(16, 1)

    def forward(self, x):
        return torch.sigmoid(self.fc2(torch.relu(self.fc1(x))))

torch.manual_seed(0)
model = SimpleNN()
opt = torch.optim.Adam(model.parameters(), lr=0.05)
history = {"loss": [], "accuracy": []}
for epoch in range(150):
    opt.zero_grad()
    out = model(X)
    loss = nn.BCELoss()(out, y)
    loss.backward()
    opt.step()
    history["loss"].append(loss.item())
    history["accuracy"].append(((out > 0.5).float() == y).float().mean().item())""",
    "mlplab.plot_decision_boundary(model, X, y)",
    "metrics = mlplab.evaluate(model, X, y)\nmetrics['accuracy'], metrics['confusion_matrix']",
    "mlplab.plot_history(history)",
    f"""run = mlplab.train({{"data": {{"source": "moons", "n_samples": 300}},
                    "train": {{"epochs": {EPOCHS}, "eval_every": 10}}}}, save=False)""",
    "run",
    "run.plot('curves')",
    "import sys\nsorted(m for m in ('IPython', 'mlplab.inspect.notebook') if m in sys.modules)",
]


@pytest.fixture(scope="module")
def executed(notebooks, tmp_path_factory):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    return notebooks.run(nb, str(tmp_path_factory.mktemp("nb")))


def _outputs(nb, i):
    return nb.cells[i].outputs


def _data(output) -> dict:
    return output.get("data", {})


def test_helpers_show_figures_and_metrics_for_a_tutorial_model(executed):
    (boundary,) = _outputs(executed, 1)
    assert "image/png" in _data(boundary)  # shown without importing pyplot
    (metrics,) = _outputs(executed, 2)
    acc, cm = eval(_data(metrics)["text/plain"])  # a tuple literal: (accuracy, matrix)
    assert 0.9 < acc <= 1.0 and sum(map(sum, cm)) == 400
    (curves,) = _outputs(executed, 3)
    assert "image/png" in _data(curves)


def test_training_shows_one_live_display_and_no_terminal_bar(executed):
    outs = _outputs(executed, 4)
    assert [o.output_type for o in outs] == ["display_data"]  # nothing on stderr
    html = _data(outs[0])["text/html"]
    # updated in place up to the end of training: the last update shows the last epoch
    assert f'<progress value="{EPOCHS}" max="{EPOCHS}">' in html
    assert "<svg" in html and "<polyline" in html  # the small loss curve


def test_a_run_shows_itself_as_html_and_plots_one_kind(executed):
    (shown,) = _outputs(executed, 5)
    html = _data(shown)["text/html"]
    assert "<table>" in html and html.count("data:image/png;base64,") == 2
    assert 'class="finding' in html  # the diagnosis
    (figure,) = _outputs(executed, 6)
    assert "image/png" in _data(figure)
    (mods,) = _outputs(executed, 7)
    assert eval(_data(mods)["text/plain"]) == ["IPython", "mlplab.inspect.notebook"]


def test_outside_a_notebook_nothing_loads_ipython():
    code = ("import sys, mlplab\n"
            "mlplab.train({'data': {'n_samples': 100}, 'train': {'epochs': 5}}, save=False)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('IPython', 'ipykernel') or m == 'mlplab.inspect.notebook'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == "[]"


def test_run_plot_returns_the_figure_of_a_kind_drawn_from_the_runs_data():
    import mlplab
    from mlplab.errors import ConfigError, RunError
    from mlplab.inspect.notebook import run_html

    run = mlplab.train({"data": {"source": "moons", "n_samples": 200},
                        "train": {"epochs": 40, "eval_every": 10},
                        "log": {"quiet": True, "plots": False}}, save=False)
    fig = run.plot("confusion")
    counts = sorted(int(t.get_text()) for t in fig.axes[0].texts)
    cm = run.metrics["test"]["confusion_matrix"]  # scikit-learn's
    assert counts == sorted(c for row in cm for c in row)
    assert run.plot().axes[0].get_title().startswith("train · accuracy")
    with pytest.raises(ConfigError, match="unknown figure kind 'bogus'"):
        run.plot("bogus")

    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    own = mlplab.train({"train": {"epochs": 20}, "log": {"quiet": True, "plots": False}},
                       data=(X, (X[:, 0] > 0).astype(int)), save=False)
    with pytest.raises(RunError, match="needs the run's data"):
        own.plot("boundary")  # its config names circles: drawing those would be a lie
    html = run_html(own, lang="en")
    assert html.count("data:image/png;base64,") == 1 and "plot_decision_boundary" in html
