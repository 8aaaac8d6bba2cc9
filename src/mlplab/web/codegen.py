"""Exports from the playground: a plain-PyTorch script, the YAML and CLI, the run directory.

The script needs only torch, numpy and scikit-learn (pandas for a CSV): it draws the same data
with the same seed, splits it as mlplab does, builds the same ``nn.Sequential`` (same seed, same
initial weights), and trains with the same batch order and learning-rate changes, so it ends
where the playground's run ended.

Example
-------
>>> from mlplab.config import RunConfig
>>> cfg = RunConfig.from_dict({"data": {"source": "moons"}, "model": {"hidden": [4]}})
>>> cli_command(cfg).split()[:4]
['mlplab', 'train', '--data', 'moons']
"""

from __future__ import annotations

import io
import shlex
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import yaml

from mlplab import registry
from mlplab.config import RunConfig, flatten
from mlplab.data.synthetic import DEFAULT_NOISE
from mlplab.tasks import TaskSpec
from mlplab.training.loop import resolve_batch_size

# dataset -> code that sets X (float, (N, d)) and y (class indices or values)
DATA_CODE: dict[str, str] = {
    "disk": """g = torch.Generator().manual_seed(SEED)
    pts = torch.randn(N_SAMPLES, 2, generator=g)
    y = (pts.pow(2).sum(1) < 1).long().numpy()
    if NOISE > 0:
        pts = pts + NOISE * torch.randn(N_SAMPLES, 2, generator=g)
    X = pts.numpy()""",
    "circles": """from sklearn.datasets import make_circles
    X, y = make_circles(N_SAMPLES, noise=NOISE, factor=0.8, random_state=SEED)""",
    "moons": """from sklearn.datasets import make_moons
    X, y = make_moons(N_SAMPLES, noise=NOISE, random_state=SEED)""",
    "blobs": """from sklearn.datasets import make_blobs
    X, y = make_blobs(N_SAMPLES, n_features=N_FEATURES, centers=N_CLASSES,
                      cluster_std=NOISE, random_state=SEED)""",
    "gaussians": """rng = np.random.default_rng(SEED)
    y = (np.arange(N_SAMPLES) >= N_SAMPLES // 2).astype(np.int64)
    X = rng.normal(0.0, NOISE, size=(N_SAMPLES, N_FEATURES)) + np.where(y[:, None] == 1, 2.0, -2.0)
    perm = np.random.default_rng([SEED, 3]).permutation(N_SAMPLES)
    X, y = X[perm], y[perm]""",
    "xor": """rng = np.random.default_rng(SEED)
    X = rng.uniform(-1.0, 1.0, size=(N_SAMPLES, 2))
    y = ((X[:, 0] < 0) != (X[:, 1] < 0)).astype(np.int64)
    if NOISE > 0:
        X = X + rng.normal(0.0, NOISE, size=X.shape)""",
    "spiral": """rng = np.random.default_rng(SEED)
    y = np.arange(N_SAMPLES, dtype=np.int64) % N_CLASSES
    r = rng.uniform(0.0, 1.0, size=N_SAMPLES)
    t = 4.0 * (y + r) + rng.normal(0.0, NOISE, size=N_SAMPLES)
    X = np.stack([r * np.sin(t), r * np.cos(t)], axis=1)
    perm = np.random.default_rng([SEED, 3]).permutation(N_SAMPLES)
    X, y = X[perm], y[perm]""",
    "linear": """rng = np.random.default_rng(SEED)
    X = rng.uniform(0.0, 1.0, size=(N_SAMPLES, N_FEATURES))
    y = (3.0 * X.sum(axis=1) + 2.0 + NOISE * rng.normal(size=N_SAMPLES)).astype(np.float32)""",
}
SKLEARN_REAL = {"iris": "load_iris", "wine": "load_wine", "breast_cancer": "load_breast_cancer",
                "digits": "load_digits"}
DEFAULT_SHAPE = {"blobs": (4, 2), "spiral": (3, 2), "gaussians": (2, 2), "linear": (None, 1)}

ACT_CODE = {"relu": "nn.ReLU()", "leaky_relu": "nn.LeakyReLU(0.01)", "gelu": "nn.GELU()",
            "tanh": "nn.Tanh()", "sigmoid": "nn.Sigmoid()", "elu": "nn.ELU()",
            "silu": "nn.SiLU()", "identity": "nn.Identity()"}
HEAD_CODE = {"logits": None, "sigmoid": "nn.Sigmoid()", "softmax": "nn.Softmax(dim=-1)"}
LOSS_CODE = {"bce_logits": "nn.BCEWithLogitsLoss()", "bce": "nn.BCELoss()",
             "cross_entropy": "nn.CrossEntropyLoss()", "mse": "nn.MSELoss()",
             "l1": "nn.L1Loss()"}
