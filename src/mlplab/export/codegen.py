"""The one generator of plain-PyTorch code: the pieces every code export is made of.

A :class:`Source` holds what a run knows about itself (config, task, fitted preprocessing,
target encoding, the network). From it come the steps of a tutorial, each a title, a short
explanation and its code: imports and settings, the data, the split, the preprocessing, the
model class, loss and optimizer, the training loop, logits -> probabilities -> labels with the
metrics, the decision boundary, and saving the ``state_dict``. :mod:`.train` joins them into
``train.py``, :mod:`.notebook` into cells, :mod:`.script` reuses the preprocessing and model
pieces for ``predict.py``, and the playground's script is ``train.py`` with the page's settings.

Every number the run learned or chose (scaling statistics, fill values, categories, classes,
the resolved batch size, weight decay and noise) is written as a constant, so the code repeats
the run instead of guessing it again.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import nn

from mlplab import registry
from mlplab.config import RunConfig
from mlplab.errors import RunError
from mlplab.models import MLP

if TYPE_CHECKING:
    from mlplab.data import Preprocessor, TargetEncoder
    from mlplab.runs.run import Run
    from mlplab.tasks import TaskSpec


@dataclass(frozen=True)
class Step:
    """One step of the tutorial: a title, a sentence or two of explanation and its code."""

    title: str
    text: str
    code: str


@dataclass
class Source:
    """What the code is generated from: a run, or the playground's session."""

    config: RunConfig
    task: TaskSpec
    preprocessor: Preprocessor
    target_encoder: TargetEncoder
    model: nn.Module
    batch_size: int | None  # resolved: None = full batch
    n_train: int
    n_val: int
    n_test: int
    epochs: int  # epochs the script trains (the playground: the epochs reached so far)
    schedule_epochs: int  # epochs the schedule was built for (cosine T_max, onecycle)
    lr_changes: dict[int, float] = field(default_factory=dict)  # epoch -> lr (playground)
    target_scaler: dict[str, list[float]] | None = None  # regression: {"mean", "scale"}
    data_file: str | None = None  # an upload's file name
    imported: dict[str, Any] | None = None  # mlplab import: {"file", "module"}; not trained
    weights: Path | None = None  # the run's model.safetensors (an imported run's weights)

    @classmethod
    def from_run(cls, run: Run) -> Source:
        """The source of a trained (or loaded) run."""
        from mlplab.runs.provenance import imported_from
        from mlplab.training.loop import resolve_batch_size

        n_train = int(run.info.get("n_train") or 0)
        imported = None
        if imported_from(run) is not None:
            imported = {"file": imported_from(run), **(run.info.get("imported") or {})}
        bs = run.info.get("batch_size", resolve_batch_size(run.config.train.batch_size,
                                                           n_train))
        return cls(config=run.config, task=run.task, preprocessor=run.preprocessor,
                   target_encoder=run.target_encoder, model=run.model, batch_size=bs,
                   n_train=n_train, n_val=int(run.info.get("n_val") or 0),
                   n_test=int(run.info.get("n_test") or 0), epochs=run.config.train.epochs,
                   schedule_epochs=run.config.train.epochs,
                   target_scaler=target_scaler(run), imported=imported,
                   weights=(Path(run.path) / "model.safetensors").resolve()
                   if run.path is not None else None)

    @property
    def features(self) -> list[str]:
        return list(self.preprocessor.input_columns)

    @property
    def targets(self) -> list[str]:
        return list(self.target_encoder.target_names)

    @property
    def plottable(self) -> bool:
        """Two numeric inputs: the boundary can be drawn in the data's own units."""
        return len(self.features) == 2 and not self.preprocessor.categorical


def output_columns(run: Run) -> list[str]:
    """Names of the columns every export returns: ``proba_<class>`` or ``predicted_<y>``.

    Example
    -------
    >>> import mlplab
    >>> run = mlplab.train({"data": {"source": "gaussians", "n_samples": 60},
    ...                     "model": {"hidden": [2]}, "train": {"epochs": 1}}, save=False)
    >>> output_columns(run)
    ['proba_0', 'proba_1']
    """
    if run.task.is_classification:
        return [f"proba_{c}" for c in run.classes]
    return [f"predicted_{n}" for n in run.target_encoder.target_names]


