"""``train.py`` and its steps: plain PyTorch that trains the run from scratch.

The steps (:func:`train_steps`) are shared by the script (:func:`train_script`), the notebook
(:mod:`.notebook`) and the playground's script. Run as it stands, the script draws or reads
the same rows, splits them as mlplab did, preprocesses them with the run's statistics, builds
the same layers from the same seed and trains them with the same batch order, so it ends where
the run ended: bitwise when the run used the eager loop.
"""

from __future__ import annotations

import textwrap

from mlplab.errors import RunError
from mlplab.export.codegen import (
    Source,
    Step,
    init_code,
    labels_code,
    loss_code,
    model_code,
    optimizer_code,
    preprocess_code,
    proba_code,
    schedule_code,
)
from mlplab.export.datacode import data_code
from mlplab.export.members import RELOAD, ensemble_step, member, members
from mlplab.models import MLP
from mlplab.tasks import CLASS_INDEX_LOSSES

IMPORTS = """import json

import numpy as np
import pandas as pd
import torch
from sklearn import metrics
from sklearn.model_selection import train_test_split
from torch import nn"""

SPLIT_CODE = """def take(idx, k, seed, labels):
    \"\"\"(rest, k rows) of idx, stratified by labels when every class can be split.\"\"\"
    if k == 0:
        return idx, idx[:0]
    if labels is not None:
        _, counts = np.unique(labels, return_counts=True)
        if len(counts) > 1 and counts.min() >= 2 and k >= len(counts) \\
                and len(idx) - k >= len(counts):
            try:
                return train_test_split(idx, test_size=k, random_state=seed, stratify=labels)
            except ValueError:
                pass  # a class too small after all: a plain random split
    return train_test_split(idx, test_size=k, random_state=seed)


def count(fraction, n):
    return 0 if fraction == 0 else max(1, round(fraction * n))


n = len(frame)
rest, test_idx = take(np.arange(n, dtype=np.int64), count(TEST_SIZE, n), SEED, strata)
train_idx, val_idx = take(rest, count(VAL_SIZE, n), (SEED + 1) % 2**32,
                          None if strata is None else strata[rest])
train_idx, val_idx, test_idx = np.sort(train_idx), np.sort(val_idx), np.sort(test_idx)
print(f"rows: {len(train_idx)} train, {len(val_idx)} validation, {len(test_idx)} test")"""

SPLITS_CODE = """X_all = preprocess(frame)  # (n, features) float32
parts = {"train": train_idx, "val": val_idx, "test": test_idx}
X_split = {name: torch.as_tensor(X_all[idx]) for name, idx in parts.items() if len(idx)}
y_split = {name: targets(y_all[idx]) for name, idx in parts.items() if len(idx)}
X_train, y_train = X_split["train"], y_split["train"]"""


def _target_code(src: Source) -> str:
    """Code that sets ``y_all`` (encoded targets), ``strata`` and ``targets(a)``."""
    task, names = src.task, src.targets
    if task.name in ("binary", "multiclass"):
        code = (f"CLASSES = {list(src.target_encoder.classes)!r}  # labels in index order\n"
                "index = {c: i for i, c in enumerate(CLASSES)}\n\n\n"
                "def label(v):  # 1.0 -> 1, as labels were written\n"
                "    return int(v) if isinstance(v, float) and v.is_integer() else v\n\n\n"
                f"y_all = np.array([index[label(v)] for v in frame[{names[0]!r}]], "
                "dtype=np.int64)\nstrata = y_all  # the split keeps class proportions")
    else:
        code = (f"y_all = frame[{names!r}].to_numpy(dtype=np.float64).astype(np.float32)"
                "  # (n, targets)\nstrata = None")
        if src.target_scaler is not None:
            code += (f"\nY_MEAN = np.array({list(src.target_scaler['mean'])!r})\n"
                     f"Y_SCALE = np.array({list(src.target_scaler['scale'])!r})\n"
                     "y_all = ((y_all - Y_MEAN) / Y_SCALE).astype(np.float32)  "
                     "# the net learns standardised targets")
    if task.loss in CLASS_INDEX_LOSSES:
        tensor = "torch.as_tensor(a.reshape(-1)).long()  # class indices (n,)"
    else:
        tensor = "torch.as_tensor(a.reshape(len(a), -1)).float()  # (n, outputs)"
    return code + f"\n\n\ndef targets(a):\n    return {tensor}"


