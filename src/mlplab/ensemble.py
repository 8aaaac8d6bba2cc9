"""``model.ensemble``: K members trained at once, each on its own validation split, merged
into one MLP that averages them.

The idea is TabM's and deep ensembles': independently trained members disagree where the data
says little, and their average is more accurate than any one of them. Every member is the
run's own config with its own seed (``seed + k``): member 0 *is* the solo run (same split,
same initial weights). The others draw their validation rows again from the run's training
and validation rows, stratified, with the same sizes. So each member stops on rows the others
trained on, and together they see every row. The test rows and the preprocessing stay the
run's. The members train as one stack (:func:`mlplab.training.runners.stacked.train_members`,
the sweep's runner: one batched step for all of them, each with its own early stopping).

The trained members become one ordinary :class:`~mlplab.models.MLP` (:func:`merge`). Its
first layer holds every member's first layer side by side, and its deeper hidden layers are
block-diagonal. Its output layer averages the members' outputs (logits for classification, so
the members' log-odds are averaged). Prediction, saving, ONNX and serving need nothing new.
Measured in ``benchmarks/bench_defaults.py``: BENCHMARKS.md, issue 27.

Example
-------
>>> from mlplab.models import ModelSpec, build_model
>>> members = [build_model(ModelSpec(2, [3], ["relu"], 1), seed=s) for s in (0, 1)]
>>> wide = merge(members)
>>> wide.spec.hidden
[6]
>>> x = torch.randn(5, 2)
>>> torch.allclose(wide(x), (members[0](x) + members[1](x)) / 2, atol=1e-6)
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from mlplab.config import RunConfig, with_overrides
from mlplab.data.split import take_rows
from mlplab.errors import ConfigError, TrainingError
from mlplab.models import MLP, count_parameters
from mlplab.pipeline import Prepared, split_metrics
from mlplab.runs.run import Run
from mlplab.training.callbacks import Callback
from mlplab.training.state import DataTensors


def member_seed(seed: int, k: int) -> int:
    """Member k's seed: the run's own for member 0."""
    return (seed + k) % 2**32


def can_train(cfg: RunConfig, given: dict[str, bool]) -> bool:
    """Whether ``model.ensemble: auto`` may become an ensemble for this run: nothing in
    ``given`` (what the caller passed, by name: "sample weights", ...) is set and the stack
    takes the config (:func:`~mlplab.training.runners.stacked.why_not_batched`)."""
    from mlplab.training.runners.stacked import why_not_batched

    return not any(given.values()) and why_not_batched(_member_base(cfg)) is None


# what a member's config leaves out: the run's boundary snapshots follow member 0 through the
# callbacks train() is given (the last frame is the merged model: api.train retakes it), not
# through each member's own logging. TensorBoard records one network's gradients, which a
# stack does not keep: with it, "auto" is one network (can_train).
MEMBER_SETTINGS = {"model.ensemble": 1, "log.snapshots_every": None}


def _member_base(cfg: RunConfig) -> RunConfig:
    return with_overrides(cfg, MEMBER_SETTINGS)


def refuse(cfg: RunConfig, given: dict[str, bool]) -> None:
    """One line, before anything trains, for what an ensemble cannot be trained with: the
    first of ``given`` (the same names as :func:`can_train` reads) that the caller passed."""
    asked = [what for what, yes in given.items() if yes]
    if asked:
        raise ConfigError(f"model.ensemble={cfg.model.ensemble} cannot train with {asked[0]}",
                          hint="train it alone (--set model.ensemble=1)")


def member_prepared(p: Prepared, k: int) -> Prepared:
    """``p`` with member k's training and validation rows: member 0 keeps the run's split,
    the others draw their validation rows again (stratified, same sizes) from the run's
    training and validation rows. Test rows and preprocessing stay the run's."""
    if k == 0:
        return p
    X = np.concatenate([p.X["train"], p.X["val"]])
    y = np.concatenate([p.y["train"], p.y["val"]])
    labels = y if p.task.is_classification and y.ndim == 1 else None
    train, val = take_rows(np.arange(len(y)), len(p.y["val"]), member_seed(p.cfg.seed, k),
                           labels)
    train, val = np.sort(train), np.sort(val)
    return replace(p, X={**p.X, "train": X[train], "val": X[val]},
                   y={**p.y, "train": y[train], "val": y[val]})


