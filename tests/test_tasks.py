"""Task resolution: defaults, refused pairings, decoding."""

from __future__ import annotations

import pytest
import torch

from mlplab.errors import ConfigError, MlplabWarning
from mlplab.tasks import resolve_task


@pytest.mark.parametrize(("task", "output", "loss", "n_out"), [
    ("binary", "logits", "bce_logits", 1),
    ("binary", "sigmoid", "bce", 1),
    ("binary", "logits", "cross_entropy", 2),
    ("multiclass", "logits", "cross_entropy", 4),
    ("multilabel", "logits", "bce_logits", 4),
    ("regression", "logits", "mse", 1),
    ("regression", "logits", "l1", 1),
])
def test_supported_pairings(task, output, loss, n_out):
    n_classes = 2 if task == "binary" else 4
    n_classes = 1 if task == "regression" else n_classes
    spec = resolve_task(task, n_classes=n_classes, n_targets=4 if task == "multilabel" else 1,
                        loss=loss, output=output)
    assert spec.n_outputs == n_out


@pytest.mark.parametrize(("output", "loss", "match"), [
    ("softmax", "cross_entropy", "applies softmax twice"),
    ("sigmoid", "bce_logits", "applies sigmoid twice"),
    ("logits", "bce", "needs probabilities"),
])
def test_tutorial_mistakes_are_refused_with_explanation(output, loss, match):
    with pytest.raises(ConfigError, match=match):
        resolve_task("binary", n_classes=2, n_targets=1, loss=loss, output=output)


def test_wrong_loss_for_task_is_refused():
    with pytest.raises(ConfigError, match="does not fit a multiclass task"):
        resolve_task("multiclass", n_classes=3, n_targets=1, loss="bce_logits", output="logits")
    with pytest.raises(ConfigError, match="does not fit a regression task"):
        resolve_task("regression", n_classes=1, n_targets=1, loss="cross_entropy",
                     output="logits")


def test_mse_on_binary_warns():
    with pytest.warns(MlplabWarning, match="learns more slowly"):
        resolve_task("binary", n_classes=2, n_targets=1, loss="mse", output="sigmoid")


def test_decoding_matches_hand_computation():
    spec = resolve_task("binary", n_classes=2, n_targets=1, loss="auto", output="logits",
                        threshold=0.7)
    out = torch.tensor([[0.0], [1.0], [-2.0]])
    p = spec.proba(out)
    p1 = 1 / (1 + torch.exp(-out[:, 0]))
    torch.testing.assert_close(p[:, 1], p1)
    torch.testing.assert_close(p.sum(1), torch.ones(3))
    assert spec.labels(p).tolist() == [0, 1, 0]  # 0.73 >= 0.7 only for the middle row
    mc = resolve_task("multiclass", n_classes=3, n_targets=1, loss="auto", output="logits")
    logits = torch.tensor([[1.0, 2.0, 0.5]])
    torch.testing.assert_close(mc.proba(logits), torch.softmax(logits, 1))
    assert mc.labels(mc.proba(logits)).tolist() == [1]


def test_targets_have_the_dtype_and_shape_the_loss_needs():
    import numpy as np
    b = resolve_task("binary", n_classes=2, n_targets=1, loss="auto", output="logits")
    t = b.targets(np.array([0, 1, 1]))
    assert t.dtype == torch.float32 and t.shape == (3, 1)
    ce = resolve_task("binary", n_classes=2, n_targets=1, loss="cross_entropy", output="logits")
    t = ce.targets(np.array([0, 1, 1]))
    assert t.dtype == torch.int64 and t.shape == (3,)


def test_scores_equal_scikit_learn():
    """TaskSpec.score: accuracy, exact-match multilabel accuracy and R² as sklearn has them."""
    import numpy as np
    import torch
    from sklearn.metrics import accuracy_score, r2_score

    g = torch.Generator().manual_seed(0)
    out, y = torch.randn(50, 3, generator=g), torch.randint(0, 3, (50,), generator=g)
    multi = resolve_task("multiclass", n_classes=3, n_targets=1, loss="auto", output="logits")
    assert multi.score(out, y) == pytest.approx(accuracy_score(y, out.argmax(1)))
    labels = (torch.rand(50, 3, generator=g) > 0.5).float()
    ml = resolve_task("multilabel", n_classes=3, n_targets=3, loss="auto", output="logits")
    assert ml.score(out, labels) == pytest.approx(accuracy_score(labels, (out > 0).long()))
    reg = resolve_task("regression", n_classes=2, n_targets=2, loss="auto", output="logits")
    target = out[:, :2] + 0.3 * torch.randn(50, 2, generator=g)
    want = r2_score(target.numpy(), out[:, :2].numpy(), multioutput="variance_weighted")
    assert reg.score(out[:, :2], target) == pytest.approx(float(want), rel=1e-5)
    assert np.isnan(reg.score(out[:3, :1], torch.ones(3, 1)))  # constant target: undefined


def test_sample_and_weighted_losses_by_hand():
    """Per-sample losses average a row's outputs; weights give sum(w*l)/sum(w)."""
    import torch
    import torch.nn.functional as F

    out, y = torch.tensor([[1.0, 2.0], [0.0, 4.0]]), torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    reg = resolve_task("regression", n_classes=2, n_targets=2, loss="mse", output="logits")
    assert reg.sample_losses(out, y).tolist() == [2.5, 5.0]  # (1+4)/2, (1+9)/2
    assert float(reg.batch_loss(out, y)) == 3.75
    assert float(reg.batch_loss(out, y, torch.tensor([3.0, 1.0]))) == (3 * 2.5 + 5.0) / 4
    z, t = torch.randn(6, 3), torch.tensor([0, 2, 1, 1, 0, 2])
    ce = resolve_task("multiclass", n_classes=3, n_targets=1, loss="auto", output="logits")
    assert torch.allclose(ce.sample_losses(z, t), F.cross_entropy(z, t, reduction="none"))
    assert torch.equal(ce.batch_loss(z, t), F.cross_entropy(z, t))  # torch's own mean