OPT_CODE = {
    "sgd": "torch.optim.SGD(model.parameters(), lr=LR, momentum={momentum}, "
           "nesterov={nesterov}, weight_decay={weight_decay})",
    "adam": "torch.optim.Adam(model.parameters(), lr=LR, betas={betas}, "
            "weight_decay={weight_decay})",
    "adamw": "torch.optim.AdamW(model.parameters(), lr=LR, betas={betas}, "
             "weight_decay={weight_decay})",
    "rmsprop": "torch.optim.RMSprop(model.parameters(), lr=LR, momentum={momentum}, "
               "weight_decay={weight_decay})",
}
SCHED_CODE = {
    "none": None,
    "step": "torch.optim.lr_scheduler.StepLR(opt, step_size={step_size}, gamma={gamma})",
    "cosine": "torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max={t_max}, eta_min={min_lr})",
}
INIT_CODE = {  # mlplab's init schemes (registry.INITS), per Linear layer
    "default": None,
    "kaiming": "nn.init.kaiming_normal_(layer.weight, "
               "nonlinearity='leaky_relu' if act == 'leaky_relu' else 'relu')",
    "xavier": "nn.init.xavier_uniform_(layer.weight, "
              "gain=nn.init.calculate_gain('tanh') if act == 'tanh' else 1.0)",
}


def exported_config(cfg: RunConfig, epoch: int, lr_log: list[tuple[int, float]]) -> RunConfig:
    """The config that reproduces the playground's run: its start lr, the epochs it reached."""
    d = cfg.to_dict()
    d["train"]["epochs"] = max(1, epoch)
    if lr_log:
        d["optim"]["lr"] = lr_log[0][1]
    return RunConfig.from_dict(d)


def yaml_text(cfg: RunConfig, lr_log: list[tuple[int, float]] | None = None) -> str:
    """The config as YAML, with a note on learning-rate changes a config cannot express."""
    head = "# mlplab config exported from the playground: mlplab train --config THIS_FILE\n"
    later = [(e, lr) for e, lr in (lr_log or [])[1:]]
    if later:
        head += "# the page changed the learning rate at " + ", ".join(
            f"epoch {e} -> {lr:g}" for e, lr in later) + " (the script reproduces this)\n"
    return head + cfg.to_yaml()


def cli_command(cfg: RunConfig) -> str:
    """``mlplab train`` with every setting that differs from RunConfig's defaults."""
    parts = ["mlplab", "train", "--data", shlex.quote(cfg.data.source)]
    flat_new, flat_def = flatten(cfg.to_dict()), flatten(RunConfig().to_dict())
    for key, v in flat_new.items():
        if key == "data.source" or flat_def.get(key, object()) == v:
            continue
        text = v if isinstance(v, str) else yaml.safe_dump(v, default_flow_style=True).strip()
        text = text.removesuffix("\n...").strip()
        parts += ["--set", shlex.quote(f"{key}={text}")]
    return " ".join(parts)


def script(cfg: RunConfig, task: TaskSpec, lr_log: list[tuple[int, float]], n_train: int,
           total_epochs: int | None = None) -> str:
    """A standalone PyTorch training script that reproduces the run (see module docs)."""
    d, m, o = cfg.data, cfg.model, cfg.optim
    name = d.source
    k_def, f_def = DEFAULT_SHAPE.get(name, (None, 2))
    changes = {e: lr for e, lr in lr_log[1:]}
    bs = resolve_batch_size(cfg.train.batch_size, n_train)
    consts = [f"SEED = {cfg.seed}", f"TEST_SIZE = {d.test_size}",
              f"HIDDEN = {list(m.hidden)}", f"ACTIVATIONS = {m.activations()}",
              f"LR = {lr_log[0][1] if lr_log else o.lr}", f"EPOCHS = {cfg.train.epochs}",
              f"BATCH_SIZE = {bs}  # None: full batch",
              f"LR_CHANGES = {changes}  # epoch -> learning rate, as changed on the page",
              f"L1 = {o.l1}", f"THRESHOLD = {task.threshold}", f"SCALE = {d.scale!r}"]
    if name in DATA_CODE:
        noise = d.noise if d.noise is not None else DEFAULT_NOISE[name]
        consts[1:1] = [f"N_SAMPLES = {d.n_samples}", f"NOISE = {noise}",
                       f"N_CLASSES = {d.n_classes or k_def}",
                       f"N_FEATURES = {d.n_features or f_def}", f"LABEL_NOISE = {d.label_noise}"]
        data = _generated_data(name, d.label_noise > 0)
    elif name in SKLEARN_REAL:
        data = _sklearn_data(SKLEARN_REAL[name], name != "digits")
    else:
        data = _csv_data(cfg, task)
    return TEMPLATE.format(
        source=name, consts="\n".join(consts), data=data,
        split_stratify="y" if task.is_classification else "None",
        layers=_layers_code(cfg, task), init=_init_code(m.init), loss=LOSS_CODE[task.loss],
        target=_target_code(task), opt=_opt_code(cfg), sched=_sched_code(cfg, total_epochs),
        clip=(f"\n            nn.utils.clip_grad_norm_(model.parameters(), "
              f"{cfg.train.clip_grad_norm})" if cfg.train.clip_grad_norm else ""),
        score=_score_code(task))