def _outputs_code(src: Source) -> str:
    indent = "\n    "
    inverse = ""
    if src.target_scaler is not None:
        inverse = ("\n\n\ndef to_values(out):  # standardised outputs -> the target's units\n"
                   "    return out.double() * torch.as_tensor(Y_SCALE) + "
                   "torch.as_tensor(Y_MEAN)")
    return (f"THRESHOLD = {src.task.threshold!r}\n\n\ndef to_proba(out):\n"
            f"    {proba_code(src.task).replace(chr(10), indent)}\n\n\n"
            f"def to_labels(proba):\n    {labels_code(src.task)}{inverse}\n\n\n"
            f"def score(out, y):  # {'R²' if src.task.name == 'regression' else 'accuracy'}"
            f"\n    {_score_body(src)}")


def _score_body(src: Source) -> str:
    name = src.task.name
    if name == "regression":
        return ("return float(1.0 - ((y - out) ** 2).sum() / ((y - y.mean(dim=0)) ** 2).sum())")
    if name == "multilabel":
        return "return float((to_labels(to_proba(out)) == y.long()).all(dim=1).float().mean())"
    return "return float((to_labels(to_proba(out)) == y.reshape(-1).long()).float().mean())"


def _setup_code(src: Source) -> str:
    sched = schedule_code(src)
    return (f"{loss_code(src.task)}\noptimizer = {optimizer_code(src.config)}\n"
            f"scheduler = {sched or 'None'}")


def _loop_code(src: Source) -> str:
    cfg = src.config
    t = cfg.train
    if t.early_stopping == "auto":  # a run's saved config holds what "auto" became
        raise RunError("this config's early stopping is still 'auto': export a trained run",
                       hint="mlplab.pipeline.prepare(cfg).cfg resolves it")
    sched = cfg.schedule.name
    lines = [f"EPOCHS = {src.epochs}", f"BATCH_SIZE = {src.batch_size}"
             + ("  # full batch" if src.batch_size is None else ""),
             f"EVAL_EVERY = {t.eval_every}  # evaluate and print every N epochs"]
    if cfg.optim.l1 > 0:
        lines.append(f"L1 = {cfg.optim.l1!r}  # L1 penalty on the weights (not the biases)")
    if t.clip_grad_norm:
        lines.append(f"CLIP = {t.clip_grad_norm!r}  # gradient norm clipping")
    if src.lr_changes:
        lines.append(f"LR_CHANGES = {src.lr_changes!r}  # epoch -> learning rate set on the page")
    if t.early_stopping:
        lines.append(f"PATIENCE = {t.early_stopping}  # evaluations without improvement")
    monitor = "val" if src.n_val else "train"
    lines += ["", "", _evaluate_fn(), "", ""]
    if src.batch_size is not None:
        lines.append("gen = torch.Generator().manual_seed(SEED)  # the same batch order")
    if t.early_stopping:
        lines.append("best, best_state, bad = float('inf'), None, 0")
    lines += ["n = len(X_train)", "model.train()", "for epoch in range(EPOCHS):"]
    body: list[str] = []
    if src.lr_changes:
        body += ["if epoch in LR_CHANGES:", "    for group in optimizer.param_groups:",
                 "        group['lr'] = LR_CHANGES[epoch]"]
    step = ["out = model(xb)", "loss = loss_fn(out, yb)"]
    if cfg.optim.l1 > 0:
        step.append("loss = loss + L1 * sum((p.abs().sum() for p in model.parameters() "
                    "if p.dim() > 1), start=torch.zeros(()))")
    step += ["optimizer.zero_grad(set_to_none=True)", "loss.backward()"]
    if t.clip_grad_norm:
        step.append("nn.utils.clip_grad_norm_(model.parameters(), CLIP)")
    step.append("optimizer.step()")
    if sched == "onecycle":
        step.append("scheduler.step()  # once per batch")
    if src.batch_size is None:
        body += ["xb, yb = X_train, y_train  # full batch", *step,
                 "train_loss = loss.item()"]
    else:
        order = ("order = torch.randperm(n, generator=gen)  # a new shuffle every epoch\n"
                 "Xe, ye = X_train[order], y_train[order]" if t.shuffle else
                 "Xe, ye = X_train, y_train  # train.shuffle is off: rows in order")
        body += [*order.splitlines(), "losses, sizes = [], []",
                 "for i in range(0, n, BATCH_SIZE):",
                 "    xb, yb = Xe[i:i + BATCH_SIZE], ye[i:i + BATCH_SIZE]",
                 *("    " + s for s in step), "    losses.append(loss.detach())",
                 "    sizes.append(len(xb))",
                 "train_loss = float(torch.stack(losses) @ torch.tensor(sizes, "
                 "dtype=torch.float32) / n)"]
    if sched not in ("none", "onecycle", "plateau"):
        body.append("scheduler.step()  # once per epoch")
    body += ["if (epoch + 1) % EVAL_EVERY == 0 or epoch + 1 == EPOCHS:",
             "    row = report(epoch + 1, train_loss)"]
    watched = f"row['{monitor}_loss']" if monitor == "val" else "train_loss"
    if sched == "plateau":
        body.append(f"    scheduler.step({watched})")
    if t.early_stopping:
        body += [f"    if {watched} < best:",
                 f"        best, best_state, bad = {watched}, copy.deepcopy(model.state_dict()), 0",
                 "    else:", "        bad += 1", "        if bad >= PATIENCE:",
                 "            print(f'early stopping at epoch {epoch + 1}')", "            break"]
    lines += ["    " + b for b in body]
    if t.early_stopping:
        lines += ["if best_state is not None:",
                  "    model.load_state_dict(best_state)  # keep the best weights"]
    code = "\n".join(lines)
    return ("import copy\n\n" if t.early_stopping else "") + code


