"""Search spaces over RunConfig dotted paths: grids, random draws and Optuna suggestions.

A space maps a dotted path (``optim.lr``, ``model.hidden``, ``seed``) to a list of choices or
to a range ``{low, high, log}`` (integers if both ends are).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from mlplab.config import RunConfig, with_overrides
from mlplab.errors import ConfigError

if TYPE_CHECKING:
    import optuna


def expand_grid(grid: Mapping[str, Iterable[Any]]) -> list[dict[str, Any]]:
    """All combinations of a grid, in order (the last key varies fastest).

    >>> expand_grid({"optim.lr": [0.1, 1.0], "seed": range(2)})
    [{'optim.lr': 0.1, 'seed': 0}, {'optim.lr': 0.1, 'seed': 1}, {'optim.lr': 1.0, 'seed': 0}, {'optim.lr': 1.0, 'seed': 1}]
    """  # noqa: E501
    keys = list(grid)
    values = [list(grid[k]) for k in keys]
    for k, v in zip(keys, values, strict=True):
        if not v:
            raise ConfigError(f"sweep grid entry '{k}' has no values")
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]


def sample_space(space: Mapping[str, Any], n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` random draws: a list is a choice; ``{low, high, log}`` a range (int if both are).

    >>> draws = sample_space({"optim.lr": {"low": 0.01, "high": 1, "log": True},
    ...                       "seed": [0, 1]}, 3)
    >>> [(round(d["optim.lr"], 4), d["seed"]) for d in draws]
    [(0.1879, 1), (0.0121, 0), (0.0108, 0)]
    """
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n):
        d: dict[str, Any] = {}
        for key, spec in space.items():
            if isinstance(spec, Mapping):
                lo, hi, log = _range(key, spec)
                if isinstance(lo, int) and isinstance(hi, int) and not log:
                    d[key] = int(rng.integers(lo, hi + 1))
                else:
                    u = rng.uniform(math.log(lo), math.log(hi)) if log else rng.uniform(lo, hi)
                    d[key] = float(math.exp(u) if log else u)
                    if isinstance(lo, int) and isinstance(hi, int):  # log-uniform integers
                        d[key] = round(d[key])
            else:
                choices = list(spec)
                d[key] = choices[int(rng.integers(len(choices)))]
        draws.append(d)
    return draws


def _range(key: str, spec: Mapping[str, Any]) -> tuple[Any, Any, bool]:
    if "low" not in spec or "high" not in spec:
        raise ConfigError(f"bad search space entry '{key}'",
                          expected="a list of choices or {low, high, log}", found=str(spec))
    return spec["low"], spec["high"], bool(spec.get("log", False))


def check_space(base: RunConfig, space: Mapping[str, Any]) -> None:
    """Refuse, before anything trains, a space with a key or a value the config rejects
    (every choice, and both ends of every range, are tried on ``base``).

    >>> check_space(RunConfig(), {"optim.lr": {"low": 0.01, "high": 1.0}, "seed": [0, 1]})
    >>> check_space(RunConfig(), {"model.hidden": [[4], [0]]})
    Traceback (most recent call last):
    ...
    mlplab.errors.ConfigError: bad value for 'model.hidden': hidden sizes must be between 1 ...
    """
    for key, spec in space.items():
        values = list(_range(key, spec)[:2]) if isinstance(spec, Mapping) else list(spec)
        if not values:
            raise ConfigError(f"search space entry '{key}' has no values")
        for v in values:
            with_overrides(base, {key: v})


def suggest(trial: optuna.Trial, space: Mapping[str, Any]) -> dict[str, Any]:
    """One point of ``space`` (the :func:`sample_space` format) from an Optuna trial.

    Choices are stored in the study as JSON text (so lists such as hidden sizes are valid
    Optuna categories); :func:`decode_params` reads them back.

    >>> import optuna
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    >>> suggest(study.ask(), {"model.hidden": [[4], [8, 8]], "train.epochs": {"low": 5,
    ...                                                                        "high": 9}})
    {'model.hidden': [8, 8], 'train.epochs': 8}
    """
    d: dict[str, Any] = {}
    for key, spec in space.items():
        if isinstance(spec, Mapping):
            lo, hi, log = _range(key, spec)
            if isinstance(lo, int) and isinstance(hi, int):
                d[key] = trial.suggest_int(key, lo, hi, log=log)
            else:
                d[key] = trial.suggest_float(key, float(lo), float(hi), log=log)
        else:
            choices = [json.dumps(c) for c in spec]  # lists (hidden sizes) as JSON strings
            d[key] = json.loads(trial.suggest_categorical(key, choices))
    return d


def decode_params(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """A finished (or running) trial's parameters as :func:`suggest` returned them.

    >>> import optuna
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> study = optuna.create_study()
    >>> t = study.ask()
    >>> suggest(t, {"model.hidden": [[4], [4]]})
    {'model.hidden': [4]}
    >>> study.tell(t, 1.0).params, decode_params(study.trials[0])
    ({'model.hidden': '[4]'}, {'model.hidden': [4]})
    """
    from optuna.distributions import CategoricalDistribution

    return {k: json.loads(v) if isinstance(trial.distributions.get(k), CategoricalDistribution)
            else v for k, v in trial.params.items()}


__all__ = ["check_space", "decode_params", "expand_grid", "sample_space", "suggest"]
