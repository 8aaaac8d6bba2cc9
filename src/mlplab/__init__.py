"""mlplab: train, understand and ship small neural-network classifiers with PyTorch.

Example
-------
>>> import mlplab
>>> run = mlplab.train({"data": {"source": "moons", "n_samples": 300},
...                     "train": {"epochs": 200}}, save=False)
>>> run.metrics["test"]["accuracy"] > 0.9
True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mlplab._version import __version__

# name -> module that defines it; imported on first use, so `import mlplab` (and the CLI's
# `--help`) costs no torch, pandas or scikit-learn until something needs them.
_LAZY = {
    "prepare": "mlplab.pipeline", "train": "mlplab.api", "RunConfig": "mlplab.config",
    "StackedMLP": "mlplab.training.runners.stacked",
    "train_members": "mlplab.training.runners.stacked",
    "ConfigError": "mlplab.errors", "DataError": "mlplab.errors", "MlplabError": "mlplab.errors",
    "MlplabWarning": "mlplab.errors", "NotFittedError": "mlplab.errors",
    "RunError": "mlplab.errors", "TrainingError": "mlplab.errors",
    "MLPClassifier": "mlplab.sklearn.estimator", "MLPRegressor": "mlplab.sklearn.estimator",
    "load_estimator": "mlplab.sklearn.estimator", "save": "mlplab.sklearn.estimator",
    "Run": "mlplab.runs.run", "load": "mlplab.runs.run",
    "evaluate": "mlplab.inspect.helpers", "plot_decision_boundary": "mlplab.inspect.helpers",
    "plot_history": "mlplab.inspect.helpers",
    "SweepResult": "mlplab.search.sweep", "sweep": "mlplab.search.sweep",
}

if TYPE_CHECKING:
    from mlplab.api import train
    from mlplab.config import RunConfig
    from mlplab.errors import (
        ConfigError,
        DataError,
        MlplabError,
        MlplabWarning,
        NotFittedError,
        RunError,
        TrainingError,
    )
    from mlplab.inspect.helpers import evaluate, plot_decision_boundary, plot_history
    from mlplab.pipeline import prepare
    from mlplab.runs.run import Run, load
    from mlplab.search.sweep import SweepResult, sweep
    from mlplab.sklearn.estimator import MLPClassifier, MLPRegressor, load_estimator, save
    from mlplab.training.runners.stacked import StackedMLP, train_members


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mlplab' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "ConfigError",
    "DataError",
    "MLPClassifier",
    "MLPRegressor",
    "MlplabError",
    "MlplabWarning",
    "NotFittedError",
    "Run",
    "RunConfig",
    "RunError",
    "StackedMLP",
    "SweepResult",
    "TrainingError",
    "__version__",
    "evaluate",
    "load",
    "load_estimator",
    "plot_decision_boundary",
    "plot_history",
    "prepare",
    "save",
    "sweep",
    "train",
    "train_members",
]
