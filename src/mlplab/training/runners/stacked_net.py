"""The stacked runner's maths: K same-shaped MLPs as one batched model.

Weights are stacked as ``(K, out, in + 1)`` (the bias a last column) and every layer is one
``torch.bmm`` for all K members, on feature-major activations (K, features, rows); the
backward pass is written by hand (as in :mod:`.fused`, whose activation table it shares) and
one optimizer step updates every member. Hyperparameters that do not change shapes vary per
member: seed (initial weights *and* data), learning rate, weight decay, momentum, L1, dropout
rate and gradient clipping. Each member's arithmetic is its solo run's (autograd and
``torch.optim``) up to float rounding: ``tests/test_ensemble.py`` checks it.

Example
-------
>>> from mlplab.models import ModelSpec, build_model
>>> models = [build_model(ModelSpec(2, [3], ["relu"], 1), seed=s) for s in (0, 1)]
>>> net = StackedMLP.from_models(models)
>>> [tuple(Wb.shape) for Wb in net.Wb]  # (K, out, in + 1) per layer: the bias last
[(2, 3, 3), (2, 1, 4)]
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
from mlplab.training.runners.fused_kernels import ACTS
from mlplab.training.runners.stacked_heads import HEADS, head_targets

RMSPROP_ALPHA = 0.99  # torch.optim.RMSprop's default, which the registry keeps


@dataclass
class StackedMLP:
    """K MLPs' parameters in one flat buffer, layer by layer.

    Layer i is the view ``Wb[i]`` (K, out_i, in_i + 1): ``nn.Linear``'s weight with the bias
    as one more column, so a layer is one batched matrix product against its input with a
    row of ones appended, and its weight and bias gradients are one product too. Activations
    run feature-major, (K, features, n): the rows are the long, contiguous dimension of every
    product, the shape batched GEMM kernels are fast at (measured 3-5x faster than
    (K, n, features) for 10-unit layers on a few hundred rows). One flat buffer makes the
    optimizer step one kernel per line for all layers and members.
    """

    flat: Tensor
    Wb: list[Tensor]
    activations: list[str]
    output: str

    @classmethod
    def from_models(cls, models: Sequence[MLP]) -> StackedMLP:
        layers = [m.linears() for m in models]
        flat, Wb = layer_views([(lin.out_features, lin.in_features + 1) for lin in layers[0]],
                               len(models))
        with torch.no_grad():
            for i, v in enumerate(Wb):
                v[:, :, :-1] = torch.stack([ls[i].weight.detach() for ls in layers])
                v[:, :, -1] = torch.stack([ls[i].bias.detach() for ls in layers])
        spec = models[0].spec
        return cls(flat, Wb, list(spec.activations), spec.output)

    def logits_fm(self, Xt: Tensor) -> Tensor:
        """Pre-activation outputs (K, out, n) for feature-major inputs Xt (K, in, n)."""
        a = Xt
        for i, Wb in enumerate(self.Wb):
            a = torch.baddbmm(Wb[:, :, -1:], Wb[:, :, :-1], a)
            if i < len(self.Wb) - 1:
                a = ACTS[self.activations[i]].forward(a)
        return a

    def logits(self, X: Tensor) -> Tensor:
        """Pre-activation outputs (K, n, out) for inputs X (K, n, in)."""
        return self.logits_fm(X.transpose(1, 2)).transpose(1, 2)

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
                lin.weight.data = self.Wb[i][k, :, :-1]  # (out, in)
                lin.bias.data = self.Wb[i][k, :, -1]

    @staticmethod
    def unbind(models: Sequence[MLP]) -> None:
        """Give every member's parameters their own contiguous memory again."""
        for m in models:
            for p in m.parameters():
                p.data = p.data.clone(memory_format=torch.contiguous_format)


def layer_views(shapes: Sequence[tuple[int, int]], K: int) -> tuple[Tensor, list[Tensor]]:
    """A zero flat buffer and its contiguous (K, rows, cols) view per layer shape."""
    flat = torch.zeros(sum(K * r * c for r, c in shapes))
    views, off = [], 0
    for r, c in shapes:
        views.append(flat[off:off + K * r * c].view(K, r, c))
        off += K * r * c
    return flat, views


@dataclass
class _Buffers:
    """One batch size's step buffers: hidden activations (a ones row last), pre-activations,
    their gradients, and the outputs."""

    acts: list[Tensor]
    pre: list[Tensor]
    grads: list[Tensor]
    out: Tensor


def _col(values: Sequence[float]) -> Tensor:
    return torch.tensor(values, dtype=torch.float32)  # (K,)