def target_scaler(run: Run) -> dict[str, list[float]] | None:
    """A regression run's target standardisation (``model.json`` ``target_scaler``), if any:
    the network learned ``z = (y - mean) / scale``; every export applies the inverse."""
    scaler = run.model_json().get("target_scaler")
    if not scaler or run.task.is_classification:
        return None
    return {"mean": list(scaler["mean"]), "scale": list(scaler["scale"])}


# --- preprocessing (shared by train.py, the notebook and predict.py) ------------------------

PREPROCESS_CODE = '''\
FEATURES = {features!r}  # raw input columns, in order
NUMERIC = {numeric!r}  # column: [center, spread, fill for missing (None: refuse)]
CATEGORIES = {categories!r}  # column: known values, one-hot (unseen -> zeros)
CATEGORY_FILL = {category_fill!r}  # column: value used for missing entries
NA_VALUES = {na_values!r}  # text that means "missing"
DECIMAL = {decimal!r}  # the decimal mark of numbers written as text


def is_missing(v):
    return v is None or v != v or (isinstance(v, str) and (v.strip() == ""
                                                          or v.strip() in NA_VALUES))


def to_number(v):
    """One raw cell -> float (NaN when missing); True/False count as 1/0."""
    if is_missing(v):
        return float("nan")
    if isinstance(v, str):
        v = v.strip()
        if v.lower() in ("true", "false"):
            return float(v.lower() == "true")
        v = v.replace(DECIMAL, ".") if DECIMAL != "." else v
    return float(v)


def preprocess(table):
    """Raw columns (a DataFrame, or a dict column -> values) -> float32 (n, {n_out}).

    Numbers are filled, centred and scaled in float64 with the training split's statistics,
    categories become one-hot blocks; the result is cast to float32 as mlplab does.
    """
    lost = [c for c in FEATURES if c not in table]
    if lost:
        raise ValueError(f"missing input column(s): {{', '.join(lost)}}; expected the "
                         f"training columns {{', '.join(FEATURES)}}")
    blocks = []
    for col in FEATURES:
        values = list(table[col])
        if col in NUMERIC:
            center, spread, fill = NUMERIC[col]
            x = np.array([to_number(v) for v in values], dtype=np.float64)
            if np.isnan(x).any():
                if fill is None:
                    raise ValueError(f"missing values in column {{col!r}} "
                                     f"({{int(np.isnan(x).sum())}})")
                x[np.isnan(x)] = fill
            blocks.append(((x - center) / spread)[:, None])
        else:
            known = [str(c) for c in CATEGORIES[col]]
            block = np.zeros((len(values), len(known)))
            for i, v in enumerate(values):
                if is_missing(v):
                    v = CATEGORY_FILL.get(col)
                    if v is None:
                        raise ValueError(f"missing values in column {{col!r}}")
                if str(v) in known:
                    block[i, known.index(str(v))] = 1.0
            blocks.append(block)
    return np.concatenate(blocks, axis=1).astype(np.float32)'''


def preprocess_code(pre: Preprocessor) -> str:
    """The constants and the ``preprocess(table)`` function for ``pre`` (a fitted run's)."""
    derived = [c for c in pre.input_columns if c in (getattr(pre, "dates", None) or {})
               or c in (getattr(pre, "durations", None) or {})]
    if derived:
        raise RunError(f"the date/duration column '{derived[0]}' cannot be written as code yet",
                       hint="use --format onnx, torchscript or exported-program")
    numeric = {c: [pre.center[c], pre.spread[c], pre.fill.get(c)] for c in pre.numeric}
    fill = {c: pre.fill[c] for c in pre.categorical if pre.fill.get(c) is not None}
    return PREPROCESS_CODE.format(features=list(pre.input_columns), numeric=numeric,
                                  categories=pre.categorical, category_fill=fill,
                                  na_values=list(getattr(pre, "na_values", []) or []),
                                  decimal=getattr(pre, "decimal", "."),
                                  n_out=len(pre.feature_names_out))


# --- the model ------------------------------------------------------------------------------

CROSS_CODE = {"x1^2": "a * a", "x2^2": "b * b", "x1*x2": "a * b", "sin(x1)": "torch.sin(a)",
              "sin(x2)": "torch.sin(b)"}  # mlplab.registry.CROSSES as code


