"""The neuron view shows each hidden unit's activation, computed by hand here."""

from __future__ import annotations

import numpy as np
import torch

from mlplab.inspect.plots import make_plane, neuron_figure
from mlplab.inspect.plots.neurons import unit_maps
from mlplab.models import ModelSpec, build_model


def test_unit_maps_equal_relu_of_the_first_layer_by_hand():
    model = build_model(ModelSpec(2, [3, 2], ["relu", "tanh"], 1), seed=0)
    X = np.random.default_rng(0).normal(size=(30, 2)).astype(np.float32)
    plane = make_plane(X, ["a", "b"])
    maps = unit_maps(model, plane, n=12)
    assert [m.shape for m in maps] == [(3, 12, 12), (2, 12, 12)]
    _, _, pts = plane.grid(12)
    lin1, lin2, _ = model.linears()
    with torch.no_grad():
        h1 = torch.relu(lin1(torch.as_tensor(pts)))
        h2 = torch.tanh(lin2(h1))
    np.testing.assert_allclose(maps[0][1].ravel(), h1[:, 1].numpy(), atol=1e-6)
    np.testing.assert_allclose(maps[1][0].ravel(), h2[:, 0].numpy(), atol=1e-6)


def test_dead_units_are_labelled():
    model = build_model(ModelSpec(2, [4], ["relu"], 1), seed=0)
    with torch.no_grad():
        model.linears()[0].weight[2].zero_()
        model.linears()[0].bias[2] = -1.0  # unit 3 outputs 0 everywhere
    X = np.random.default_rng(0).normal(size=(30, 2)).astype(np.float32)
    fig = neuron_figure(model, make_plane(X, ["a", "b"]), resolution=10)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:4] == ["unit 1", "unit 2", "dead", "unit 4"]
