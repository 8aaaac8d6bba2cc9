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

__version__ = "0.1.0"

from mlplab.api import prepare, train
from mlplab.config import RunConfig
from mlplab.ensemble import StackedMLP, train_members
from mlplab.errors import (
                           ConfigError,
                           DataError,
                           MlplabError,
                           MlplabWarning,
                           NotFittedError,
                           RunError,
                           TrainingError,
)
from mlplab.estimator import MLPClassifier, MLPRegressor, load_estimator, save
from mlplab.run import Run, load
from mlplab.sweep import SweepResult, sweep  # the function shadows the module's name

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
    "load",
    "load_estimator",
    "prepare",
    "save",
    "sweep",
    "train",
    "train_members",
]