def _generated_data(name: str, flip: bool) -> str:
    code = f"    {DATA_CODE[name]}\n"
    if flip:
        code += """    rng = np.random.default_rng([SEED, 1])  # label noise: flip some labels
    n_flip = round(LABEL_NOISE * len(y))
    idx = rng.choice(len(y), n_flip, replace=False)
    y = np.asarray(y, dtype=np.int64).copy()
    y[idx] = (y[idx] + rng.integers(1, N_CLASSES, size=n_flip)) % N_CLASSES
"""
    return code + "    return np.asarray(X, dtype=np.float32), np.asarray(y)\n"


def _sklearn_data(loader: str, named: bool) -> str:
    remap = """    names = np.asarray(bunch.target_names)[bunch.target]  # classes sorted by name
    y = np.searchsorted(np.unique(names), names)""" if named else "    y = bunch.target"
    return f"""    from sklearn.datasets import {loader}
    bunch = {loader}()
    X = bunch.data
{remap}
    return np.asarray(X, dtype=np.float32), np.asarray(y)
"""


def _csv_data(cfg: RunConfig, task: TaskSpec) -> str:
    target = cfg.data.target
    feats = cfg.data.features
    return f"""    import pandas as pd  # put the CSV next to this script
    frame = pd.read_csv({cfg.data.source!r}, sep=None, engine="python")
    target = {target!r}
    features = {feats!r} or [c for c in frame.columns if c != target]
    frame = frame[[*features, target]].dropna()  # mlplab: data.impute = {cfg.data.impute!r}
    X = pd.get_dummies(frame[features], dtype=float).to_numpy(dtype=np.float64)
    raw = frame[target].to_numpy()
    y = {"raw.astype(np.float32)" if not task.is_classification else
         "np.searchsorted(np.unique(raw), raw)"}
    return np.asarray(X, dtype=np.float32), np.asarray(y)
"""


def _layers_code(cfg: RunConfig, task: TaskSpec) -> str:
    m = cfg.model
    lines = ["layers = []", "width = X_train.shape[1]",
             "for h, act in zip(HIDDEN, ACTIVATIONS):",
             "    layers.append(nn.Linear(width, h))"]
    if m.batchnorm:
        lines.append("    layers.append(nn.BatchNorm1d(h))")
    lines.append("    layers.append(ACT[act]())")
    if m.dropout > 0:
        lines.append(f"    layers.append(nn.Dropout({m.dropout}))")
    lines += ["    width = h", f"layers.append(nn.Linear(width, {task.n_outputs}))"]
    head = HEAD_CODE[m.output]
    if head:
        lines.append(f"layers.append({head})")
    acts = sorted(set(m.activations()))
    table = ", ".join(f"{a!r}: lambda: {ACT_CODE[a]}" for a in acts)
    return f"ACT = {{{table}}}\n" + "\n".join(lines) + "\nmodel = nn.Sequential(*layers)"


def _init_code(init: str) -> str:
    code = INIT_CODE[init]
    if code is None:
        return ""
    return f"""linears = [m for m in model if isinstance(m, nn.Linear)]
for layer, act in zip(linears, [*ACTIVATIONS, "identity"]):  # mlplab's {init} init
    {code}
    nn.init.zeros_(layer.bias)
"""


def _target_code(task: TaskSpec) -> str:
    if task.loss == "cross_entropy":
        return "torch.as_tensor(a).long().reshape(-1)"
    if task.name == "binary":
        return "torch.as_tensor(a).float().reshape(-1, 1)"
    return "torch.as_tensor(a).float().reshape(len(a), -1)"


def _opt_code(cfg: RunConfig) -> str:
    o = cfg.optim
    return OPT_CODE[o.name].format(momentum=o.momentum, nesterov=o.nesterov,
                                   weight_decay=registry.weight_decay(o),
                                   betas=tuple(o.betas))


