"""plot_decision_boundary, evaluate and plot_history on the models and shapes tutorials use,
checked against scikit-learn's metrics on predictions made by hand."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn import metrics as skm
from torch import nn

import mlplab
from mlplab.errors import ConfigError


class SimpleNN(nn.Module):
    """The tutorials' model: two linear layers, ReLU, and (optionally) a sigmoid in forward."""

    def __init__(self, d: int = 2, k: int = 1, sigmoid: bool = False) -> None:
        super().__init__()
        self.fc1 = nn.Linear(d, 8)
        self.fc2 = nn.Linear(8, k)
        self.sigmoid = sigmoid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.fc2(torch.relu(self.fc1(x)))
        return torch.sigmoid(out) if self.sigmoid else out


def _binary_data(n: int = 300, d: int = 2):
    g = torch.Generator().manual_seed(1)
    X = torch.randn(n, d, generator=g)
    y = ((X[:, 0] + 0.5 * X[:, 1] + 0.3 * torch.randn(n, generator=g)) > 0).float()
    return X, y


def _trained(model: nn.Module, X, y, loss_fn, epochs: int = 150) -> nn.Module:
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(epochs):
        opt.zero_grad()
        loss_fn(model(X), y).backward()
        opt.step()
    return model


def _sk_binary(y: np.ndarray, p1: np.ndarray) -> dict:
    pred = (p1 >= 0.5).astype(int)
    return {"accuracy": skm.accuracy_score(y, pred), "precision": skm.precision_score(y, pred),
            "recall": skm.recall_score(y, pred), "f1": skm.f1_score(y, pred),
            "roc_auc": skm.roc_auc_score(y, p1),
            "log_loss": skm.log_loss(y, np.column_stack([1 - p1, p1])),
            "confusion_matrix": skm.confusion_matrix(y, pred).tolist()}


def test_binary_one_logit_matches_scikit_learn_on_hand_made_predictions():
    X, y = _binary_data()
    model = _trained(SimpleNN(), X, y.unsqueeze(1), nn.BCEWithLogitsLoss())
    with torch.no_grad():
        p1 = torch.sigmoid(model(X)).squeeze(1).numpy()
    want = _sk_binary(y.numpy().astype(int), p1)
    got = mlplab.evaluate(model, X, y.unsqueeze(1))  # (n, 1) float labels, as tutorials hold
    assert got["confusion_matrix"] == want.pop("confusion_matrix")
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-6), key
    assert 0.8 < got["accuracy"] < 1.0  # a real, imperfect fit: the reference is not trivial


def test_sigmoid_in_forward_softmax_and_log_softmax_heads_are_decoded_like_logits():
    """The same weights behind a sigmoid (in forward), a softmax or a log-softmax score the
    same as the raw logits: each head is detected and turned into the same probabilities."""
    X, y = _binary_data()
    logit = SimpleNN()
    wrapped = SimpleNN(sigmoid=True)
    wrapped.load_state_dict(logit.state_dict())
    _trained(logit, X, y.unsqueeze(1), nn.BCEWithLogitsLoss())
    wrapped.load_state_dict(logit.state_dict())
    got, want = mlplab.evaluate(wrapped, X, y), mlplab.evaluate(logit, X, y)
    assert got.pop("output").startswith("sigmoid") and want.pop("output").startswith("logits")
    assert got == want

    two = _trained(SimpleNN(k=2), X, y.long(), nn.CrossEntropyLoss())
    ref = mlplab.evaluate(two, X, y)
    for head in (nn.Softmax(dim=1), nn.LogSoftmax(dim=1)):
        got = mlplab.evaluate(nn.Sequential(two, head), X, y)
        assert got["confusion_matrix"] == ref["confusion_matrix"]
        assert got["log_loss"] == pytest.approx(ref["log_loss"], abs=1e-6)


def test_output_can_be_stated_when_values_cannot_tell():
    X, y = _binary_data(50)
    model = nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.fill_(0.0)
        model.bias.fill_(0.7)  # every output 0.7: a logit or a probability?
    as_logit = mlplab.evaluate(model, X, y, output="logits")["log_loss"]
    as_prob = mlplab.evaluate(model, X, y, output="sigmoid")["log_loss"]
    p_logit = 1 / (1 + np.exp(-0.7))
    yy = y.numpy()
    assert as_logit == pytest.approx(skm.log_loss(yy, np.full(50, p_logit)), abs=1e-6)
    assert as_prob == pytest.approx(skm.log_loss(yy, np.full(50, 0.7)), abs=1e-6)
    with pytest.raises(ConfigError, match="unknown output 'probs'"):
        mlplab.evaluate(model, X, y, output="probs")


def test_multiclass_with_one_hot_labels_equals_class_indices_and_scikit_learn():
    g = torch.Generator().manual_seed(2)
    X = torch.randn(300, 2, generator=g)
    y = (X[:, 0] > 0).long() + (X[:, 1] > 0.5).long()  # 3 classes
    model = _trained(SimpleNN(k=3), X, y, nn.CrossEntropyLoss())
    with torch.no_grad():
        proba = torch.softmax(model(X), dim=1).numpy()
    pred = proba.argmax(1)
    one_hot = nn.functional.one_hot(y, 3).float()
    got = mlplab.evaluate(model, X, one_hot)
    assert got == mlplab.evaluate(model, X.numpy(), y.tolist())
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr"))
    assert got["confusion_matrix"] == skm.confusion_matrix(y, pred).tolist()


