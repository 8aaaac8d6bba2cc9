"""K same-shaped MLPs trained as one batched model.

Weights are stacked as ``(K, in, out)`` and every layer is one ``torch.baddbmm`` for all K
members; the backward pass is written by hand (as in :mod:`.fused`, whose activation
and loss tables it shares) and one optimizer step updates every member. Hyperparameters that
do not change shapes vary per member: seed (initial weights *and* data), learning rate, weight
decay, momentum, L1, dropout rate and gradient clipping. Members that differ in shape,
activation, optimizer or loss go into separate ensembles (:func:`group_key`). Each member
gets the :class:`~mlplab.training.callbacks.EarlyStopping` its solo run would get: a member it
stops is frozen, keeps its history up to there and ends with its best weights.

Without dropout each member ends with the weights its solo run (:func:`mlplab.train` with the
same config) would reach, up to float rounding: same initial weights (built from the member's
seed exactly as the solo run builds them), same data and split, same mini-batch order (one
generator per member, seeded like the solo loop's), same optimizer arithmetic.

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
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from mlplab import registry
from mlplab.config import RunConfig, with_overrides
from mlplab.errors import ConfigError
from mlplab.models import MLP, build_model
from mlplab.pipeline import Prepared, model_spec, prepare
from mlplab.runs.finish import finish_run
from mlplab.training.callbacks import EarlyStopping
from mlplab.training.runners import support
from mlplab.training.runners.fused import ACTS
from mlplab.training.runners.stacked_heads import HEADS, head_targets
from mlplab.training.state import TrainState
from mlplab.training.step import resolve_batch_size

if TYPE_CHECKING:
    from mlplab.runs.run import Run

# RunConfig paths that may differ between members of one ensemble (no change of shape/code)
PER_MEMBER = ("name", "description", "seed", "data", "optim.lr", "optim.weight_decay",
              "optim.momentum", "optim.l1", "model.dropout", "model.init",
              "train.clip_grad_norm", "log")
OPTIM_KINDS = ("sgd", "adam", "adamw", "rmsprop")
RMSPROP_ALPHA = 0.99  # torch.optim.RMSprop's default, which the registry keeps


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


@dataclass
class StackedMLP:
    """K MLPs' parameters stacked: ``W[i]`` (K, in_i, out_i), ``b[i]`` (K, 1, out_i)."""

    W: list[Tensor]
    b: list[Tensor]
    activations: list[str]
    output: str

    @classmethod
    def from_models(cls, models: Sequence[MLP]) -> StackedMLP:
        layers = [m.linears() for m in models]
        W = [torch.stack([ls[i].weight.detach().t() for ls in layers]).contiguous()
             for i in range(len(layers[0]))]
        b = [torch.stack([ls[i].bias.detach()[None, :] for ls in layers]).contiguous()
             for i in range(len(layers[0]))]
        spec = models[0].spec
        return cls(W, b, list(spec.activations), spec.output)

    @property
    def params(self) -> list[Tensor]:
        return [t for pair in zip(self.W, self.b, strict=True) for t in pair]

    def logits(self, X: Tensor) -> Tensor:
        """Pre-activation outputs (K, n, out) for inputs X (K, n, in)."""
        a = X
        for i, (W, b) in enumerate(zip(self.W, self.b, strict=True)):
            a = torch.baddbmm(b, a, W)
            if i < len(self.W) - 1:
                a = ACTS[self.activations[i]].forward(a)
        return a

    def copy_into(self, models: Sequence[MLP]) -> None:
        """Write member k's weights into ``models[k]`` (nn.Linear layout)."""
        with torch.no_grad():
            for k, m in enumerate(models):
                for i, lin in enumerate(m.linears()):
                    lin.weight.copy_(self.W[i][k].t())
                    lin.bias.copy_(self.b[i][k, 0])


def _col(values: Sequence[float]) -> Tensor:
    return torch.tensor(values, dtype=torch.float32).reshape(-1, 1, 1)  # (K, 1, 1)