def _evaluate_fn() -> str:
    return '''def report(epoch, train_loss):
    """Loss and score of every split, in eval mode; printed like the tutorials do."""
    model.eval()
    row = {"epoch": epoch}
    with torch.no_grad():
        for name in X_split:
            out = model(X_split[name])
            row[name + "_loss"] = float(loss_fn(out, y_split[name]))
            row[name + "_score"] = score(out, y_split[name])
    model.train()
    shown = " | ".join(f"{name} loss {row[name + '_loss']:.5f}, score {row[name + '_score']:.4f}"
                       for name in X_split)
    print(f"Epoch: {epoch} | train loss {train_loss:.5f} | {shown}")
    return row'''


def _metrics_code(src: Source) -> str:
    task = src.task
    head = ("model.eval()\nresults = {}\nfor name, idx in parts.items():\n"
            "    if not len(idx):\n        continue\n    with torch.no_grad():\n"
            "        out = model(X_split[name])  # logits\n"
            "        loss = float(loss_fn(out, y_split[name]))\n")
    if task.name == "regression":
        values = "to_values(out)" if src.target_scaler is not None else "out"
        return head + (f"        pred = {values}.double().numpy()\n"
                       f"    truth = frame[{src.targets!r}].to_numpy(dtype=np.float64)[idx]\n"
                       "    results[name] = {'loss': loss, 'r2': metrics.r2_score(truth, pred),\n"
                       "                     'mae': metrics.mean_absolute_error(truth, pred)}\n"
                       "    print(name, results[name])")
    avg = "'binary'" if task.name == "binary" else "'macro'"
    confusion = ("metrics.multilabel_confusion_matrix(truth, pred)" if task.name == "multilabel"
                 else "metrics.confusion_matrix(truth, pred, labels=list(range(len(CLASSES))))")
    return head + ("        proba = to_proba(out)  # logits -> probabilities\n"
                   "        pred = to_labels(proba).numpy()  # probabilities -> labels\n"
                   "    truth = y_all[idx]\n"
                   "    p, r, f, _ = metrics.precision_recall_fscore_support(\n"
                   f"        truth, pred, average={avg}, zero_division=0)\n"
                   "    results[name] = {'loss': loss, 'accuracy': metrics.accuracy_score(truth, "
                   "pred),\n                     'precision': float(p), 'recall': float(r), "
                   "'f1': float(f)}\n"
                   "    print(name, results[name])\n"
                   f"    print('confusion matrix (rows: true, columns: predicted):')\n"
                   f"    print({confusion})")


