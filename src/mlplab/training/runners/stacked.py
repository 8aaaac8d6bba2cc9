"""A sweep's same-shaped configurations trained as one stack: configs in, runs out.

:func:`train_members` prepares each member as its solo run would (same initial weights, built
from the member's seed, same data and split), stacks them (:mod:`.stacked_net`) and trains
them through :func:`~mlplab.training.loop.train_loop`, the loop every run goes through, with
the stacked runner (:mod:`.stacked_group`): each member gets the early stopping, user
callbacks, NaN check and Ctrl-C handling its solo run would get. Members that differ in shape,
activation, optimizer or loss go into separate stacks (:func:`group_key`).

Without dropout each member ends with the weights, history, stop reason and best epoch its solo
run (:func:`mlplab.train` with the same config) would reach, up to float rounding: same mini-
batch order (one generator per member, seeded like the solo loop's), same optimizer arithmetic.

Example
-------
>>> from mlplab.config import RunConfig
>>> cfgs = [RunConfig.from_dict({"data": {"source": "moons", "n_samples": 200}, "seed": s,
...                              "optim": {"name": "sgd", "lr": 0.5}, "log": {"quiet": True},
...                              "train": {"epochs": 100}}) for s in (0, 1, 2)]
>>> runs = train_members(cfgs)
>>> [r.info["runner"] for r in runs]
['ensemble', 'ensemble', 'ensemble']
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import torch

from mlplab.config import RunConfig
from mlplab.errors import ConfigError, TrainingError
from mlplab.models import MLP, build_model
from mlplab.pipeline import Prepared, model_spec, prepare
from mlplab.resolve import resolve
from mlplab.runs.finish import finish_members
from mlplab.runs.run import Run
from mlplab.training.callbacks import Callback, early_stopping_for
from mlplab.training.loop import train_loop
from mlplab.training.runners import support
from mlplab.training.runners.fused import ACTS
from mlplab.training.runners.stacked_group import MemberGroup, StackedRunner
from mlplab.training.runners.stacked_heads import HEADS
from mlplab.training.runners.stacked_net import EnsembleTrainer, StackedMLP
from mlplab.training.state import TrainState
from mlplab.training.step import resolve_batch_size

# RunConfig paths that may differ between members of one ensemble (no change of shape/code)
PER_MEMBER = ("name", "description", "seed", "data", "optim.lr", "optim.weight_decay",
              "optim.momentum", "optim.l1", "model.dropout", "model.init",
              "train.clip_grad_norm", "log")
OPTIM_KINDS = ("sgd", "adam", "adamw", "rmsprop")


def why_not_batched(cfg: RunConfig) -> str | None:
    """None when ``cfg`` can train inside an ensemble, else the reason it cannot.

    Training options come from the runner's declaration (:data:`.support.STACKED`); the rest
    are the shapes and code paths the stacked maths implements.
    """
    bs = cfg.train.batch_size
    gaps = support.missing(support.STACKED, support.requested(
        cfg, weighted=False, mini_batch=isinstance(bs, int)))
    if gaps:
        return gaps[0]
    checks = [
        (cfg.optim.name not in OPTIM_KINDS, f"optimizer {cfg.optim.name}"),
        (any(a not in ACTS for a in cfg.model.activations()), "an unsupported activation"),
        (bool(getattr(cfg.model, "crosses", None)), "model.crosses"),
        (cfg.train.device not in ("auto", "cpu"), "a device other than the CPU"),
        (cfg.log.tensorboard or cfg.log.snapshots_every is not None, "per-run logging"),
        (cfg.model.ensemble not in (1, "auto"), "model.ensemble (it trains as its own stack)"),
    ]
    return next((why for bad, why in checks if bad), None)


def group_key(cfg: RunConfig, p: Prepared) -> str:
    """Members with equal keys can train as one ensemble (same shapes, same code path)."""
    d = cfg.to_dict()
    for path in PER_MEMBER:
        *parents, leaf = path.split(".")
        cur = d
        for k in parents:
            cur = cur[k]
        cur.pop(leaf, None)
    shapes = {s: list(a.shape) for s, a in p.X.items()}
    return json.dumps([d, shapes, p.task.to_dict()], sort_keys=True, default=str)


def member_config(cfg: RunConfig, p: Prepared) -> RunConfig:
    """``cfg`` through :func:`mlplab.resolve.resolve` for the table of ``p`` (prepared from
    ``cfg`` or from a config with the same data): its split, "auto" stopping and plateau
    schedule, the default weight decay for this member's own optimizer and batch size."""
    return resolve(cfg, p.facts())