@dataclass
class EnsembleTrainer:
    """Trains a :class:`StackedMLP` on per-member data with per-member hyperparameters."""

    net: StackedMLP
    head_key: tuple[str, str]
    X: Tensor  # (K, n, in)
    y: Tensor  # (K, n, ...) encoded targets as the loss wants them
    cfgs: Sequence[RunConfig]
    n_outputs: int
    state: dict[str, list[Tensor]] = field(default_factory=dict)
    step: int = 0

    def __post_init__(self) -> None:
        c = self.cfgs
        self.lr = _col([x.optim.lr for x in c])
        self.wd = _col([registry.weight_decay(x.optim) for x in c])
        self.mom = _col([x.optim.momentum for x in c])
        self.l1 = _col([x.optim.l1 for x in c])
        self.drop = _col([x.model.dropout for x in c])
        self.clip = torch.tensor([x.train.clip_grad_norm or math.inf for x in c])  # (K,)
        self.kind = c[0].optim.name
        self.head = HEADS[self.head_key]
        self.gens = [torch.Generator().manual_seed(x.seed) for x in c]
        self.any_l1 = bool((self.l1 > 0).any())
        self.any_drop = bool((self.drop > 0).any())
        self.any_clip = bool(torch.isfinite(self.clip).any())
        self.active = torch.ones(len(c), 1, 1)  # 0 freezes a member (e.g. pruned)
        n, o = self.X.shape[1], self.n_outputs
        self._t_full = head_targets(self.head, self.y, o, 1.0 / (n if self.head.per_row
                                                                 else n * o))

    def _batches(self, bs: int | None) -> list[Tensor | None]:
        n = self.X.shape[1]
        if bs is None or bs >= n:
            return [None]
        perms = torch.stack([torch.randperm(n, generator=g) for g in self.gens])  # (K, n)
        return list(perms.split(bs, dim=1))

    def epoch(self, bs: int | None, want_loss: bool) -> Tensor | None:
        """One epoch for all members; returns the per-member mean loss (K,) if asked."""
        total = torch.zeros(self.X.shape[0]) if want_loss else None
        n = self.X.shape[1]
        for idx in self._batches(bs):
            if idx is None:
                xb, yb = self.X, self.y
            else:
                xb = self.X.gather(1, idx[..., None].expand(-1, -1, self.X.shape[2]))
                yi = idx.reshape(*idx.shape, *([1] * (self.y.dim() - 2)))
                yb = self.y.gather(1, yi.expand(-1, -1, *self.y.shape[2:]))
            loss = self._step(xb, yb, want_loss)
            if total is not None and loss is not None:
                total += loss * xb.shape[1] / n
        return total

    def _step(self, X: Tensor, y: Tensor, want_loss: bool) -> Tensor | None:
        net, acts = self.net, [ACTS[a] for a in self.net.activations]
        last = len(net.W) - 1
        a, hs, ins, masks, pre = X, [], [X], [], []
        z = X
        for i in range(last + 1):
            z = torch.baddbmm(net.b[i], a, net.W[i])  # (K, n, out_i)
            if i < last:
                hs.append(z)
                a = acts[i].forward(z)
                pre.append(a)
                if self.any_drop:  # inverted dropout with a per-member rate
                    keep = 1.0 - self.drop
                    mask = (torch.rand(a.shape) < keep) / keep
                    masks.append(mask)
                    a = a * mask
                ins.append(a)
        per_row = self.head.per_row
        count = z.shape[1] if per_row else z.shape[1] * z.shape[2]
        loss = None
        if want_loss:
            v = self.head.value(z, y)
            loss = v.reshape(len(v), -1).mean(1)
            if self.any_l1:
                loss = loss + self.l1.reshape(-1) * sum(W.abs().sum((1, 2)) for W in net.W)
        t = self._t_full if y is self.y else head_targets(self.head, y, self.n_outputs,
                                                          1.0 / count)
        g = self.head.grad(z, t, 1.0 / count)  # (K, n, out)
        grads: list[Tensor] = [g] * (2 * last + 2)
        for i in range(last, -1, -1):
            grads[2 * i] = torch.bmm(ins[i].transpose(1, 2), g)  # (K, in, out)
            grads[2 * i + 1] = g.sum(1, keepdim=True)  # (K, 1, out)
            if i > 0:
                ga = torch.bmm(g, net.W[i].transpose(1, 2))
                if self.any_drop:
                    ga = ga * masks[i - 1]
                g = acts[i - 1].backward(ga, hs[i - 1], pre[i - 1])
        self._update(grads)
        return loss

    def _update(self, grads: list[Tensor]) -> None:
        params = self.net.params
        if self.any_l1:
            for i in range(0, len(params), 2):
                grads[i] = grads[i] + self.l1 * params[i].sign()
        if self.any_clip:  # per member, as nn.utils.clip_grad_norm_
            norms = torch.stack([g.pow(2).sum((1, 2)) for g in grads]).sum(0).sqrt()  # (K,)
            coef = (self.clip / (norms + 1e-6)).clamp(max=1.0).reshape(-1, 1, 1)
            grads = [g * coef for g in grads]
        lr = self.lr * self.active
        if self.kind == "sgd":
            grads = [g + self.wd * p for g, p in zip(grads, params, strict=True)]
            bufs = self.state.setdefault("bufs", [torch.zeros_like(p) for p in params])
            nesterov = self.cfgs[0].optim.nesterov
            for p, g, buf in zip(params, grads, bufs, strict=True):
                buf.mul_(self.mom).add_(g)  # first step: buf = g, as torch's clone(g)
                p.sub_(lr * (g + self.mom * buf if nesterov else buf))
            return
        if self.kind == "rmsprop":
            self._rmsprop(params, grads, lr)
            return
        b1, b2 = self.cfgs[0].optim.betas
        self.step += 1
        bc1, bc2 = 1 - b1 ** self.step, math.sqrt(1 - b2 ** self.step)
        ms = self.state.setdefault("m", [torch.zeros_like(p) for p in params])
        vs = self.state.setdefault("v", [torch.zeros_like(p) for p in params])
        for p, g, m, v in zip(params, grads, ms, vs, strict=True):
            if self.kind == "adamw":
                p.mul_(1.0 - lr * self.wd)
            else:
                g = g + self.wd * p
            m.lerp_(g, 1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            p.sub_((lr / bc1) * m / (v.sqrt() / bc2 + 1e-8))


    def _rmsprop(self, params: list[Tensor], grads: list[Tensor], lr: Tensor) -> None:
        """torch.optim.RMSprop's step (not centered), per member learning rate and momentum."""
        eps = self.cfgs[0].optim.eps
        avgs = self.state.setdefault("sq", [torch.zeros_like(p) for p in params])
        bufs = self.state.setdefault("bufs", [torch.zeros_like(p) for p in params])
        for p, g, sq, buf in zip(params, grads, avgs, bufs, strict=True):
            g = g + self.wd * p
            sq.mul_(RMSPROP_ALPHA).addcmul_(g, g, value=1 - RMSPROP_ALPHA)
            buf.mul_(self.mom).add_(g / (sq.sqrt() + eps))  # momentum 0: buf is the step
            p.sub_(lr * buf)


# --- evaluation ---------------------------------------------------------------------------


@torch.no_grad()
def evaluate(trainer: EnsembleTrainer, task: Any, X: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Per-member (loss, accuracy or R²), each (K,), on one split (no dropout)."""
    z = trainer.net.logits(X)  # (K, n, out)
    v = trainer.head.value(z, y)
    loss = v.reshape(len(v), -1).mean(1)
    K, n, o = z.shape
    out = torch.sigmoid(z) if trainer.net.output == "sigmoid" else z
    if task.name == "regression":
        resid = ((y - out) ** 2).sum((1, 2))
        total = ((y - y.mean(1, keepdim=True)) ** 2).sum((1, 2))
        return loss, 1.0 - resid / total
    pred = task.labels(task.proba(out.reshape(K * n, o)))
    if task.name == "multilabel":
        return loss, (pred.reshape(K, n, -1) == y.long()).all(2).float().mean(1)
    return loss, (pred.reshape(K, n) == y.reshape(K, n).long()).float().mean(1)


# --- from configs to runs -----------------------------------------------------------------

EvalHook = Callable[[int, list[dict[str, Any]], EnsembleTrainer], None]


def train_members(cfgs: Sequence[RunConfig], prepared: Sequence[Prepared] | None = None, *,
                  on_eval: EvalHook | None = None) -> list[Run]:
    """Train same-shaped configs as one ensemble; one :class:`~mlplab.runs.run.Run` per member.

    ``prepared`` (from :func:`mlplab.pipeline.prepare`) may be passed to reuse loaded data.
    ``on_eval(epoch, rows, trainer)`` sees each evaluation's history rows (one per member)
    and may freeze members by zeroing ``trainer.active[k]`` (pruning).
    """

    cfgs = list(cfgs)
    preps = list(prepared) if prepared is not None else [prepare(c) for c in cfgs]
    # what "auto" early stopping became for each table (pipeline.prepare decides)
    cfgs = [with_overrides(c, {"data.val_size": p.cfg.data.val_size,
                               "train.early_stopping": p.cfg.train.early_stopping})
            for c, p in zip(cfgs, preps, strict=True)]
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
        torch.manual_seed(c.seed)  # exactly as api.train builds the solo model
        models.append(build_model(model_spec(c, p.n_features, p.task), seed=c.seed))
    if (models[0].spec.output, task.loss) not in HEADS:
        raise ConfigError(f"output {models[0].spec.output!r} with loss {task.loss!r} is not "
                          "supported in an ensemble", hint="train it alone")
    tens = [p.tensors("cpu") for p in preps]
    stack = {s: (torch.stack([t.X[s] for t in tens]), torch.stack([t.y[s] for t in tens]))
             for s in ("train", "val", "test") if tens[0].has(s)}
    trainer = EnsembleTrainer(StackedMLP.from_models(models), (models[0].spec.output,
                              task.loss), *stack["train"], cfgs, task.n_outputs)
    bs = resolve_batch_size(cfg0.train.batch_size, tens[0].n_train)
    epochs, every = cfg0.train.epochs, cfg0.train.eval_every
    # finish_run reads the state's bookkeeping only; one placeholder optimizer serves all
    # (building 64 real ones costs more than the training of a small sweep)
    placeholder = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=cfg0.optim.lr)
    states = [TrainState(model=m, optimizer=placeholder, scheduler=None, task=p.task, cfg=c,
                         data=t, epochs=epochs, batch_size=bs, runner_name="ensemble")
              for c, p, m, t in zip(cfgs, preps, models, tens, strict=True)]
    # each member's own EarlyStopping, as fit gives a solo run: it reads the member's weights
    # at each evaluation; a member it stops is frozen and keeps its history up to there
    stopping = {k: EarlyStopping(c.train.early_stopping) for k, c in enumerate(cfgs)
                if c.train.early_stopping}
    for k, cb in stopping.items():
        cb.on_train_begin(states[k])
    t0 = time.perf_counter()
    with torch.no_grad():
        for epoch in range(1, epochs + 1):
            want = epoch % every == 0 or epoch == epochs
            loss = trainer.epoch(bs, want)
            if not want:
                continue
            assert loss is not None
            rows = _eval_rows(trainer, task, stack, epoch, loss, t0)
            _members_eval(trainer, models, states, stopping, rows)
            if on_eval is not None:
                on_eval(epoch, rows, trainer)
            if all(st.stop for st in states):
                break
    seconds = time.perf_counter() - t0
    trainer.net.copy_into(models)
    for k, cb in stopping.items():
        cb.on_train_end(states[k])  # the member's best weights, as a solo run restores them
    runs = []
    for k, (c, p, m, t, st) in enumerate(zip(cfgs, preps, models, tens, states, strict=True)):
        st.seconds = seconds / len(cfgs)
        if not st.stop:
            st.epoch = epochs
            if not bool(trainer.active[k]):
                st.stop_reason = "pruned"
        m.eval()
        runs.append(finish_run(c, m, p, t, st))
    return runs


def _members_eval(trainer: EnsembleTrainer, models: Sequence[MLP], states: list[TrainState],
                  stopping: dict[int, EarlyStopping], rows: list[dict[str, Any]]) -> None:
    """Each running member's history row, and its early stopping (which may freeze it)."""
    if stopping:
        trainer.net.copy_into(models)  # EarlyStopping copies the member's best weights
    for k, (st, row) in enumerate(zip(states, rows, strict=True)):
        if st.stop:
            continue
        st.epoch = row["epoch"]
        st.history.append(row)
        if k in stopping:
            stopping[k].on_eval(st, row)
            if st.stop:
                trainer.active[k] = 0.0


def _eval_rows(trainer: EnsembleTrainer, task: Any, stack: dict[str, tuple[Tensor, Tensor]],
               epoch: int, loss: Tensor, t0: float) -> list[dict[str, Any]]:
    score = "r2" if task.name == "regression" else "accuracy"
    cols: dict[str, list[float]] = {"train_loss": loss.tolist()}
    for split, (X, y) in stack.items():
        sl, sc = evaluate(trainer, task, X, y)
        if split != "train":
            cols[f"{split}_loss"] = sl.tolist()
        cols[f"{split}_{score}"] = sc.tolist()
    bad = [k for k, v in enumerate(cols["train_loss"]) if not math.isfinite(v)]
    for k in bad:  # a diverged member stops moving; the others go on
        trainer.active[k] = 0.0
    secs = round(time.perf_counter() - t0, 4)
    return [{"epoch": epoch, **{c: v[k] for c, v in cols.items()},
             "lr": trainer.cfgs[k].optim.lr, "seconds": secs} for k in range(len(trainer.cfgs))]


__all__ = ["EnsembleTrainer", "StackedMLP", "evaluate", "group_key", "train_members",
           "why_not_batched"]