def test_multilabel_sets_are_scored_per_label():
    g = torch.Generator().manual_seed(3)
    X = torch.randn(200, 3, generator=g)
    Y = torch.stack([X[:, 0] > 0, X[:, 1] > 0], dim=1).float()
    Y[:5] = torch.tensor([1.0, 1.0])  # rows with both labels: not one-hot
    model = _trained(SimpleNN(d=3, k=2), X, Y, nn.BCEWithLogitsLoss())
    with torch.no_grad():
        pred = (torch.sigmoid(model(X)) >= 0.5).long().numpy()
    got = mlplab.evaluate(model, X, Y)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(Y.numpy(), pred))
    assert got["f1"] == pytest.approx(skm.f1_score(Y.numpy(), pred, average="macro"))
    fig = mlplab.plot_decision_boundary(model, X, Y, resolution=20)
    assert len(fig.axes) == 2  # one panel per label


def test_boundary_surface_is_the_models_probability_over_the_plane():
    """The binary heatmap's middle colour (white) sits where the hand-computed sigmoid of the
    model crosses 0.5; a sigmoid head draws the same picture as its logits."""
    X, y = _binary_data(120)
    model = _trained(nn.Linear(2, 1), X, y.unsqueeze(1), nn.BCEWithLogitsLoss())
    fig = mlplab.plot_decision_boundary(model, X, y, resolution=41)
    ax = fig.axes[0]
    img = np.asarray(ax.images[0].get_array())  # (41, 41, 3), row 0 at the bottom
    x0, x1, y0, y1 = ax.images[0].get_extent()
    xs, ys = np.linspace(x0, x1, 41), np.linspace(y0, y1, 41)
    grid = torch.tensor(np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2), dtype=torch.float32)
    with torch.no_grad():
        p = torch.sigmoid(model(grid)).reshape(41, 41).numpy()
    whitest = img.sum(axis=2) == img.sum(axis=2).max()
    assert np.abs(p[whitest] - 0.5).max() < 0.05
    assert "misclassified" in ax.get_title()
    same = mlplab.plot_decision_boundary(nn.Sequential(model, nn.Sigmoid()), X, y,
                                         resolution=41)
    np.testing.assert_allclose(np.asarray(same.axes[0].images[0].get_array()), img)


def test_more_than_two_features_use_principal_components_or_a_chosen_pair():
    X, y = _binary_data(150, d=4)
    model = SimpleNN(d=4)
    pca = mlplab.plot_decision_boundary(model, X, y, resolution=20)
    assert "principal components of 4 features" in pca._suptitle.get_text()
    pair = mlplab.plot_decision_boundary(model, X, y, features=(0, 2), resolution=20,
                                         feature_names=["a", "b", "c", "d"])
    assert pair.axes[0].get_xlabel() == "a" and pair.axes[0].get_ylabel() == "c"
    assert "held at their training median" in pair._suptitle.get_text()


def test_chinese_names_draw_without_missing_glyphs():
    X, y = _binary_data(80)
    model = SimpleNN()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)"
        fig = mlplab.plot_decision_boundary(model, X, y, class_names=["否", "是"],
                                            feature_names=["特征一", "特征二"],
                                            title="决策边界", resolution=20)
        fig.canvas.draw()
    assert fig.axes[0].get_xlabel() == "特征一"


def test_wrong_shapes_say_what_is_wrong():
    X, y = _binary_data(30)
    with pytest.raises(ConfigError, match="one output unit can only separate two classes"):
        mlplab.evaluate(nn.Linear(2, 1), X, torch.arange(30) % 3)
    with pytest.raises(mlplab.DataError, match="different lengths"):
        mlplab.evaluate(nn.Linear(2, 1), X, y[:10])
    with pytest.raises(mlplab.DataError, match="not whole numbers"):
        mlplab.evaluate(nn.Linear(2, 1), X, y + 0.5)


def test_plot_history_takes_tutorial_dicts_runs_and_loss_lists():
    hist = {"epoch_count": [10, 20, 30], "loss_values": [torch.tensor(0.9), 0.5, 0.3],
            "test_loss_values": [1.0, 0.6, 0.4], "test_acc": [55.0, 80.0, 90.0]}
    fig = mlplab.plot_history(hist)
    loss_ax, acc_ax = fig.axes
    lines = {ln.get_label(): ln for ln in loss_ax.get_lines()}
    assert lines["train"].get_xdata().tolist() == [10, 20, 30]
    assert lines["test"].get_ydata().tolist() == pytest.approx([1.0, 0.6, 0.4])
    assert acc_ax.get_lines()[0].get_ydata().tolist() == pytest.approx([0.55, 0.8, 0.9])
    plain = mlplab.plot_history([0.7, 0.6, 0.5])
    assert plain.axes[0].get_lines()[0].get_xdata().tolist() == [1, 2, 3]
    run = mlplab.train({"data": {"source": "gaussians", "n_samples": 100},
                        "train": {"epochs": 20, "eval_every": 5},
                        "log": {"quiet": True, "plots": False}}, save=False)
    epochs = [r["epoch"] for r in run.history]
    assert mlplab.plot_history(run).axes[0].get_lines()[0].get_xdata().tolist() == epochs
    with pytest.raises(mlplab.DataError, match="unknown history key 'los'"):
        mlplab.plot_history({"los": [1.0]})


def test_the_cjk_font_is_loaded_only_when_a_label_needs_it():
    import subprocess
    import sys

    code = """
import torch, mlplab
from matplotlib import font_manager
def cjk():
    return any(f.name == "Noto Sans CJK SC" for f in font_manager.fontManager.ttflist)
X = torch.randn(40, 2); y = (X[:, 0] > 0).long()
mlplab.plot_decision_boundary(torch.nn.Linear(2, 1), X, y, resolution=10).canvas.draw()
before = cjk()
mlplab.plot_decision_boundary(torch.nn.Linear(2, 1), X, y, resolution=10,
                              class_names=["否", "是"]).canvas.draw()
print(before, cjk())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.split() == ["False", "True"]