def _layer_code(module: nn.Module) -> str:
    """``nn.Linear(2, 8)``, ``nn.ReLU()`` ...: a layer as code, checked to rebuild it."""
    if type(module) is nn.Linear and module.bias is not None:
        return f"nn.Linear({module.in_features}, {module.out_features})"
    code = f"nn.{module!r}"
    try:
        rebuilt = eval(code, {"nn": nn})  # our own repr of a torch layer, not user input
    except Exception:  # any failure means the layer cannot be written out
        rebuilt = None
    if type(rebuilt) is not type(module) or repr(rebuilt) != repr(module):
        raise RunError(f"cannot write layer {type(module).__name__} as plain PyTorch code",
                       hint="use --format onnx or exported-program")
    return code


def _user_module_code(model: nn.Module) -> str:
    """A learner's own module: its class (or builder) from its source file with only what it
    needs (:func:`~mlplab.export.usercode.needed_source`: no top-level code of the file is
    copied), then ``Net()`` building it as mlplab built it."""
    from mlplab.export.usercode import needed_source
    from mlplab.runs.run import describe_module

    info = describe_module(model)
    source = Path(info["source"]) if info.get("source") else None
    if source is None or not source.is_file():
        raise RunError(f"the source of {info['class']} is not in a file that can be read",
                       hint="define the module in a .py file and train with --module "
                            "FILE.py:CLASS, or use --format onnx")
    rebuild = info.get("rebuild")
    call = rebuild.rpartition(":")[2] if rebuild else None
    if call is None:
        params = inspect.signature(type(model)).parameters.values()
        if any(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD,
                                                  p.KEYWORD_ONLY) for p in params):
            raise RunError(f"cannot tell the arguments {info['class']} was built with",
                           hint="train with --module FILE.py:CLASS(args)")
        call = info["class"]
    call = call if "(" in call else call + "()"
    code = needed_source(source.read_text(encoding="utf-8"), call.partition("(")[0].strip())
    head = (f"# your module, from {source.name} (sha256 {str(info.get('sha256'))[:12]}...): "
            "its class and what it uses, nothing else")
    return "\n".join([head, code, "", "", "def Net():  # built as the run built it",
                      f"    return {call}"])


def model_code(model: nn.Module) -> str:
    """``class Net(nn.Module)`` with the run's layers, in mlplab's order (same state_dict keys,
    and the same initial weights from the same seed); a learner's own module as written."""
    if not isinstance(model, MLP):
        return _user_module_code(model)
    layers = "\n".join(f"            {_layer_code(m)},  # net.{i}"
                       for i, m in enumerate(model.net))
    crosses = list(getattr(model.spec, "crosses", []) or [])
    unknown = [c for c in crosses if c not in CROSS_CODE]
    if unknown:
        raise RunError(f"cannot write the input cross {unknown[0]!r} as code")
    forward = "        return self.net(x)"
    if crosses:
        cols = ", ".join(f"({CROSS_CODE[c]})[:, None]" for c in crosses)
        forward = (f"        a = x[:, 0]\n        b = x[:, 1] if x.shape[1] > 1 else a\n"
                   f"        x = torch.cat([x, {cols}], dim=1)  # crosses {crosses}\n"
                   + forward)
    return (f"class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            f"        self.net = nn.Sequential(\n{layers}\n        )\n\n"
            f"    def forward(self, x):  # (batch, {model.spec.in_features}) -> "
            f"(batch, {model.spec.n_outputs})\n{forward}")


# init scheme -> code for one Linear layer ``layer`` followed by activation ``act``
INIT_CODE: dict[str, Any] = {
    "default": None,
    "kaiming": lambda act: ("nn.init.kaiming_normal_({w}, a=0.01, nonlinearity='leaky_relu')"
                            if act == "leaky_relu" else
                            "nn.init.kaiming_normal_({w}, nonlinearity='relu')"),
    "xavier": lambda act: ("nn.init.xavier_uniform_({w}, gain=nn.init.calculate_gain('tanh'))"
                           if act == "tanh" else "nn.init.xavier_uniform_({w}, gain=1.0)"),
}


def init_code(model: nn.Module) -> str:
    """Lines that apply the run's init scheme to ``model``'s Linear layers ('' for default)."""
    if not isinstance(model, MLP):
        return ""  # model_code refuses it with the reason
    spec = model.spec
    rule = INIT_CODE[spec.init]
    if rule is None:
        return ""
    acts = [*spec.activations, "identity"]
    idx = [i for i, m in enumerate(model.net) if isinstance(m, nn.Linear)]
    lines = [f"# mlplab's {spec.init} init, layer by layer"]
    for i, act in zip(idx, acts, strict=True):
        lines += [rule(act).format(w=f"model.net[{i}].weight"),
                  f"nn.init.zeros_(model.net[{i}].bias)"]
    return "\n".join(lines)


