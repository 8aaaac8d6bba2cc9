"""The stacked runner's maths: K same-shaped MLPs as one batched model.

Weights are stacked as ``(K, in, out)`` and every layer is one ``torch.baddbmm`` for all K
members; the backward pass is written by hand (as in :mod:`.fused`, whose activation table it
shares) and one optimizer step updates every member. Hyperparameters that do not change shapes
vary per member: seed (initial weights *and* data), learning rate, weight decay, momentum, L1,
dropout rate and gradient clipping. Each member's arithmetic is its solo run's (autograd and
``torch.optim``) up to float rounding: ``tests/test_ensemble.py`` checks it.

Example
-------
>>> from mlplab.models import ModelSpec, build_model
>>> models = [build_model(ModelSpec(2, [3], ["relu"], 1), seed=s) for s in (0, 1)]
>>> net = StackedMLP.from_models(models)
>>> [tuple(W.shape) for W in net.W]
[(2, 2, 3), (2, 3, 1)]
>>> X = torch.randn(2, 5, 2)
>>> torch.allclose(net.logits(X)[1], models[1](X[1]))
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from mlplab import registry
from mlplab.config import RunConfig
from mlplab.models import MLP
from mlplab.training.runners.fused import ACTS
from mlplab.training.runners.stacked_heads import HEADS, head_targets

RMSPROP_ALPHA = 0.99  # torch.optim.RMSprop's default, which the registry keeps


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

    def outputs(self, X: Tensor) -> Tensor:
        """What each member's model returns (K, n, out): the logits, or their sigmoid."""
        z = self.logits(X)
        return torch.sigmoid(z) if self.output == "sigmoid" else z

    def bind(self, models: Sequence[MLP]) -> None:
        """Make ``models[k]``'s parameters views of member k's stacked weights.

        While bound, each member's module *is* its current weights (callbacks and early
        stopping read and restore them through ``state_dict``) without a copy per evaluation.
        """
        for k, m in enumerate(models):
            for i, lin in enumerate(m.linears()):
                lin.weight.data = self.W[i][k].t()  # (out, in) view of (in, out)
                lin.bias.data = self.b[i][k, 0]

    @staticmethod
    def unbind(models: Sequence[MLP]) -> None:
        """Give every member's parameters their own contiguous memory again."""
        for m in models:
            for p in m.parameters():
                p.data = p.data.clone(memory_format=torch.contiguous_format)


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


__all__ = ["EnsembleTrainer", "StackedMLP", "evaluate"]