def train_members(cfgs: Sequence[RunConfig], prepared: Sequence[Prepared] | None = None, *,
                  callbacks: Sequence[Sequence[Callback]] | None = None,
                  ) -> list[Run | TrainingError]:
    """Train same-shaped configs as one stack; one outcome per member, in order.

    An outcome is the member's :class:`~mlplab.runs.run.Run`, or the
    :class:`~mlplab.errors.TrainingError` its solo run would have raised (its loss diverged;
    the other members go on). ``prepared`` (from :func:`mlplab.pipeline.prepare`) may be
    passed to reuse loaded data; ``callbacks[k]`` are member k's own callbacks (a pruner,
    say), called as :func:`~mlplab.training.loop.fit` calls a solo run's.
    """
    cfgs = list(cfgs)
    preps = list(prepared) if prepared is not None else [prepare(c) for c in cfgs]
    # each member resolved for its table (mlplab.resolve), as its solo run would be
    cfgs = [member_config(c, p) for c, p in zip(cfgs, preps, strict=True)]
    for c in cfgs:
        why = why_not_batched(c)
        if why is not None:
            raise ConfigError(f"the stacked runner does not support {why} (config '{c.name}')",
                              hint=support.HINTS["stacked"])
    if len({group_key(c, p) for c, p in zip(cfgs, preps, strict=True)}) != 1:
        raise ConfigError("ensemble members differ in more than per-member settings",
                          hint="group them with stacked.group_key (sweep does this)")
    task, cfg0 = preps[0].task, cfgs[0]
    models: list[MLP] = []
    for c, p in zip(cfgs, preps, strict=True):
        # the CPU generator seeded as api.train seeds it (torch.manual_seed also queues
        # lazy seeds for every accelerator, a traceback each: slow for 64 members)
        torch.default_generator.manual_seed(c.seed)
        models.append(build_model(model_spec(c, p.n_features, p.task)))
    if (models[0].spec.output, task.loss) not in HEADS:
        raise ConfigError(f"output {models[0].spec.output!r} with loss {task.loss!r} is not "
                          "supported in an ensemble", hint="train it alone")
    tens = [p.tensors("cpu") for p in preps]
    stack = {s: (torch.stack([t.X[s] for t in tens]), torch.stack([t.y[s] for t in tens]))
             for s in ("train", "val", "test") if tens[0].has(s)}
    net = StackedMLP.from_models(models)
    net.bind(models)
    trainer = EnsembleTrainer(net, (models[0].spec.output, task.loss), *stack["train"], cfgs,
                              task.n_outputs)
    bs = resolve_batch_size(cfg0.train.batch_size, tens[0].n_train)
    # finish_run and the callbacks read the state's bookkeeping only; one placeholder
    # optimizer serves all (building 64 real ones costs more than a small sweep's training)
    placeholder = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=cfg0.optim.lr)
    states = [TrainState(model=m, optimizer=placeholder, scheduler=None, task=p.task, cfg=c,
                         data=t, epochs=cfg0.train.epochs, batch_size=bs,
                         runner_name=StackedRunner.name)
              for c, p, m, t in zip(cfgs, preps, models, tens, strict=True)]
    extra = list(callbacks) if callbacks is not None else [[] for _ in cfgs]
    cbs = [[*early_stopping_for(c), *more] for c, more in zip(cfgs, extra, strict=True)]
    for m in models:
        m.train()
    train_loop(MemberGroup(states, trainer, stack, task), StackedRunner(bs), cbs)
    with torch.inference_mode():  # the final (or restored best) weights, every member at once
        outputs = {s: net.outputs(X) for s, (X, _) in stack.items()}
    StackedMLP.unbind(models)
    for m, st in zip(models, states, strict=True):
        m.eval()
        st.seconds /= len(cfgs)  # the member's share of the stack's training time
    ok = [k for k, st in enumerate(states) if st.error is None]
    runs = iter(finish_members([cfgs[k] for k in ok], [models[k] for k in ok],
                               [preps[k] for k in ok], [tens[k] for k in ok],
                               [states[k] for k in ok], {s: o[ok] for s, o in outputs.items()}))
    return [st.error if st.error is not None else next(runs) for st in states]


__all__ = ["EnsembleTrainer", "StackedMLP", "group_key", "member_config", "train_members",
           "why_not_batched"]
