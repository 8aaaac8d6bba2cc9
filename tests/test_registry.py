"""The name tables: their facts about datasets match the data, and reading them imports no torch."""

import subprocess
import sys

import pytest

from mlplab import registry
from mlplab.data import dataset_summary


@pytest.mark.parametrize("name", list(registry.DATASETS))
def test_dataset_facts_listed_by_the_cli_match_the_loaded_data(name: str) -> None:
    """Guards `mlplab datasets`, which prints these facts without loading anything."""
    info, s = registry.DATASETS[name], dataset_summary(name)
    assert (info.rows, info.features, info.classes, info.task) == \
        (s["rows"], s["features"], s["classes"], s["task"])


def test_the_registry_and_config_import_without_torch() -> None:
    """Guards the CLI's start-up time: names are validated before torch is needed."""
    code = ("import sys, mlplab.registry, mlplab.config, mlplab.cli.main as m; "
            "m._register_commands(); "
            "print(sorted(k for k in ('torch', 'sklearn', 'pandas', 'matplotlib') "
            "if k in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_builders_still_build_torch_objects() -> None:
    from torch import nn

    assert isinstance(registry.ACTIVATIONS["leaky_relu"](), nn.LeakyReLU)
    assert registry.ACTIVATIONS["leaky_relu"]().negative_slope == 0.01
    assert isinstance(registry.LOSSES["bce"].build(reduction="none"), nn.BCELoss)
    assert registry.OUTPUTS["softmax"]().dim == -1