def _plot_code(src: Source, show: str) -> str:
    task = src.task
    if task.name == "binary":
        z, levels = "to_proba(out)[:, 1]  # p(class 1)", "np.linspace(0, 1, 11)"
    elif task.name == "multiclass":
        z, levels = "to_labels(to_proba(out))  # predicted class", \
            "np.arange(len(CLASSES) + 1) - 0.5"
    else:
        z, levels = ("to_values(out)[:, 0]" if src.target_scaler is not None else "out[:, 0]",
                     "20")
    a, b = src.features
    return f"""import matplotlib.pyplot as plt

raw = frame[FEATURES].to_numpy(dtype=np.float64)  # the data in its own units
pad = 0.1 * (raw.max(0) - raw.min(0))
xx, yy = np.meshgrid(np.linspace(raw[:, 0].min() - pad[0], raw[:, 0].max() + pad[0], 101),
                     np.linspace(raw[:, 1].min() - pad[1], raw[:, 1].max() + pad[1], 101))
grid = preprocess({{{a!r}: xx.ravel(), {b!r}: yy.ravel()}})  # scaled as in training
with torch.no_grad():
    out = model(torch.as_tensor(grid))
    z = {z}
shown = test_idx if len(test_idx) else train_idx
plt.figure(figsize=(6, 5))
plt.contourf(xx, yy, z.double().numpy().reshape(xx.shape), levels={levels}, cmap="RdYlBu",
             alpha=0.6)
plt.scatter(raw[shown, 0], raw[shown, 1], c=y_all[shown].reshape(len(shown), -1)[:, 0],
            cmap="RdYlBu", edgecolors="k", s=15)
plt.xlabel({a!r})
plt.ylabel({b!r})
plt.title("decision boundary ({'test' if src.n_test else 'train'} points)")
{show}"""


SAVE_CODE = """torch.save(model.state_dict(), "model.pt")  # weights only

reloaded = Net()
reloaded.load_state_dict(torch.load("model.pt", weights_only=True))  # runs no code
reloaded.eval()
with torch.no_grad():
    same = torch.equal(reloaded(X_train), model(X_train))
print("the reloaded model gives the same outputs:", same)"""


def train_steps(src: Source, *, notebook: bool = False) -> list[Step]:
    """The tutorial's steps for ``src``: title, explanation, code. An imported run (the
    learner's trained weights, never trained by mlplab) loads those weights instead of
    training: no optimizer, no loop."""
    cfg = src.config
    n_classes = len(src.target_encoder.classes) if src.task.is_classification else None
    data = data_code(cfg, src.features, src.targets, n_classes=n_classes,
                     data_file=src.data_file)
    scale = {"standard": "standardised (minus the training mean, over the training std)",
             "minmax": "scaled to [0, 1] with the training min and max",
             "none": "left unscaled"}[cfg.data.scale]
    imported = src.imported is not None
    settings = (f"{IMPORTS}\nfrom safetensors.torch import load_file" if imported else IMPORTS) \
        + f"\n\nSEED = {cfg.seed}\nTEST_SIZE = {cfg.data.test_size!r}\nVAL_SIZE = " \
        f"{cfg.data.val_size!r}"
    steps = [
        Step("Imports and settings", "Plain PyTorch, NumPy, pandas and scikit-learn; nothing "
             "from mlplab. The seed fixes the data, the split" + (
                 "." if imported else ", the initial weights and the batch order."), settings),
        Step("The data", f"The raw table: `{cfg.data.source}` with input columns "
             f"{', '.join(src.features[:8])}{' ...' if len(src.features) > 8 else ''} and "
             f"target {', '.join(src.targets)}.", data),
        Step("Targets and the split", "Labels become class indices; the rows are split into "
             "train and test (stratified by class) exactly as mlplab split them" + (
                 " to score your model (it was trained on none of them here)." if imported
                 else "."), _target_code(src) + "\n\n\n" + SPLIT_CODE),
        Step("Preprocessing", f"Numeric columns are {scale}; missing numbers get the training "
             "split's fill value; categories become one-hot columns. The statistics were "
             "learned on the training rows only.", preprocess_code(src.preprocessor) +
             "\n\n\n" + SPLITS_CODE),
        *(_imported_steps(src) if imported else _training_steps(src)),
        Step("Metrics", "Accuracy, precision, recall, F1 and the confusion matrix on each "
             "split (R² and MAE for regression).", _metrics_code(src)),
    ]
    if src.plottable and src.task.name != "multilabel":
        show = "plt.show()" if notebook else \
            'plt.savefig("boundary.png", dpi=100)\nprint("wrote boundary.png")'
        steps.append(Step("The decision boundary", "The model's answer over a grid in the "
                          "data's own units, with the points on top.", _plot_code(src, show)))
    save = SAVE_CODE if members(src) == 1 else SAVE_CODE.replace(*RELOAD)
    steps.append(Step("Save and load the weights", "A `state_dict` holds only tensors; "
                      "loading it with `weights_only=True` runs no code.", save))
    done = f"'imported': {src.imported['file']!r}" if src.imported else "'epochs': EPOCHS"
    steps.append(Step("Final numbers", "The same numbers as the run's metrics.json.",
                      "flat = {f'{split}_{k}': v for split, m in results.items() "
                      "for k, v in m.items()}\n"
                      f"print(json.dumps({{{done}, **results, **flat}}))"))
    return steps