def train(cfg: RunConfig, p: Prepared, callbacks: Sequence[Callback] = (),
          begin: Callable[[RunConfig], Any] | None = None) -> tuple[MLP, list[Run]]:
    """Train ``cfg.model.ensemble`` members of ``cfg`` on ``p`` as one stack; return the
    merged MLP and the members' own runs. ``callbacks`` (a progress bar, the figures'
    snapshots) follow member 0; ``begin(cfg)`` is called once the members are accepted, before
    the first step (a run directory's start)."""
    from mlplab.training.runners.stacked import train_members, why_not_batched

    k = cfg.model.ensemble
    assert isinstance(k, int)  # resolved
    base = _member_base(cfg)
    cfgs = [with_overrides(base, {"seed": member_seed(cfg.seed, i)}) for i in range(k)]
    why = why_not_batched(cfgs[0])
    if why is not None:
        raise ConfigError(f"model.ensemble={k} trains its members as one stack, which does "
                          f"not support {why}", hint="train it alone (--set model.ensemble=1)")
    if begin is not None:
        begin(cfg)
    outcomes = train_members(cfgs, [member_prepared(p, i) for i in range(k)],
                             callbacks=[list(callbacks), *([] for _ in range(k - 1))])
    errors = [o for o in outcomes if isinstance(o, TrainingError)]
    if errors:
        raise errors[0]
    runs = [o for o in outcomes if isinstance(o, Run)]
    return merge([r.model for r in runs]), runs  # type: ignore[misc]


def merge(models: Sequence[MLP]) -> MLP:
    """One MLP whose output is the mean of ``models``' outputs (same shapes, no batchnorm).

    Its hidden layers are the members' side by side (the first reads every input, deeper ones
    are block-diagonal, so each member's units only feed its own), and its last Linear is the
    members' last Linears, each divided by K, side by side (their average)."""
    spec = models[0].spec
    k = len(models)
    wide = MLP(replace(spec, hidden=[k * h for h in spec.hidden])).to(
        next(models[0].parameters()).dtype)
    layers = [m.linears() for m in models]
    with torch.no_grad():
        for i, target in enumerate(wide.linears()):
            parts = [ls[i] for ls in layers]
            weights = [layer.weight for layer in parts]
            if i == len(layers[0]) - 1:  # the output: the members' average
                w = torch.cat(weights, 1) / k if i > 0 else torch.stack(weights).mean(0)
                target.weight.copy_(w)
                target.bias.copy_(torch.stack([layer.bias for layer in parts]).mean(0))
                continue
            target.weight.copy_(torch.cat(weights, 0) if i == 0 else torch.block_diag(*weights))
            target.bias.copy_(torch.cat([layer.bias for layer in parts]))
    return wide.eval()


def finish(cfg: RunConfig, net: MLP, p: Prepared, tensors: DataTensors,
           members: Sequence[Run]) -> Run:
    """The ensemble's run: metrics of the merged model on the run's splits; member 0's
    history and bookkeeping, and each member's stop in ``info["members"]``."""
    first = members[0]
    info = {**first.info, "n_parameters": count_parameters(net),
            "seconds": round(sum(m.info["seconds"] for m in members), 3),
            "members": [{"seed": m.config.seed, "epochs_run": m.info["epochs_run"],
                         "best_epoch": m.info["best_epoch"], "stop_reason":
                         m.info["stop_reason"]} for m in members]}
    stops = ", ".join(str(m.info["best_epoch"] or m.info["epochs_run"]) for m in members)
    info["summary"] = f"{len(members)} members (best epochs {stops}); " \
                      f"member 0: {first.info['summary']}"
    metrics = split_metrics(net, p.task, p, tensors)
    metrics["training"] = info
    return Run(config=cfg, model=net, task=p.task, preprocessor=p.preprocessor,
               target_encoder=p.target_encoder, metrics=metrics, history=first.history,
               info=info)


__all__ = ["can_train", "finish", "member_prepared", "member_seed", "merge", "refuse", "train"]