def _sched_code(cfg: RunConfig, total_epochs: int | None) -> str:
    s = cfg.schedule
    code = SCHED_CODE.get(s.name)
    if code is None:
        return "None" if s.name == "none" else f"None  # schedule {s.name!r} is not exported"
    return code.format(step_size=s.step_size, gamma=s.gamma, min_lr=s.min_lr,
                       t_max=max(1, total_epochs or cfg.train.epochs))


def _score_code(task: TaskSpec) -> str:
    if not task.is_classification:
        return """resid = ((y_test - out) ** 2).sum()
    score = float(1.0 - resid / ((y_test - y_test.mean(0)) ** 2).sum())
    name = "r2\""""
    if task.name == "binary" and task.n_outputs == 1:
        p1 = {"sigmoid": "out", "logits": "torch.sigmoid(out)"}.get(task.output, "out")
        if task.loss in ("mse", "l1"):
            p1 = "out.clamp(0.0, 1.0)"
        pred = f"({p1}[:, 0] >= THRESHOLD).long()"
    elif task.name == "binary":
        pred = "(torch.softmax(out, dim=1)[:, 1] >= THRESHOLD).long()"
    else:
        pred = "out.argmax(dim=1)"
    return f"""pred = {pred}
    score = float((pred == y_test.reshape(-1).long()).float().mean())
    name = "accuracy\""""


TEMPLATE = '''"""Train the mlplab playground's network with plain PyTorch ({source} data).

Exported from the mlplab web playground. Needs only torch, numpy and scikit-learn. Same data,
same split, same initial weights and the same batch order as the playground's run, so it ends
with the same test score (run it: python this_file.py).
"""

import json

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch import nn

{consts}


def make_data():
{data}

X, y = make_data()

# split as mlplab does: a seeded (stratified) train/test split of the row indices
idx = np.arange(len(y))
n_test = max(1, round(TEST_SIZE * len(y)))
train_idx, test_idx = train_test_split(idx, test_size=n_test, random_state=SEED,
                                       stratify={split_stratify})
train_idx, test_idx = np.sort(train_idx), np.sort(test_idx)

# scale each column with statistics of the training rows only
X64 = X.astype(np.float64)
if SCALE == "standard":
    center, spread = X64[train_idx].mean(0), X64[train_idx].std(0)
elif SCALE == "minmax":
    center = X64[train_idx].min(0)
    spread = X64[train_idx].max(0) - center
else:
    center, spread = np.zeros(X.shape[1]), np.ones(X.shape[1])
spread[~(spread > 0)] = 1.0
X = ((X64 - center) / spread).astype(np.float32)

X_train, X_test = torch.as_tensor(X[train_idx]), torch.as_tensor(X[test_idx])
y_train = (lambda a: {target})(y[train_idx])
y_test = (lambda a: {target})(y[test_idx])

torch.manual_seed(SEED)  # the same initial weights as the playground
{layers}
{init}
loss_fn = {loss}
opt = {opt}
sched = {sched}
gen = torch.Generator().manual_seed(SEED)  # the same batch order

for epoch in range(EPOCHS):
    if epoch in LR_CHANGES:
        for group in opt.param_groups:
            group["lr"] = LR_CHANGES[epoch]
    model.train()
    if BATCH_SIZE is None or BATCH_SIZE >= len(X_train):
        batches = [None]
    else:
        batches = torch.randperm(len(X_train), generator=gen).split(BATCH_SIZE)
    for b in batches:
        xb, yb = (X_train, y_train) if b is None else (X_train[b], y_train[b])
        loss = loss_fn(model(xb), yb)
        if L1 > 0:
            loss = loss + L1 * sum(p.abs().sum() for p in model.parameters() if p.dim() > 1)
        opt.zero_grad(set_to_none=True)
        loss.backward(){clip}
        opt.step()
    if sched is not None:
        sched.step()

model.eval()
with torch.no_grad():
    out = model(X_test)
    test_loss = float(loss_fn(out, y_test))
    {score}
print(f"epochs {{EPOCHS}}  test loss {{test_loss:.4f}}  test {{name}} {{score:.4f}}")
print(json.dumps({{"epochs": EPOCHS, "test_loss": test_loss, "test_" + name: score}}))
'''


def run_zip(run: Any) -> bytes:
    """A trained :class:`~mlplab.runs.run.Run` saved with ``Run.save`` into a temp dir, zipped."""
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="mlplab-export-") as tmp:
        root = Path(tmp) / run.config.name
        run.save(root)
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in sorted(root.rglob("*")):
                if f.is_file():
                    zf.write(f, f"{run.config.name}/{f.relative_to(root)}")
    return buf.getvalue()