def _training_steps(src: Source) -> list[Step]:
    """The model from the seed, loss and optimizer, outputs and the loop: a run mlplab
    trained, trained again (an ensemble's other members after the first)."""
    one = member(src)
    init = init_code(one)
    steps = [
        Step("The model", "An `nn.Module` with the run's layers in the run's order, so the "
             "same seed gives the same initial weights." if isinstance(one, MLP) else
             "Your own `nn.Module`: its class as your file defines it (nothing else of the "
             "file). Its initial weights come from the seed here; they match the run's when "
             "the run built it right after `torch.manual_seed(SEED)`.",
             f"{model_code(one)}\n\n\ntorch.manual_seed(SEED)  # the same initial weights"
             f"\nmodel = Net()\n{init + chr(10) if init else ''}print(model)"),
        Step("Loss, optimizer and schedule", "What the run trained with, every argument "
             "written out.", _setup_code(src)),
        Step("Logits, probabilities, labels", "The network outputs logits; the task turns "
             "them into probabilities and then labels.", _outputs_code(src)),
        Step("The training loop", "Forward, loss, backward, step; every few epochs the loss "
             "and score of each split are printed.", _loop_code(src)),
    ]
    if members(src) > 1:
        steps.append(ensemble_step(members(src), init, _setup_code(src), _loop_code(src)))
    return steps


def _imported_steps(src: Source) -> list[Step]:
    """Your class and your trained weights, the loss that fits its output: an imported run,
    which mlplab scored and never trained, scored again. Nothing here trains."""
    assert src.imported is not None and src.weights is not None  # Source.from_run sets both
    return [
        Step("Your model and its weights", "Your own `nn.Module`: its class as your file "
             "defines it (nothing else of the file), with the weights you trained, imported "
             f"from {src.imported['file']} into the run's model.safetensors. safetensors "
             "reads tensors only: no code from the file runs. mlplab did not train them, so "
             "nothing below trains.",
             f"{model_code(src.model)}\n\n\nWEIGHTS = {str(src.weights)!r}  "
             "# the imported weights\nmodel = Net()\n"
             "model.load_state_dict(load_file(WEIGHTS))\nmodel.eval()\nprint(model)"),
        Step("The loss and the outputs", f"The loss that fits what your forward returns "
             f"({src.task.output}), to score the model; then probabilities and labels.",
             f"{loss_code(src.task)}\n\n\n{_outputs_code(src)}"),
    ]


def train_script(src: Source) -> str:
    """The whole of ``train.py`` for ``src``: a docstring, then every step in order."""
    what = f"Score your model imported as the mlplab run {src.config.name!r} again" \
        if src.imported else f"Train the mlplab run {src.config.name!r} again"
    needs = "torch, safetensors, numpy" if src.imported else "torch, numpy"
    head = (f'"""{what} with plain PyTorch.\n\n'
            f"Generated by mlplab. It needs {needs}, pandas, scikit-learn and matplotlib (and "
            "not\nmlplab): run it with `python train.py`. It ends with the run's numbers.\n"
            '"""\n')
    parts = [head]
    for i, step in enumerate(train_steps(src), 1):
        rule = f"# --- {i}. {step.title} "
        text = textwrap.fill(step.text.replace("`", ""), 97, initial_indent="# ",
                             subsequent_indent="# ")
        parts.append(f"{rule}{'-' * max(3, 99 - len(rule))}\n{text}\n{step.code}\n")
    return "\n\n".join(parts)


__all__ = ["train_script", "train_steps"]
