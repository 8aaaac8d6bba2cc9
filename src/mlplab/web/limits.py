"""The playground's limits and its config check: one RunConfig schema, plus server caps.

The page's controls come from :data:`PLAYGROUND_DEFAULTS`, the RunConfig JSON schema and
:class:`Limits` (all served by ``GET /api/schema``); every config the page sends is validated
here with :meth:`RunConfig.from_dict`, exactly as the CLI does, then checked against the caps.

Example
-------
>>> cfg = playground_config({"model": {"hidden": [8, 8]}}, Limits())
>>> cfg.model.hidden, cfg.data.source, cfg.train.device
([8, 8], 'disk', 'cpu')
>>> playground_config({"model": {"hidden": [99]}}, Limits(max_neurons=32))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
mlplab.web.limits.LimitError: model.hidden is over the playground's limit: expected at most 32 ...
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import Any

from mlplab import registry
from mlplab.config import RunConfig
from mlplab.errors import ConfigError

# What the page starts with (the spirit of TensorFlow Playground's defaults). Training runs on
# until the page pauses it: train.epochs defaults to the server's cap (Limits.max_epochs).
PLAYGROUND_DEFAULTS: dict[str, Any] = {
    "name": "playground",
    "seed": 1,
    "data": {"source": "disk", "n_samples": 500, "noise": None, "test_size": 0.5,
             "impute": "median"},
    "model": {"hidden": [4, 2], "activation": "tanh"},
    "optim": {"name": "adam", "lr": 0.03},
    "train": {"batch_size": 10, "eval_every": 10},
    "log": {"quiet": True, "plots": False},
}

# Settings the server decides, whatever the page sends (no devices, threads or files; and no
# early stopping: the playground trains until the page pauses it).
FORCED: dict[str, Any] = {
    "train": {"device": "cpu", "num_threads": None, "early_stopping": None},
    "log": {"tensorboard": False, "checkpoint_every": None, "snapshots_every": None,
            "quiet": True, "plots": False},
}


class LimitError(ConfigError):
    """A request goes beyond one of the server's caps (sizes, epochs, sessions)."""


@dataclass(frozen=True)
class Limits:
    """Caps that keep one server usable by many browsers at once."""

    max_samples: int = 5000  # generated points, or rows of an upload
    max_features: int = 64  # input columns after encoding
    max_layers: int = 6
    max_neurons: int = 32  # per hidden layer
    max_epochs: int = 100_000
    max_classes: int = 10
    max_upload_bytes: int = 2_000_000
    max_uploads: int = 32  # kept in memory, oldest evicted first
    max_sessions: int = 32  # concurrent WebSocket sessions
    max_per_client: int = 8  # concurrent sessions from one client address
    max_message_bytes: int = 65_536
    fps: float = 15.0  # frames per second while playing
    grid: int = 64  # boundary heatmap cells per side
    unit_grid: int = 24  # per-neuron thumbnails, cells per side
    max_points: int = 2000  # scatter points sent per split
    torch_threads: int | None = 1  # many tiny models: parallel across sessions, not inside one
    compute_slots: int = 2  # sessions computing at once; the rest wait their (short) turn

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def merge(base: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with ``new`` merged in (nested dicts merged key by key)."""
    out = copy.deepcopy(base)
    for k, v in new.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) \
            else copy.deepcopy(v)
    return out


def _over(what: str, expected: str, found: Any) -> LimitError:
    return LimitError(f"{what} is over the playground's limit", expected=expected,
                      found=str(found), hint="run bigger models with `mlplab train`")


def playground_config(d: Any, limits: Limits, *,
                      upload_name: str | None = None) -> RunConfig:
    """Validate a config dict from the page: RunConfig's schema, then the server's caps.

    ``upload_name`` is the (display) file name of an uploaded table; without an upload the data
    source must be a built-in dataset, so no path the client sends is ever opened.
    """
    if not isinstance(d, dict):
        raise ConfigError("config must be a JSON object", found=type(d).__name__)
    full = merge(merge(defaults(limits), d), FORCED)
    if upload_name is not None:
        full["data"]["source"] = upload_name
    cfg = RunConfig.from_dict(full)
    check_limits(cfg, limits, uploaded=upload_name is not None)
    return cfg


def defaults(limits: Limits) -> dict[str, Any]:
    """The page's starting config on a server with these limits (runs until the cap).

    >>> defaults(Limits(max_epochs=500))["train"]["epochs"]
    500
    """
    return merge(PLAYGROUND_DEFAULTS, {"train": {"epochs": limits.max_epochs}})


def check_limits(cfg: RunConfig, limits: Limits, *, uploaded: bool) -> None:
    """Raise :class:`LimitError` / ConfigError if ``cfg`` is beyond what this server runs."""
    data = cfg.data
    if not uploaded and data.source not in registry.DATASETS:
        raise ConfigError(f"unknown dataset '{data.source}'",
                          expected="one of " + ", ".join(registry.DATASETS),
                          hint="to use your own data, upload a CSV")
    if uploaded and not data.target:
        raise ConfigError("an uploaded table needs data.target", hint="choose the target column")
    if data.n_samples > limits.max_samples:
        raise _over("data.n_samples", f"at most {limits.max_samples}", data.n_samples)
    if (data.n_features or 0) > limits.max_features:
        raise _over("data.n_features", f"at most {limits.max_features}", data.n_features)
    if (data.n_classes or 0) > limits.max_classes:
        raise _over("data.n_classes", f"at most {limits.max_classes}", data.n_classes)
    if data.test_size <= 0:
        raise ConfigError("the playground needs a test split",
                          expected="data.test_size > 0", found=str(data.test_size))
    hidden = cfg.model.hidden
    if len(hidden) > limits.max_layers:
        raise _over("model.hidden", f"at most {limits.max_layers} hidden layers", len(hidden))
    if hidden and max(hidden) > limits.max_neurons:
        raise _over("model.hidden", f"at most {limits.max_neurons} neurons per layer",
                    max(hidden))
    cfg.model.activations()  # one per layer, or one for all
    if cfg.train.epochs > limits.max_epochs:
        raise _over("train.epochs", f"at most {limits.max_epochs}", cfg.train.epochs)


def schema(limits: Limits) -> dict[str, Any]:
    """What the page needs to build its controls: schema, choices, defaults and limits."""
    return {
        "schema": RunConfig.model_json_schema(),
        "defaults": RunConfig.from_dict(merge(defaults(limits), FORCED)).to_dict(),
        "choices": {
            "activation": list(registry.ACTIVATIONS),
            "loss": ["auto", *registry.LOSSES],
            "optimizer": list(registry.OPTIMIZERS),
            "schedule": list(registry.SCHEDULERS),
            "output": list(registry.OUTPUTS),
            "init": list(registry.INITS),
            "task": ["auto", "binary", "multiclass", "multilabel", "regression"],
            "datasets": {n: {"kind": d.kind, "task": d.task, "description": d.description}
                         for n, d in registry.DATASETS.items()},
            "regularization": {"none": None, "l1": "optim.l1", "l2": "optim.weight_decay"},
            "crosses": {name: need for name, (_, need) in registry.CROSSES.items()},  # inputs
            "default_weight_decay": dict(registry.DEFAULT_WEIGHT_DECAY),
        },
        "losses": {n: i.description for n, i in registry.LOSSES.items()},
        "limits": limits.to_dict(),
    }
