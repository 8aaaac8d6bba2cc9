"""A low-overhead runner for MLPs, full batch or mini-batch, bitwise equal to the eager step.

A 2-4-4-1 net on 100 points does well under a microsecond of arithmetic per epoch, yet the
tutorial loop (``zero_grad`` / autograd ``backward`` / ``optimizer.step``) costs ~170 µs; a
32-64-64-1 step on 1024 rows spends about a third of its time outside the matrix products.
The time goes to per-operator dispatch, autograd bookkeeping, allocations and the optimizer's
Python. This runner calls, for each step, the *same aten operators in the same order* as
autograd and ``torch.optim``'s foreach CPU code (:mod:`.fused_kernels`): ``addmm`` forward,
the loss's own backward kernel (``binary_cross_entropy_backward``, ``nll_loss_backward`` +
``_log_softmax_backward_data``, ``mse_loss_backward``, ...), ``threshold_backward``-style
activation kernels, ``g.t().mm(a)`` / ``g.sum(0)`` / ``g.mm(W)`` as autograd's ``addmm``
backward computes them, then the optimizer's arithmetic as ``_foreach_*`` calls. What it saves
is the bookkeeping, not the maths, so the weights it leaves are ``torch.equal`` to the eager
runner's after any number of epochs (tests/test_fastpath.py,
tests/training/test_fused_minibatch.py). It mutates the model's own parameters and the
optimizer's own state tensors, so checkpoints, callbacks and resuming see exactly what the
eager runner would leave behind.

The choice between runners lives in :mod:`.select`.

Example
-------
>>> import mlplab
>>> run = mlplab.train({"data": {"source": "disk", "n_samples": 5000},
...                     "model": {"hidden": [4, 4], "ensemble": 1},  # one network
...                     "optim": {"name": "sgd", "lr": 0.1}, "train": {"epochs": 20}},
...                    save=False)
>>> run.info["runner"]
'fast'
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import Tensor

from mlplab import registry
from mlplab.models import ModelSpec
from mlplab.training.runners import support
from mlplab.training.runners.fused_kernels import (
    ACTS,
    HEADS,
    OPTIMIZERS,
    OUT_ACTS,
    decays,
    why_not_fused,
)
from mlplab.training.state import TrainState
from mlplab.training.step import epoch_loss, l1_penalty

# --- the runner ---------------------------------------------------------------------------


class _Flat:
    """A layout of tensors shaped like the parameters in one flat buffer: weights first, then
    biases, each region starting on a 64-byte boundary (as a tensor of its own would, so the
    matrix kernels see the same alignment) with zero padding between.

    One elementwise kernel over the buffer computes, element for element, what a foreach op
    computes tensor by tensor (torch's CPU kernels give each element the same arithmetic
    wherever it sits; tests/training/test_fused_minibatch.py), so an optimizer step is a few
    kernels whatever the number of layers.
    """

    def __init__(self, params: list[Tensor]) -> None:
        order = [*range(0, len(params), 2), *range(1, len(params), 2)]
        self.offsets, off = [0] * len(params), 0
        for j in order:
            self.offsets[j] = off
            off += -(-params[j].numel() // 16) * 16  # 16 floats = 64 bytes
        self.size, self.n_weights = off, self.offsets[1] if len(params) > 1 else off
        self.shapes = [p.shape for p in params]

    def new(self, dtype: torch.dtype) -> tuple[Tensor, list[Tensor]]:
        """A zeroed buffer of ``dtype`` and its views, one per parameter (model order)."""
        flat = torch.zeros(self.size, dtype=dtype)
        return flat, [flat[o:o + math.prod(s)].view(s)
                      for o, s in zip(self.offsets, self.shapes, strict=True)]


class _Plan:
    """One step's forward and backward on a batch of ``rows`` rows, as a fixed list of calls.

    Every tensor a step touches is fixed in advance: the batch is a view (:attr:`xb`,
    :attr:`yb`) that :meth:`point` moves onto the next batch's rows of the source (the rows,
    or the epoch's gathered buffer; the same storage offsets as the eager runner's slices),
    activations and backward products live in buffers allocated once per batch size,
    parameters and gradients in the runner's flat buffers. So the step is the same calls with
    the same arguments every time, bound once with ``functools.partial``: no Python between
    kernels but the loop over them.
    """

    def __init__(self, run: FastRunner, rows: int, X: Tensor, y: Tensor) -> None:
        self.sources = [(t.untyped_storage(), t.storage_offset(), t.stride(),
                         (rows, *t.shape[1:])) for t in (X, y)]
        xb, yb = (torch.empty(0, dtype=t.dtype).set_(st, off, size, stride)
                  for t, (st, off, stride, size) in zip((X, y), self.sources, strict=True))
        self.xb, self.yb = xb, yb
        last = len(run.weights) - 1
        bufs = run.buffers(rows)
        self.calls: list[Callable[[], Any]] = []
        add = self.calls.append
        a, hs, ins = xb, [], [xb]
        for i in range(last + 1):
            h = bufs["h"][i]
            add(partial(torch.addmm, run.biases[i], a, run.weights[i].t(), out=h))
            if i < last:
                act = run.acts[i]
                if act.forward_ is not None:  # the backward needs a only: h becomes a
                    add(partial(act.forward_, h))
                    a = h
                else:
                    a = bufs["a"][i]
                    add(partial(act.forward_out, h, a))
                hs.append(h)
                ins.append(a)
        self.z = h  # (rows, n_out): the logits, intact after the step (the loss reads them)
        g = bufs["gz"]
        self.calls.extend(run.head(h, yb, run.one, bufs["p"], g))
        gW, gb = run.grads[0::2], run.grads[1::2]
        for i in range(last, -1, -1):  # as autograd's addmm backward computes them
            add(partial(torch.mm, g.t(), ins[i], out=gW[i]))  # dW (out, in)
            add(partial(torch.sum, g, 0, out=gb[i]))  # db (out,)
            if i > 0:
                add(partial(torch.mm, g, run.weights[i], out=bufs["gin"][i]))
                add(run.acts[i - 1].bind_backward(bufs["gin"][i], hs[i - 1], ins[i]))
                g = bufs["gin"][i]

    def point(self, row: int) -> None:
        """Make :attr:`xb` / :attr:`yb` the batch starting at ``row`` of the source."""
        for t, (st, off, stride, size) in zip((self.xb, self.yb), self.sources, strict=True):
            t.set_(st, off + row * stride[0], size, stride)


class FastRunner:
    """Epochs of an MLP, full batch or mini-batch: autograd's and the optimizer's kernels,
    minus the bookkeeping.

    For a segment of epochs the runner copies the model's parameters and the optimizer's
    state into flat buffers (:class:`_Flat`), steps there and copies everything back at the
    end (also after Ctrl-C), so the model and ``optimizer.state`` hold exactly what the eager
    runner leaves (momentum buffers and Adam moments created as torch creates them).
    Mini-batches come in the eager runner's order: one seeded ``randperm`` per epoch from
    ``state.generator``, the rows gathered once into a reused buffer, contiguous slices of it.
    """

    name = "fast"
    supports = support.FUSED

    def __init__(self, state: TrainState) -> None:
        model = state.model
        self.owned = list(model.parameters())  # what optimizer.state is keyed by
        self.params: list[Tensor] = [p.detach() for p in self.owned]  # [W1, b1, ...]
        self.decay: list[tuple[Tensor, Tensor, float]] = []  # set per segment (__call__)
        self.layout = _Flat(self.params)
        # float32 or float64 (why_not_fused: one dtype for all): every buffer takes it
        self.dtype = dt = self.params[0].dtype
        self.flat_p, self.pv = self.layout.new(dt)  # the parameters while a segment runs
        self.flat_g, self.grads = self.layout.new(dt)  # their gradients, rewritten every step
        self.weights, self.biases = self.pv[0::2], self.pv[1::2]  # (out, in), (out,)
        spec: ModelSpec = model.spec  # type: ignore[assignment]
        self.acts = [ACTS[a] for a in spec.activations]
        self.head = HEADS[(spec.output, state.task.loss)]
        self.out_act = OUT_ACTS[spec.output]
        self.task = state.task
        self.X, self.y = state.data.X["train"], state.data.y["train"]  # (n, in), targets
        self.kind = OPTIMIZERS[type(state.optimizer)]
        self.l1 = state.cfg.optim.l1
        self.clip = state.cfg.train.clip_grad_norm
        self.one = torch.ones((), dtype=dt)  # the gradient backward() starts from
        self._bufs: dict[int, dict[str, Any]] = {}
        n, bs = len(self.X), state.batch_size
        self.shuffle = bs is not None and state.cfg.train.shuffle
        starts = range(0, n, bs) if bs is not None else range(1)
        self.sizes = [min(bs, n - i) for i in starts] if bs is not None else [n]
        if self.shuffle:  # the epoch's gathered rows: one buffer, sliced into batches
            self.Xe, self.ye = torch.empty_like(self.X), torch.empty_like(self.y)
            src = (self.Xe, self.ye)
        else:
            src = (self.X, self.y)
        self.src = src
        self.starts = list(starts)
        self._plans: list[tuple[int, _Plan]] | None = None  # built on first use

    def buffers(self, rows: int) -> dict[str, Any]:
        """Activation and backward buffers for batches of ``rows`` rows (made once)."""
        if rows not in self._bufs:
            outs, dt = [W.shape[0] for W in self.weights], self.dtype
            self._bufs[rows] = {
                "h": [torch.empty(rows, o, dtype=dt) for o in outs],  # each addmm's output
                "a": [torch.empty(rows, o, dtype=dt) for o in outs],  # not done in place
                "gin": [torch.empty(rows, W.shape[1], dtype=dt) for W in self.weights],
                "gz": torch.empty(rows, outs[-1], dtype=dt),  # g.mm(W_i) above; dLoss/dz
                "p": torch.empty(rows, outs[-1], dtype=dt)}
        return self._bufs[rows]

    @property
    def plans(self) -> list[tuple[int, _Plan]]:
        """(first row, :class:`_Plan`) per batch of an epoch, in order (one plan per batch
        size: a full one and a short last one at most)."""
        if self._plans is None:
            by_rows: dict[int, _Plan] = {}
            for rows in self.sizes:
                if rows not in by_rows:
                    by_rows[rows] = _Plan(self, rows, *self.src)
            self._plans = [(i, by_rows[r]) for i, r in zip(self.starts, self.sizes,
                                                             strict=True)]
        return self._plans

    def loss(self, z: Tensor, y: Tensor | None = None,
             params: list[Tensor] | None = None) -> Tensor:
        """The batch loss exactly as the eager step computes it (with the L1 term of
        ``params``, default the model's)."""
        loss = self.task.batch_loss(self.out_act(z), self.y if y is None else y)
        if self.l1 > 0:
            loss = loss + self.l1 * l1_penalty(self.params if params is None else params)
        return loss

    def finish_gradients(self) -> None:
        """The L1 term's gradient and clipping, as the eager step adds and clips them."""
        G, nw = self.flat_g, self.layout.n_weights
        if self.l1 > 0:  # + l1 * sgn(W), the penalty's gradient (weights only)
            G[:nw].add_(torch.sign(self.flat_p[:nw]), alpha=self.l1)
        if self.clip is not None:  # as nn.utils.clip_grad_norm_ (per-tensor norms first)
            total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(self.grads, 2.0)),
                                             2.0)
            G.mul_(torch.clamp(self.clip / (total + 1e-6), max=1.0))

    def update(self, group: dict[str, Any], st: dict[str, Any]) -> None:
        """torch.optim's foreach CPU step (:mod:`torch.optim.sgd` / :mod:`~torch.optim.adam`
        ``_multi_tensor_*``), each line one kernel over the flat buffers."""
        P, G, lr = self.flat_p, self.flat_g, group["lr"]
        if self.kind == "sgd":
            for Pr, Gr, wd in self.decay:
                Gr.add_(Pr, alpha=wd)
            step, mom = G, group["momentum"]
            if mom != 0:
                B = st["B"]
                if st["first"]:  # first step: the buffer is a copy of the gradient
                    B.copy_(G)
                    st["first"] = False
                else:
                    B.mul_(mom)
                    B.add_(G, alpha=1)
                if group["nesterov"]:
                    G.add_(B, alpha=mom)
                else:
                    step = B
            P.add_(step, alpha=-lr)
            return
        # the step count +1 in its tensor's dtype: torch.optim keeps it in float32 (the
        # default dtype) whatever the parameters' dtype, so it sticks at 2^24 (2^53 in float64)
        st["t"] = t = min(st["t"] + 1, st["t_max"])
        for Pr, Gr, wd in self.decay:
            if self.kind == "adamw":
                Pr.mul_(1 - lr * wd)
            else:
                Gr.add_(Pr, alpha=wd)
        b1, b2 = group["betas"]
        M, V, D = st["M"], st["V"], st["D"]
        M.lerp_(G, 1 - b1)
        V.mul_(b2)
        V.addcmul_(G, G, value=1 - b2)
        torch.sqrt(V, out=D)
        D.div_((1 - b2 ** t) ** 0.5)
        D.add_(group["eps"])
        P.addcdiv_(M, D, value=-(lr / (1 - b1 ** t)))

    def _load(self, opt: torch.optim.Optimizer) -> dict[str, Any]:
        """Copy parameters and optimizer state in (the state made as torch makes it)."""
        torch._foreach_copy_(self.pv, self.params)
        ps, state = self.owned, opt.state
        st: dict[str, Any] = {}
        if self.kind == "sgd":
            if opt.param_groups[0]["momentum"]:
                st["B"], st["Bv"] = self.layout.new(self.dtype)
                bufs = [state[p].get("momentum_buffer") for p in ps]
                st["first"] = any(b is None for b in bufs)
                if not st["first"]:
                    torch._foreach_copy_(st["Bv"], bufs)
            return st
        for p in ps:
            s = state[p]
            if "step" not in s:
                s["step"] = torch.tensor(0.0)
                s["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                s["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        (st["M"], st["Mv"]), (st["V"], st["Vv"]) = (self.layout.new(self.dtype),
                                                      self.layout.new(self.dtype))
        st["D"] = torch.empty(self.layout.size, dtype=self.dtype)
        torch._foreach_copy_(st["Mv"], [state[p]["exp_avg"] for p in ps])
        torch._foreach_copy_(st["Vv"], [state[p]["exp_avg_sq"] for p in ps])
        st["t"] = int(state[ps[0]]["step"])
        st["t_max"] = 2 ** 24 if state[ps[0]]["step"].dtype == torch.float32 else 2 ** 53
        return st

    def _store(self, opt: torch.optim.Optimizer, st: dict[str, Any]) -> None:
        """Copy parameters and optimizer state back where the eager runner keeps them."""
        torch._foreach_copy_(self.params, self.pv)
        ps, state = self.owned, opt.state
        if "M" in st:
            torch._foreach_copy_([state[p]["exp_avg"] for p in ps], st["Mv"])
            torch._foreach_copy_([state[p]["exp_avg_sq"] for p in ps], st["Vv"])
            for p in ps:
                state[p]["step"].fill_(float(st["t"]))
        elif "B" in st and not st["first"]:
            for p, b in zip(ps, st["Bv"], strict=True):
                if "momentum_buffer" in state[p]:
                    state[p]["momentum_buffer"].copy_(b)
                else:
                    state[p]["momentum_buffer"] = b.clone()

    def _epoch_plans(self, gen: torch.Generator) -> list[tuple[int, _Plan]]:
        """This epoch's steps, drawing the eager runner's permutation from ``gen``."""
        plans = self.plans
        if self.shuffle:
            perm = torch.randperm(len(self.X), generator=gen, device=gen.device)
            torch.index_select(self.X, 0, perm, out=self.Xe)
            torch.index_select(self.y, 0, perm, out=self.ye)
        return plans

    def __call__(self, state: TrainState, n_epochs: int) -> None:
        opt = state.optimizer
        group = opt.param_groups[0]
        # weight decay by region of the flat buffers: all of it, or weights and biases apart
        wd_w, wd_b = decays(opt, state.model) or (0.0, 0.0)
        nw, P, G = self.layout.n_weights, self.flat_p, self.flat_g
        regions = [(P, G, wd_w)] if wd_w == wd_b else \
            [(P[:nw], G[:nw], wd_w), (P[nw:], G[nw:], wd_b)]
        self.decay = [(Pr, Gr, wd) for Pr, Gr, wd in regions if wd != 0]
        # update() reads lr, betas and momentum afresh every step (schedules change them);
        # plateau steps in fit
        name = state.cfg.schedule.name
        sched = state.scheduler
        per_batch = sched if sched is not None and name in registry.STEP_PER_BATCH else None
        per_epoch = sched if sched is not None and name in registry.STEP_PER_EPOCH else None
        if per_batch is not None or per_epoch is not None:
            opt._opt_called = True  # type: ignore[attr-defined]  # tells torch: stepped here
        n, update, finish = len(self.X), self.update, self.finish_gradients
        plain = self.l1 == 0 and self.clip is None
        moving = len(self.sizes) > 1  # one batch: its views never move
        with torch.no_grad():
            st = self._load(opt)
            try:
                for k in range(n_epochs):
                    losses: list[Tensor] | None = [] if k == n_epochs - 1 else None
                    for row, plan in self._epoch_plans(state.generator):
                        if moving:
                            plan.point(row)
                        for call in plan.calls:
                            call()
                        if losses is not None:  # the loss is read at segment ends only
                            losses.append(self.loss(plan.z, plan.yb, self.pv))  # pre-update
                        if not plain:
                            finish()
                        update(group, st)
                        if per_batch is not None:
                            per_batch.step()
                    if losses is not None:
                        state.last_loss = epoch_loss(losses, self.sizes, n)
                    if per_epoch is not None:
                        per_epoch.step()
                    state.epoch += 1
            finally:  # also after Ctrl-C: the model and optimizer keep the epochs run
                self._store(opt, st)


__all__ = ["ACTS", "HEADS", "OPTIMIZERS", "FastRunner", "why_not_fused"]
