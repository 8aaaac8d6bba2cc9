"""Resource bombs are refused before allocation, with the size needed and the limit."""

from __future__ import annotations

import pytest
import torch

from mlplab.budget import LIMIT_ENV, network_bytes
from mlplab.cli.main import main
from mlplab.models import ModelSpec, build_model


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_network_bytes_match_torch_state(optimizer: str) -> None:
    """Parameters + gradients + optimizer state, counted on a real model after one step."""
    model = build_model(ModelSpec(5, [7, 3], ["relu", "relu"], 2), seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9) if optimizer == "sgd" \
        else torch.optim.Adam(model.parameters())
    model(torch.randn(4, 5)).sum().backward()
    opt.step()
    tensors = [p for p in model.parameters()] + [p.grad for p in model.parameters()] + \
        [v for s in opt.state.values() for v in s.values() if v.dim() > 0]
    assert network_bytes(5, [7, 3], 2, optimizer, rows=0) == \
        sum(t.numel() * t.element_size() for t in tensors)


def test_huge_network_refused_up_front(tmp_path, capsys) -> None:
    """Regression: `train --hidden 100000,100000` ended in an allocator traceback."""
    code = main(["train", "--hidden", "100000,100000", "--epochs", "1", "-o",
                 str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: a network 2 -> 100000 -> 100000 -> 1") and err.count("\n") == 1
    assert "would need 160 GB" in err and LIMIT_ENV in err
    assert not (tmp_path / "r").exists()


def test_generated_dataset_refused_and_limit_raised(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv(LIMIT_ENV, "0.001")  # 1 MB: 1000 rows of circles need 0.77 MB
    args = ["train", "--epochs", "1", "--hidden", "4", "-q"]
    assert main([*args, "--n-samples", "2000", "-o", str(tmp_path / "big")]) == 2
    err = capsys.readouterr().err
    assert "2000 rows of circles would need 0.00154 GB" in err and f"({LIMIT_ENV})" in err
    assert not (tmp_path / "big").exists()
    assert main([*args, "--n-samples", "1000", "-o", str(tmp_path / "ok")]) == 0
    monkeypatch.setenv(LIMIT_ENV, "lots")
    assert main([*args, "-o", str(tmp_path / "bad")]) == 2
    assert f"bad {LIMIT_ENV}: expected a positive number" in capsys.readouterr().err
