"""Ready configs, one per classic tutorial workflow (``recipes/*.yaml``).

Example
-------
>>> "circles-relu" in recipe_names()
True
>>> load_recipe("disk-mlp")["model"]["hidden"]
[4, 4]
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

from mlplab.errors import ConfigError, did_you_mean


def recipe_names() -> list[str]:
    """Names of the shipped recipes, sorted."""
    files = resources.files(__name__).iterdir()
    return sorted(f.name[:-5] for f in files if f.name.endswith(".yaml"))


def load_recipe(name: str) -> dict[str, Any]:
    """The recipe's config as a dict (validate it with RunConfig.from_dict)."""
    names = recipe_names()
    if name not in names:
        raise ConfigError(f"unknown recipe '{name}'", expected="one of " + ", ".join(names),
                          hint=did_you_mean(name, names) or "see `mlplab recipes`")
    text = resources.files(__name__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict), f"recipe {name} is not a mapping"
    return data
