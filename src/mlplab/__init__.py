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

from mlplab.api import prepare, train  # noqa: E402
from mlplab.config import RunConfig  # noqa: E402
from mlplab.errors import (ConfigError, DataError, MlplabError, MlplabWarning,  # noqa: E402
                           NotFittedError, RunError, TrainingError)
from mlplab.run import Run, load  # noqa: E402

__all__ = [
    "ConfigError",
    "DataError",
    "MlplabError",
    "MlplabWarning",
    "NotFittedError",
    "Run",
    "RunConfig",
    "RunError",
    "TrainingError",
    "__version__",
    "load",
    "prepare",
    "train",
]
