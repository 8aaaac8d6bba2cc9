"""The MLP: its shape from the spec, init schemes against torch's own, parameter counts."""

import pytest
import torch
from torch import nn

from mlplab.models import MLP, ModelSpec, build_model, count_parameters


def spec(**kw: object) -> ModelSpec:
    base: dict = {"in_features": 3, "hidden": [5, 4], "activations": ["relu", "tanh"],
                  "n_outputs": 2}
    return ModelSpec(**{**base, **kw})


def test_layers_follow_the_spec_and_count_like_a_hand_sum() -> None:
    m = build_model(spec())
    widths = [(lin.in_features, lin.out_features) for lin in m.linears()]
    assert widths == [(3, 5), (5, 4), (4, 2)]
    assert count_parameters(m) == (3 * 5 + 5) + (5 * 4 + 4) + (4 * 2 + 2)
    assert m(torch.zeros(7, 3)).shape == (7, 2)


def test_forward_equals_the_same_layers_written_by_hand() -> None:
    m = build_model(spec(), seed=0)
    x = torch.randn(6, 3)
    l1, l2, l3 = m.linears()
    ref = l3(torch.tanh(l2(torch.relu(l1(x)))))
    torch.testing.assert_close(m(x), ref, rtol=0, atol=0)


def test_a_seed_makes_the_weights_repeatable() -> None:
    a, b = build_model(spec(), seed=1), build_model(spec(), seed=1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_kaiming_init_matches_torchs_kaiming_normal() -> None:
    m = build_model(spec(init="kaiming", hidden=[400], activations=["relu"]), seed=0)
    w = m.linears()[0].weight.detach()  # fan_in 3 -> std sqrt(2/3)
    assert abs(float(w.std()) - (2 / 3) ** 0.5) < 0.05
    assert all(float(lin.bias.detach().abs().sum()) == 0 for lin in m.linears())


def test_sigmoid_and_softmax_outputs_are_probabilities() -> None:
    x = torch.randn(5, 3)
    p = build_model(spec(output="softmax"), seed=0)(x)
    torch.testing.assert_close(p.sum(1), torch.ones(5))
    s = build_model(spec(output="sigmoid", n_outputs=1), seed=0)(x)
    assert bool(((s > 0) & (s < 1)).all())


def test_no_hidden_layer_is_a_linear_model() -> None:
    m = build_model(spec(hidden=[], activations=[], n_outputs=1))
    assert isinstance(m, MLP) and len(m.linears()) == 1
    assert not any(isinstance(mod, (nn.ReLU, nn.Tanh)) for mod in m.modules())


@pytest.mark.parametrize("act", ["relu", "tanh", "sigmoid", "gelu", "leaky_relu", "identity"])
def test_every_activation_builds(act: str) -> None:
    m = build_model(spec(activations=[act, act]))
    assert m(torch.randn(2, 3)).shape == (2, 2)