def _with_ones(X: Tensor) -> Tensor:
    """Feature-major (K, in + 1, n) inputs: X (K, n, in) transposed, a row of ones below."""
    return torch.cat([X.transpose(1, 2), torch.ones(X.shape[0], 1, X.shape[1])], 1)


@dataclass
class EnsembleTrainer:
    """Trains a :class:`StackedMLP` on per-member data with per-member hyperparameters."""

    net: StackedMLP
    head_key: tuple[str, str]
    X: Tensor  # (K, n, in)
    y: Tensor  # (K, n, ...) encoded targets as the loss wants them
    cfgs: Sequence[RunConfig]
    n_outputs: int
    state: dict[str, Tensor] = field(default_factory=dict)
    step: int = 0

    def __post_init__(self) -> None:
        c, net = self.cfgs, self.net
        self.kind = c[0].optim.name
        self.head = HEADS[self.head_key]
        self.gens = [torch.Generator().manual_seed(x.seed) for x in c]
        self.grad, self.G = layer_views([(v.shape[1], v.shape[2]) for v in net.Wb], len(c))
        # which member each flat element belongs to, and the per-member settings spread
        # over the flat buffer (L1 only on weights, not on the bias column)
        self.member = torch.cat([torch.arange(len(c)).repeat_interleave(v[0].numel())
                                 for v in net.Wb])
        weights = torch.cat([torch.ones_like(v).index_fill_(2, torch.tensor([v.shape[2] - 1]),
                                                            0).flatten() for v in net.Wb])
        self.lr = _col([x.optim.lr for x in c])
        self.wd = _col([registry.weight_decay(x.optim) for x in c])[self.member]
        self.mom = _col([x.optim.momentum for x in c])[self.member]
        l1 = _col([x.optim.l1 for x in c])
        self.l1, self.l1_k = l1[self.member] * weights, l1
        self.weights = weights
        self.drop = _col([x.model.dropout for x in c]).reshape(-1, 1, 1)
        self.clip = torch.tensor([x.train.clip_grad_norm or math.inf for x in c])  # (K,)
        self.any_l1 = bool((l1 > 0).any())
        self.any_drop = bool((self.drop > 0).any())
        self.any_clip = bool(torch.isfinite(self.clip).any())
        self.any_wd = bool((self.wd != 0).any())
        self.any_mom = bool((self.mom != 0).any())
        self.set_active(torch.ones(len(c)))
        self.Xa = _with_ones(self.X)  # (K, in + 1, n)
        self._hidden: dict[int, _Buffers] = {}  # rows -> the step's buffers
        n, o = self.X.shape[1], self.n_outputs
        self._t_full = head_targets(self.head, self.y, o, 1.0 / (n if self.head.per_row
                                                                 else n * o))

    def set_active(self, active: Tensor) -> None:
        """Members with ``active[k] == 0`` are frozen (learning rate 0): stopped members."""
        self.lr_now = (self.lr * active)[self.member]
        self.neg_lr = -self.lr_now

    def _buffers(self, n: int) -> _Buffers:
        """The step's large (K, features, n) tensors for batches of ``n`` rows, allocated
        once: fresh megabyte-sized outputs every step cost page faults, not arithmetic."""
        if n not in self._hidden:
            K, hidden = len(self.cfgs), [v.shape[1] for v in self.net.Wb[:-1]]
            self._hidden[n] = _Buffers(
                acts=[torch.ones(K, h + 1, n) for h in hidden],  # the last row stays ones
                pre=[torch.empty(K, h, n) for h in hidden],
                grads=[torch.empty(K, h, n) for h in hidden],
                out=torch.empty(K, self.net.Wb[-1].shape[1], n))
        return self._hidden[n]

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
                loss = self._step(self.Xa, self.y, self._t_full, want_loss)
                if total is not None and loss is not None:
                    total += loss
                continue
            xb = self.Xa.gather(2, idx[:, None, :].expand(-1, self.Xa.shape[1], -1))
            yi = idx.reshape(*idx.shape, *([1] * (self.y.dim() - 2)))
            yb = self.y.gather(1, yi.expand(-1, -1, *self.y.shape[2:]))
            count = idx.shape[1] if self.head.per_row else idx.shape[1] * self.n_outputs
            t = head_targets(self.head, yb, self.n_outputs, 1.0 / count)
            loss = self._step(xb, yb, t, want_loss)
            if total is not None and loss is not None:
                total += loss * idx.shape[1] / n
        return total

    def _step(self, Xa: Tensor, y: Tensor, t: Tensor, want_loss: bool) -> Tensor | None:
        """One step on inputs Xa (K, in + 1, n) (ones last), targets y and head targets t."""
        Wb, acts = self.net.Wb, [ACTS[a] for a in self.net.activations]
        last = len(Wb) - 1
        bufs = self._buffers(Xa.shape[2])
        ins, pre, masks = [Xa], [], []
        a = Xa
        for i, (buf, z) in enumerate(zip(bufs.acts, bufs.pre, strict=True)):
            torch.bmm(Wb[i], a, out=z)  # (K, h_i, n): weights and bias at once
            if self.any_drop:  # inverted dropout with a per-member rate
                keep = 1.0 - self.drop
                act = acts[i].forward(z)
                masks.append((torch.rand(act.shape) < keep) / keep)
                torch.mul(act, masks[-1], out=buf[:, :-1])
            else:
                act = acts[i].forward_out(z, buf[:, :-1])
            pre.append(act)
            ins.append(buf)
            a = buf
        zr = torch.bmm(Wb[last], a, out=bufs.out).transpose(1, 2)  # (K, n, out): heads' layout
        count = zr.shape[1] if self.head.per_row else zr.shape[1] * zr.shape[2]
        loss = None
        if want_loss:
            v = self.head.value(zr, y)
            loss = v.reshape(len(v), -1).mean(1)
            if self.any_l1:
                w = torch.zeros(len(self.cfgs)).index_add_(0, self.member,
                                                           self.net.flat.abs() * self.weights)
                loss = loss + self.l1_k * w
        g = self.head.grad(zr, t, 1.0 / count).transpose(1, 2)  # (K, out, n)
        for i in range(last, -1, -1):
            torch.bmm(g, ins[i].transpose(1, 2), out=self.G[i])  # (K, out, in + 1)
            if i > 0:
                Wt = Wb[i][:, :, :-1].transpose(1, 2)  # (K, in, out)
                # (K, in, n); one output: a broadcast product, else a product against a
                # contiguous copy of W^T (measured faster than the strided view)
                ga = torch.mul(Wt, g, out=bufs.grads[i - 1]) if g.shape[1] == 1 else \
                    torch.bmm(Wt.contiguous(), g, out=bufs.grads[i - 1])
                if self.any_drop:
                    ga.mul_(masks[i - 1])
                g = acts[i - 1].backward_(ga, bufs.pre[i - 1], pre[i - 1])
        self._update()
        return loss

    def _update(self) -> None:
        """torch.optim's step for every member at once, on the flat buffers."""
        p, g, lr = self.net.flat, self.grad, self.lr_now
        if self.any_l1:
            g.add_(self.l1 * p.sign())
        if self.any_clip:  # per member, as nn.utils.clip_grad_norm_
            norms = torch.zeros(len(self.cfgs)).index_add_(0, self.member, g * g).sqrt()
            g.mul_((self.clip / (norms + 1e-6)).clamp(max=1.0)[self.member])
        if self.kind == "sgd":
            if self.any_wd:
                g.add_(self.wd * p)
            if not self.any_mom:  # with momentum 0 torch's step is p -= lr * g: one kernel
                p.addcmul_(g, self.neg_lr)
                return
            buf = self.state.setdefault("buf", torch.zeros_like(p))
            buf.mul_(self.mom).add_(g)  # first step: buf = g, as torch's clone(g)
            p.sub_(lr * (g + self.mom * buf if self.cfgs[0].optim.nesterov else buf))
            return
        if self.kind == "rmsprop":
            self._rmsprop(p, g, lr)
            return
        b1, b2 = self.cfgs[0].optim.betas
        self.step += 1
        bc1, bc2 = 1 - b1 ** self.step, math.sqrt(1 - b2 ** self.step)
        m = self.state.setdefault("m", torch.zeros_like(p))
        v = self.state.setdefault("v", torch.zeros_like(p))
        if self.kind == "adamw":
            p.mul_(1.0 - lr * self.wd)
        elif self.any_wd:
            g.add_(self.wd * p)
        m.lerp_(g, 1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        p.sub_((lr / bc1) * m / (v.sqrt() / bc2 + 1e-8))

    def _rmsprop(self, p: Tensor, g: Tensor, lr: Tensor) -> None:
        """torch.optim.RMSprop's step (not centered), per member learning rate and momentum."""
        eps = self.cfgs[0].optim.eps
        sq = self.state.setdefault("sq", torch.zeros_like(p))
        buf = self.state.setdefault("buf", torch.zeros_like(p))
        if self.any_wd:
            g.add_(self.wd * p)
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
