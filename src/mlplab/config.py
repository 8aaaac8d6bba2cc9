"""RunConfig: the one typed description of a run.

CLI flags, YAML/TOML files, the Python API, the estimators and the web playground are all views
of this schema; none keeps its own defaults or validation. Dotted paths (``optim.lr``,
``model.hidden``) name a key everywhere.

Example
-------
>>> cfg = RunConfig.from_any({"model": {"hidden": [8]}, "optim": {"lr": 0.05}})
>>> cfg.model.hidden, cfg.optim.name, cfg.data.source
([8], 'adamw', 'circles')
>>> with_overrides(cfg, {"optim.lr": "0.5"}).optim.lr
0.5
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import tomllib
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mlplab import registry
from mlplab.errors import ConfigError, did_you_mean

# train.early_stopping's switch words (YAML also reads on/off/yes/no as booleans)
STOP_OFF = ("off", "false", "no", "none", "null")
STOP_ON = ("on", "true", "yes", "auto")
TaskName = Literal["auto", "binary", "multiclass", "multilabel", "regression"]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(_Part):
    """Where the data comes from and how it is split and preprocessed."""

    source: str = Field("circles", description="dataset name or CSV/Parquet path")
    n_samples: int = Field(1000, ge=4, le=50_000_000,
                           description="generated data: number of points")
    noise: float | None = Field(None, ge=0.0, le=10.0,  # None: the generator's own default
                                description="generated data: noise level")
    n_classes: int | None = Field(None, ge=2, le=50)  # blobs / spiral
    n_features: int | None = Field(None, ge=1, le=10_000)  # blobs / linear
    label_noise: float = Field(0.0, ge=0.0, le=0.5)  # fraction of labels flipped
    imbalance: float | None = Field(None, gt=0.0, le=0.5)  # minority class fraction
    # generators: the data's own seed (None: the run's seed); recipes fix it to the
    # tutorial's random_state so other run seeds change the model, not the data
    seed: int | None = Field(None, ge=0, le=2**32 - 1)
    target: str | list[str] | None = Field(None, description=(  # files: the target column(s)
        "target column; repeat, or separate with commas, for several (a column whose name "
        "has a comma is kept whole)"))
    features: list[str] | None = Field(None, description="feature columns, comma-separated")
    test_size: float = Field(0.2, ge=0.0, lt=1.0,
                             description="fraction of the rows held out for testing")
    val_size: float = Field(0.0, ge=0.0, lt=1.0,
                            description="fraction of the rows held out for validation")
    # robust: median/IQR then a smooth clip to +-3, so outliers cannot dominate
    scale: Literal["standard", "robust", "minmax", "none"] = Field("standard", description=(
        "how the inputs are scaled; robust: median and IQR, then a smooth clip to +-3"))
    scale_target: bool = True  # regression: standardise the target (tutorials fit raw values)
    impute: Literal["error", "mean", "median", "most_frequent", "drop"] = Field(
        "error", description="missing values: refuse them, fill them, or drop their rows")
    drop: list[str] = Field(default_factory=list,  # columns left out (e.g. row IDs)
                            description="leave a column out (repeat, or comma-separated)")
    categorical: list[str] = Field(default_factory=list,  # declared kinds, not inferred
        description="treat a column as categories (repeat, or comma-separated)")
    numeric: list[str] = Field(
        default_factory=list, description="treat a column as numbers (repeat, or comma-separated)")
    na_values: list[str] = Field(
        default_factory=list, description="text read as missing, comma-separated, e.g. '?,n/a'")
    decimal: Literal[".", ","] = Field(".", description="decimal mark of numbers written as text")
    encoding: str | None = Field(None, description=(
        "text encoding of the file (default: UTF-8, else detected), e.g. gbk"))
    pos_label: str | int | bool | None = Field(None, description=(  # what the scores are for
        "binary: the positive class (default: 1/True/yes, else the minority)"))
    # files larger than memory: read in chunks instead of loading (mlplab.data.stream);
    # "auto" streams Parquet/CSV files above stream_above_mb
    stream: bool | Literal["auto"] = "auto"
    stream_above_mb: int = Field(2048, ge=1)
    chunk_rows: int = Field(262_144, ge=1_000, le=50_000_000)  # rows read per chunk
    shuffle_buffer: int = Field(1_048_576, ge=0, le=100_000_000)  # rows mixed before batching

    @field_validator("target", "features", "drop", "categorical", "numeric", mode="before")
    @classmethod
    def _names(cls, v: Any) -> Any:  # DataFrames may have integer column names
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        return [str(x) for x in v] if isinstance(v, list | tuple) else v

    @field_validator("test_size")
    @classmethod
    def _test_leaves_train(cls, v: float) -> float:
        if v > 0.9:
            raise ValueError("test_size above 0.9 leaves too little to train on")
        return v


class ModelConfig(_Part):
    """The MLP: hidden sizes (empty = logistic/linear regression), activations, output."""

    # one layer of 100 (scikit-learn's default): measured as accurate as scikit-learn's
    # MLPClassifier on the shipped real datasets, and still solves the 2-D toy sets
    hidden: list[int] = Field(default_factory=lambda: [100], description=(
        "hidden sizes, e.g. 10,10 ('' or none: no hidden layer)"))
    activation: str | list[str] = Field("relu", description=(
        "one for every hidden layer, or one per layer: relu,tanh"))
    # registry.OUTPUTS (the CLI's --head); "auto": logits for mlplab's MLP, what forward
    # returns for a learner's module (mlplab.resolve decides; an explicit kind always wins)
    output: str = "auto"
    dropout: float = Field(0.0, ge=0.0, lt=1.0,
                           description="dropout probability after each hidden layer")
    batchnorm: bool = Field(False, description="batch normalisation after each hidden Linear")
    init: str = "default"  # registry.INITS
    # "auto": mlplab.resolve decides (AUTO_ENSEMBLE members on a full batch, else 1)
    ensemble: int | Literal["auto"] = Field("auto", description=(
        "members trained at once, each on its own validation split, merged into one MLP "
        "that averages their outputs (mlplab.ensemble); auto: 2 on full batches, else 1"))

    @field_validator("ensemble")
    @classmethod
    def _ensemble(cls, v: int | str) -> int | str:
        if v != "auto" and not (isinstance(v, int) and 1 <= v <= 64):
            raise ValueError(f"ensemble must be 'auto' or a number of members from 1 to 64, "
                             f"got {v!r}")
        return v
    # computed inputs appended to the first two (registry.CROSSES: x1^2, x2^2, x1*x2, sin(x1), ..)
    crosses: list[str] = Field(default_factory=list)

    @field_validator("crosses")
    @classmethod
    def _crosses(cls, v: list[str]) -> list[str]:
        return registry.check_crosses(v)

    @field_validator("hidden")
    @classmethod
    def _sizes(cls, v: list[int]) -> list[int]:
        if any(h < 1 or h > 100_000 for h in v):
            raise ValueError(f"hidden sizes must be between 1 and 100000, got {v}")
        if len(v) > 64:
            raise ValueError(f"at most 64 hidden layers, got {len(v)}")
        return v

    @field_validator("activation")
    @classmethod
    def _act(cls, v: str | list[str]) -> str | list[str]:
        for name in [v] if isinstance(v, str) else v:
            registry.check_choice("activation", name, registry.ACTIVATIONS)
        return v

    @field_validator("output")
    @classmethod
    def _out(cls, v: str) -> str:
        return v if v == "auto" else registry.check_choice("output", v, registry.OUTPUTS)

    @field_validator("init")
    @classmethod
    def _init(cls, v: str) -> str:
        return registry.check_choice("init", v, registry.INITS)

    def activations(self) -> list[str]:
        """One activation name per hidden layer."""
        if isinstance(self.activation, str):
            return [self.activation] * len(self.hidden)
        if len(self.activation) != len(self.hidden):
            raise ConfigError("model.activation has the wrong length",
                              expected=f"{len(self.hidden)} names (one per hidden layer)",
                              found=f"{len(self.activation)}",
                              hint="give one name for all layers, e.g. --activation relu")
        return list(self.activation)


class OptimConfig(_Part):
    """Optimizer and its regularisation."""

    name: str = "adamw"  # Adam with decoupled weight decay: robust without tuning
    lr: float = Field(0.01, gt=0.0, le=100.0, description="learning rate")
    momentum: float = Field(0.0, ge=0.0, lt=1.0, description="momentum (sgd, rmsprop)")
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = Field(1e-8, gt=0.0, le=1.0)  # adam / adamw / rmsprop denominator guard
    # None: the optimizer's default (registry.DEFAULT_WEIGHT_DECAY: for adamw 0.5 per epoch,
    # divided among the epoch's mini-batch steps; 0 for the others)
    weight_decay: float | None = Field(None, ge=0.0, description=(
        "weight decay (default: the optimizer's own, for adamw 0.5 per epoch)"))
    l1: float = Field(0.0, ge=0.0,  # on weights, not biases; added to the loss
                      description="L1 penalty on weights")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return registry.check_choice("optimizer", v, registry.OPTIMIZERS)


class ScheduleConfig(_Part):
    """Learning-rate schedule."""

    name: str = Field("none", description=(
        "learning-rate schedule; step multiplies the rate by {gamma} every {step_size} "
        "epochs; plateau by {gamma} after {patience} evaluations without improvement; change "
        "them with --set schedule.step_size=30 --set schedule.gamma=0.1"
    ).format(**registry.SCHEDULE_DEFAULTS))
    step_size: int = Field(registry.SCHEDULE_DEFAULTS["step_size"], ge=1)  # step: epochs
    gamma: float = Field(registry.SCHEDULE_DEFAULTS["gamma"], gt=0.0, le=1.0)  # decay factor
    patience: int = Field(registry.SCHEDULE_DEFAULTS["patience"], ge=0)  # plateau: evaluations
    min_lr: float = Field(0.0, ge=0.0)
    max_lr: float | None = Field(None, gt=0.0)  # onecycle: peak (default: optim.lr)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return registry.check_choice("schedule", v, registry.SCHEDULERS)


class TrainConfig(_Part):
    """The loop: length, batching, evaluation, stopping, device."""

    epochs: int = Field(1000, ge=0, le=10_000_000,  # 0: keep the untrained model (imports)
                        description="passes over the training rows")
    batch_size: int | Literal["auto", "full"] | None = Field(  # None/"full": full batch
        "auto", description="rows per batch, 'full' or 'auto'")
    shuffle: bool = True  # mini-batches from a fresh randperm each epoch (False: in order)
    eval_every: int = Field(10, ge=1, description="epochs between evaluations")
    # "auto": hold out a validation split (mlplab.resolve.val_size) and stop on its loss
    # with a patience that suits the data (mlplab.resolve.auto_patience); a number: that
    # patience in evaluations; None (also off/false/0/no): train all the epochs
    early_stopping: int | Literal["auto"] | None = Field(
        "auto", description="patience in evaluations, auto or off")
    clip_grad_norm: float | None = Field(None, gt=0.0,
                                         description="largest gradient norm (clipped above)")
    device: str = Field("auto", description="where to train: auto, cpu, cuda, cuda:N or mps")
    threshold: float = Field(0.5, gt=0.0, lt=1.0, description="binary decision threshold")
    # torch intra-op threads; None: mlplab.threads' policy (1 for small steps, else all allowed)
    num_threads: int | None = Field(None, ge=1, le=1024,
                                    description="torch threads (default: mlplab's policy)")
    # fused full-batch runners: auto = where bitwise equal to eager; on = always, also the
    # NumPy kernel (equal to rounding), refusing what they cannot do; off = never
    fast: Literal["auto", "on", "off"] = "auto"

    @field_validator("fast", mode="before")
    @classmethod
    def _fast(cls, v: Any) -> Any:  # YAML reads on/off/yes/no as booleans
        switch = {True: "on", False: "off", "true": "on", "false": "off", "yes": "on",
                  "no": "off"}
        return switch.get(v.lower() if isinstance(v, str) else v, v)

    @field_validator("early_stopping", mode="before")
    @classmethod
    def _stopping(cls, v: Any) -> Any:  # the same switch words as train.fast
        if isinstance(v, str) and v.strip().lstrip("-").isdigit():
            v = int(v)
        if isinstance(v, bool):
            return "auto" if v else None
        if v is None or v == 0 or (isinstance(v, str) and v.strip().lower() in STOP_OFF):
            return None
        if isinstance(v, str) and v.strip().lower() in STOP_ON:
            return "auto"
        if isinstance(v, int) and v < 1:
            raise ValueError(f"early_stopping patience must be >= 1, got {v}")
        return v

    @field_validator("batch_size")
    @classmethod
    def _bs(cls, v: int | str | None) -> int | str | None:
        if isinstance(v, int) and v < 1:
            raise ValueError(f"batch_size must be >= 1, got {v}")
        return v

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        base = v.split(":")[0]
        if base not in ("auto", "cpu", "cuda", "mps"):
            raise ValueError(f"device must be auto, cpu, cuda, cuda:N or mps, got '{v}'")
        return v


class LogConfig(_Part):
    """What gets written besides the run directory's core files."""

    tensorboard: bool = Field(False, description="write TensorBoard logs")
    snapshots_every: int | None = Field(None, ge=1)  # boundary snapshots (epochs)
    checkpoint_every: int | None = Field(
        None, ge=1, description="write a resumable checkpoint every K epochs")
    plots: bool = True
    quiet: bool = False


