"""Ready configs, one per model of the tutorials mlplab is built around (``recipes/*.yaml``).

Each recipe repeats a tutorial's settings as written: data generator and parameters, raw or
scaled inputs, split or none, epochs, activations, init, schedule, clipping and output layer.
Its ``recipe:`` block names the tutorial step and what mlplab cannot repeat exactly; it is
not part of the run's config. :func:`explain` lists where mlplab's own defaults differ and why.

Example
-------
>>> "circles-relu" in recipe_names()
True
>>> load_recipe("disk-mlp")["model"]["hidden"]
[4, 4]
>>> recipe_info("disk-mlp")["tutorial"]
'000'
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

from mlplab.errors import ConfigError, did_you_mean

META_KEY = "recipe"  # the block of a recipe file that describes it (not a RunConfig key)

# Why mlplab's default differs, per dotted config key; only these keys are explained (the
# data generator's own parameters define the data rather than a choice to compare).
DEFAULT_REASONS: dict[str, str] = {
    "data.scale": "mlplab standardises inputs (mean 0, std 1 per feature, fitted on the "
                  "training rows) so one learning rate suits every feature's units; the "
                  "tutorial feeds raw values",
    "data.scale_target": "mlplab standardises regression targets so the loss and the "
                         "learning rate do not depend on the target's units",
    "data.test_size": "mlplab holds out 20% of the rows so the score is measured on data the "
                      "model never saw",
    "model.hidden": "mlplab's default is one hidden layer of 100 units, as scikit-learn's",
    "model.activation": "ReLU is mlplab's default: it does not saturate, so deep stacks keep "
                        "their gradients",
    "model.output": "mlplab's default head outputs logits and lets the loss apply the "
                    "sigmoid / softmax (BCEWithLogitsLoss, CrossEntropyLoss), which is "
                    "numerically safer than a probability layer before the loss (the loss "
                    "follows the output: logits take BCEWithLogitsLoss or CrossEntropyLoss, "
                    "a sigmoid BCELoss, a softmax the NLL of its log)",
    "model.init": "mlplab keeps PyTorch's default init unless asked",
    "optim.name": "mlplab's default is AdamW with decoupled weight decay (0.5 per epoch), which "
                  "needs no tuning on standardised inputs",
    "optim.lr": "0.01 is mlplab's default rate for Adam-type optimizers",
    "schedule.name": "mlplab keeps a constant learning rate unless asked",
    "train.early_stopping": "mlplab holds out a validation split (tables of 300+ training "
                            "rows) and stops when its loss stops improving, keeping the best "
                            "weights; the tutorial trains a fixed number of epochs",
    "train.epochs": "mlplab's default is 1000 epochs",
    "train.batch_size": "mlplab picks full batches for small data and mini-batches for large",
    "train.clip_grad_norm": "mlplab does not clip gradients unless asked",
}


def recipe_names() -> list[str]:
    """Names of the shipped recipes, sorted."""
    files = resources.files(__name__).iterdir()
    return sorted(f.name[:-5] for f in files if f.name.endswith(".yaml"))


def _read(name: str) -> dict[str, Any]:
    names = recipe_names()
    if name not in names:
        raise ConfigError(f"unknown recipe '{name}'", expected="one of " + ", ".join(names),
                          hint=did_you_mean(name, names) or "see `mlplab recipes`")
    text = resources.files(__name__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict), f"recipe {name} is not a mapping"
    return data


def load_recipe(name: str) -> dict[str, Any]:
    """The recipe's config as a dict (validate it with RunConfig.from_dict)."""
    data = _read(name)
    data.pop(META_KEY, None)
    return data


def recipe_info(name: str) -> dict[str, Any]:
    """The recipe's ``recipe:`` block: ``tutorial``, ``step`` and ``differences`` (what mlplab
    does not repeat exactly)."""
    info: dict[str, Any] = dict(_read(name).get(META_KEY) or {})
    info.setdefault("differences", [])
    return info


def default_differences(config: Any) -> list[tuple[str, Any, Any, str]]:
    """``(key, value, mlplab default, why)`` for each explained key where ``config`` (a
    RunConfig) differs from mlplab's defaults.

    Example
    -------
    >>> from mlplab.config import RunConfig
    >>> [d[:3] for d in default_differences(RunConfig.from_dict({"data": {"scale": "none"}}))]
    [('data.scale', 'none', 'standard')]
    """
    from mlplab.config import RunConfig, flatten

    mine, base = flatten(config.to_dict()), flatten(RunConfig().to_dict())
    base.update(AUTO_SHOWN)
    return [(k, mine[k], base[k], why) for k, why in DEFAULT_REASONS.items()
            if _differs(k, mine.get(k), base.get(k), mine)]


# what an "auto" default is shown as: the value it becomes for mlplab's own MLP
AUTO_SHOWN = {"model.output": "logits"}


def _differs(key: str, value: Any, default: Any, mine: dict[str, Any]) -> bool:
    """A saved run holds what each "auto" became (:func:`mlplab.resolve.resolve`): a value
    "auto" can become is no difference (a patience, or None without a validation split; on
    mini-batches a plateau schedule; full batches or AUTO_BATCH rows); only stopping switched
    off where the default stops, or a value "auto" never gives, is."""
    from mlplab.resolve import AUTO_BATCH

    if key == "train.early_stopping" and default == "auto":
        return value is None
    if key == "train.batch_size" and default == "auto":
        return value not in ("auto", None, AUTO_BATCH)
    if key == "schedule.name" and value == "plateau" and \
            isinstance(mine.get("train.early_stopping"), int):
        return False
    return bool(value != default) and value != "auto"


def explain(name: str) -> list[str]:
    """Lines for ``mlplab recipes --explain NAME``: the tutorial step, each setting where
    mlplab's defaults would differ (and why), and what mlplab does not repeat exactly.

    Example
    -------
    >>> any(line.startswith("  data.scale") for line in explain("circles-relu"))
    True
    """
    from mlplab.config import RunConfig

    cfg = RunConfig.from_dict(load_recipe(name))
    info = recipe_info(name)
    lines = [f"{name}: {cfg.description}",
             f"tutorial {info.get('tutorial', '?')}: {info.get('step', '')}",
             scaling_line(cfg.data.scale),
             "where mlplab's own defaults would differ:"]
    lines += [f"  {k}: {v!r} here, {d!r} by default - {why}"
              for k, v, d, why in default_differences(cfg)]
    if info["differences"]:
        lines.append("what mlplab does not repeat exactly:")
        lines += [f"  - {d}" for d in info["differences"]]
    return lines


def scaling_line(scale: str) -> str:
    """One line saying what was done to the inputs.

    Example
    -------
    >>> scaling_line("none")
    'inputs: used as given (no scaling)'
    """
    return {"standard": "inputs: standardised (mean 0, std 1 per feature, fitted on the "
                        "training rows)",
            "minmax": "inputs: scaled to [0, 1] per feature (fitted on the training rows)",
            "none": "inputs: used as given (no scaling)"}.get(scale, f"inputs: scaled ({scale})")


__all__ = ["DEFAULT_REASONS", "default_differences", "explain", "load_recipe", "recipe_info",
           "recipe_names", "scaling_line"]