# --- outputs: logits -> probabilities -> labels ---------------------------------------------

def proba_code(task: TaskSpec) -> str:
    """Body of ``to_proba(out)``: what TaskSpec.proba does, for this task."""
    if task.name == "regression":
        return "return out  # predicted values"
    if task.name == "multilabel":
        return "return out" if task.output == "sigmoid" else "return torch.sigmoid(out)"
    if task.n_outputs == 1:
        if task.output == "sigmoid":
            p1 = "out"
        elif task.loss in ("mse", "l1"):
            p1 = "out.clamp(0.0, 1.0)  # a regression-style score on 0/1 targets"
        else:
            p1 = "torch.sigmoid(out)"
        return f"p1 = {p1}\nreturn torch.cat([1.0 - p1, p1], dim=1)  # (n, 2)"
    return {"softmax": "return out", "log_softmax": "return out.exp()  # log-probabilities"}.get(
        task.output, "return torch.softmax(out, dim=1)")


def labels_code(task: TaskSpec) -> str:
    """Body of ``to_labels(proba)``: TaskSpec.labels for this task."""
    return {"binary": "return (proba[:, 1] >= THRESHOLD).long()",
            "multilabel": "return (proba >= THRESHOLD).long()",
            "multiclass": "return proba.argmax(dim=1)",
            "regression": "return proba"}[task.name]


# --- loss, optimizer, schedule --------------------------------------------------------------

OPTIM_ARGS = {"SGD": ("lr", "momentum", "nesterov", "weight_decay"),
              "Adam": ("lr", "betas", "eps", "weight_decay"),
              "AdamW": ("lr", "betas", "eps", "weight_decay"),
              "RMSprop": ("lr", "momentum", "eps", "weight_decay")}

SCHEDULE_CODE = {
    "none": None,
    "step": "torch.optim.lr_scheduler.StepLR(optimizer, step_size={s.step_size}, "
            "gamma={s.gamma!r})",
    "cosine": "torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max={epochs}, "
              "eta_min={s.min_lr!r})",
    "plateau": "torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor={s.gamma!r}, "
               "patience={s.patience}, min_lr={s.min_lr!r})",
    "onecycle": "torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr={max_lr!r}, "
                "epochs={epochs}, steps_per_epoch={steps})",
}


# losses that are not one torch.nn class: the code that defines ``loss_fn``
LOSS_CODE = {"nll": """nll = nn.NLLLoss()


def loss_fn(p, y):  # the model outputs softmax probabilities: NLL of their log
    return nll(torch.log(p.clamp_min(torch.finfo(p.dtype).tiny)), y)"""}


def loss_code(task: TaskSpec) -> str:
    """Code that defines ``loss_fn``: ``nn.BCEWithLogitsLoss()`` etc. from mlplab's table."""
    built = type(task.torch_loss())
    if built.__module__.startswith("torch.nn"):
        return f"loss_fn = nn.{built.__name__}()"
    return LOSS_CODE[task.loss]


def optimizer_code(cfg: RunConfig) -> str:
    """The optimizer mlplab builds for ``cfg``, with every argument that it sets."""
    import torch

    probe = registry.OPTIMIZERS[cfg.optim.name]([torch.zeros(1, requires_grad=True)],
                                                cfg.optim)
    name = type(probe).__name__
    args = ", ".join(f"{k}={tuple(v) if isinstance(v, list) else v!r}"
                     for k, v in probe.defaults.items() if k in OPTIM_ARGS.get(name, ()))
    call = f"torch.optim.{name}(model.parameters(), {args})"
    long = len("optimizer = " + call) > 99
    return f"torch.optim.{name}(\n    model.parameters(), {args})" if long else call


def schedule_code(src: Source) -> str | None:
    s = src.config.schedule
    code = SCHEDULE_CODE[s.name]
    if code is None:
        return None
    steps = 1 if src.batch_size is None else -(-src.n_train // src.batch_size)
    max_lr = s.max_lr if s.max_lr is not None else src.config.optim.lr
    return code.format(s=s, epochs=max(1, src.schedule_epochs), steps=max(1, steps),
                       max_lr=max_lr)


__all__ = ["Source", "Step", "init_code", "labels_code", "loss_code", "model_code",
           "optimizer_code", "output_columns", "preprocess_code", "proba_code",
           "schedule_code", "target_scaler"]