class RunConfig(_Part):
    """Everything that defines a run. Every key is optional; see DESIGN.md."""

    name: str = Field("run", description="run name (directory prefix)")
    description: str = ""  # one line shown by `mlplab recipes` and in reports
    seed: int = Field(42, ge=0, le=2**32 - 1,
                      description="seed of the weights, the split and generated data")
    data: DataConfig = Field(default_factory=DataConfig)
    task: TaskName = "auto"
    model: ModelConfig = Field(default_factory=ModelConfig)
    loss: str = "auto"
    optim: OptimConfig = Field(default_factory=OptimConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    log: LogConfig = Field(default_factory=LogConfig)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        if not v or any(c in v for c in "/\\\0") or v.startswith("."):
            raise ValueError(f"name must be a plain file name, got '{v}'")
        return v

    @field_validator("loss")
    @classmethod
    def _loss(cls, v: str) -> str:
        return v if v == "auto" else registry.check_choice("loss", v, registry.LOSSES)

    # --- construction ------------------------------------------------------------------

    @classmethod
    def from_any(cls, obj: RunConfig | dict[str, Any] | str | Path | None) -> RunConfig:
        """Build from a RunConfig, a nested dict, or a YAML/TOML file path."""
        if obj is None:
            return cls()
        if isinstance(obj, RunConfig):
            return obj.model_copy(deep=True)
        if isinstance(obj, str | Path):
            return cls.from_dict(read_config_file(Path(obj)))
        if isinstance(obj, dict):
            return cls.from_dict(obj)
        raise ConfigError("cannot build a RunConfig", expected="RunConfig, dict or a path",
                          found=type(obj).__name__)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        """Validate a nested dict, turning pydantic's errors into one-line ConfigErrors."""
        try:
            return cls.model_validate(d)
        except ValidationError as e:
            raise config_error_from(e) from None

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (JSON/YAML-safe)."""
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        """YAML text of the full config, defaults included."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def config_error_from(e: ValidationError) -> ConfigError:
    """One readable line from the first pydantic error (with 'did you mean' for typos)."""
    err = e.errors()[0]
    path = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        parent: type[BaseModel] = RunConfig
        for p in err["loc"][:-1]:
            field = parent.model_fields.get(str(p))
            ann = getattr(field, "annotation", None)
            parent = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else parent
        return ConfigError(f"unknown config key '{path}'",
                           hint=did_you_mean(str(err["loc"][-1]), parent.model_fields)
                           or "see `mlplab train --help` for the keys")
    ctx = err.get("ctx", {}).get("error")
    if isinstance(ctx, ConfigError):
        return ctx
    msg = str(ctx) if ctx is not None else err["msg"]
    return ConfigError(f"bad value for '{path}': {msg}", found=repr(err.get("input")))


def read_config_file(path: Path) -> dict[str, Any]:
    """Read a YAML or TOML config file into a dict, with clear errors."""
    if not path.is_file():
        raise ConfigError(f"config file '{path}' not found", hint="check the path")
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ConfigError(f"config file '{path}' is not valid YAML/TOML: {first}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file '{path}' must hold a mapping",
                          found=type(data).__name__)
    return data


def set_path(d: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``d['a']['b'] = value`` for ``dotted='a.b'``, creating levels as needed."""
    keys = dotted.split(".")
    cur = d
    for k in keys[:-1]:
        nxt = cur.setdefault(k, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"'{dotted}' goes through '{k}', which is not a section")
        cur = nxt
    cur[keys[-1]] = value


def parse_value(text: str) -> Any:
    """Parse an override value written on a command line: YAML scalars and lists.

    >>> parse_value("0.1"), parse_value("10,10"), parse_value("relu"), parse_value("null")
    (0.1, [10, 10], 'relu', None)
    """
    if "," in text and not text.strip().startswith("["):
        return [parse_value(t) for t in text.split(",") if t.strip() != ""]
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dict -> ``{"dotted.path": value}`` (the inverse of :func:`set_path`).

    >>> flatten({"optim": {"lr": 0.1, "name": "sgd"}, "seed": 1})
    {'optim.lr': 0.1, 'optim.name': 'sgd', 'seed': 1}
    """
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def with_overrides(cfg: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    """A copy of ``cfg`` with dotted-path overrides applied (strings are parsed)."""
    d = copy.deepcopy(cfg.to_dict())
    for key, value in overrides.items():
        set_path(d, key, parse_value(value) if isinstance(value, str) else value)
    return RunConfig.from_dict(d)
