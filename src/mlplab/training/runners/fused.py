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
...                     "model": {"hidden": [4, 4]}, "optim": {"name": "sgd", "lr": 0.1},
...                     "train": {"epochs": 20}}, save=False)
>>> run.info["runner"]
'fast'
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from mlplab import registry
from mlplab.models import MLP, ModelSpec
from mlplab.training.runners import support
from mlplab.training.runners.fused_kernels import ACTS, HEADS, OPTIMIZERS, OUT_ACTS, aten
from mlplab.training.state import TrainState
from mlplab.training.step import epoch_loss, l1_penalty

# --- when the fused runners apply ---------------------------------------------------------


def why_not_fused(state: TrainState) -> str | None:
    """None when the model/optimizer/device fit the fused runners, else what does not.

    Training options (schedules, sample weights, ...) are declared separately in
    :data:`.support.FUSED`.
    """
    model, opt = state.model, state.optimizer
    spec: ModelSpec | None = getattr(model, "spec", None)
    if not isinstance(model, MLP) or spec is None:
        return "a model other than mlplab's MLP"
    checks: list[tuple[bool, str]] = [
        (bool(getattr(spec, "crosses", None)), "model.crosses"),
        (any(a not in ACTS for a in spec.activations),
         "an activation without a hand-written backward"),
        ((spec.output, state.task.loss) not in HEADS,
         f"output {spec.output!r} with loss {state.task.loss!r}"),
        (any(p.device.type != "cpu" for p in model.parameters()), "a device other than the CPU"),
        (any(p.dtype != torch.float32 for p in model.parameters()), "parameters not float32"),
        (type(opt) not in OPTIMIZERS or len(opt.param_groups) != 1,
         f"optimizer {type(opt).__name__}"),
    ]
    why = next((w for bad, w in checks if bad), None)
    if why is not None:
        return why
    group = opt.param_groups[0]
    if group.get("maximize") or group.get("amsgrad") or group.get("dampening", 0) != 0 or \
            group.get("fused") or group.get("differentiable"):  # foreach: the same bits
        return "optimizer options maximize/amsgrad/dampening/fused"
    if [id(p) for p in group["params"]] != [id(p) for p in model.parameters()]:
        return "an optimizer that does not hold exactly the model's parameters"
    if any(not p.requires_grad for p in model.parameters()):
        return "frozen parameters"
    return None


# --- the runner ---------------------------------------------------------------------------


class _Buffers:
    """Preallocated activations and backward products for batches of ``rows`` rows."""

    def __init__(self, rows: int, shapes: list[tuple[int, int]]) -> None:
        self.h = [torch.empty(rows, o) for o, _ in shapes]  # each layer's addmm output
        self.gin = [torch.empty(rows, i) for _, i in shapes]  # g.mm(W_i); [0] unused


class FastRunner:
    """Epochs of an MLP, full batch or mini-batch: autograd's and the optimizer's kernels,
    minus the bookkeeping.

    Parameters live in the model (updated in place); optimizer state lives in
    ``optimizer.state`` (momentum buffers, Adam moments and steps), created on first use
    exactly as torch creates it. Mini-batches come in the eager runner's order (one seeded
    ``randperm`` per epoch from ``state.generator``, rows gathered once into a reused buffer,
    contiguous slices of it); activations, gradients and backward products are written into
    buffers allocated once, through the same kernels' ``out=`` overloads.
    """

    name = "fast"
    supports = support.FUSED

    def __init__(self, state: TrainState) -> None:
        model = state.model
        self.params: list[Tensor] = [p.detach() for p in model.parameters()]  # [W1, b1, ...]
        self.weights = self.params[0::2]  # (out, in) each
        self.biases = self.params[1::2]
        self.Wts = [W.t() for W in self.weights]  # (in, out) views: stay valid as W changes
        spec: ModelSpec = model.spec  # type: ignore[assignment]
        self.acts = [ACTS[a] for a in spec.activations]
        self.head = HEADS[(spec.output, state.task.loss)]
        self.out_act = OUT_ACTS[spec.output]
        self.task = state.task
        self.X, self.y = state.data.X["train"], state.data.y["train"]  # (n, in), targets
        self.kind = OPTIMIZERS[type(state.optimizer)]
        self.l1 = state.cfg.optim.l1
        self.clip = state.cfg.train.clip_grad_norm
        self.one = torch.ones(())  # the gradient backward() starts from
        self.grads = [torch.empty_like(p) for p in self.params]  # reused every step
        self.gWts = [gW.t() for gW in self.grads[0::2]]
        self.shapes = [(W.shape[0], W.shape[1]) for W in self.weights]
        self.bufs: dict[int, _Buffers] = {}
        n, bs = len(self.X), state.batch_size
        self.bs = bs
        self.shuffle = bs is not None and state.cfg.train.shuffle
        starts = range(0, n, bs) if bs is not None else range(1)
        self.sizes = [min(bs, n - i) for i in starts] if bs is not None else [n]
        if self.shuffle:  # the epoch's gathered rows: one buffer, sliced into batches
            self.Xe, self.ye = torch.empty_like(self.X), torch.empty_like(self.y)
            src = (self.Xe, self.ye)
        else:
            src = (self.X, self.y)
        self.batches = [(src[0][i:i + s], src[1][i:i + s])
                        for i, s in zip(starts, self.sizes, strict=True)]

    def _buffers(self, rows: int) -> _Buffers:
        buf = self.bufs.get(rows)
        if buf is None:
            buf = self.bufs[rows] = _Buffers(rows, self.shapes)
        return buf

    def forward(self, X: Tensor) -> tuple[Tensor, list[Tensor], list[Tensor]]:
        """(z, pre-activations h_i, each layer's input) for the rows ``X``.

        An activation whose backward needs only its output overwrites its pre-activation
        (``h_i`` is then ``a_i``)."""
        buf = self._buffers(len(X))
        a = X
        hs, ins = [], [a]
        last = len(self.Wts) - 1
        for i in range(last + 1):
            z = aten.addmm.out(self.biases[i], a, self.Wts[i], out=buf.h[i])  # (n, out_i)
            if i < last:
                act = self.acts[i]
                a = act.forward_(z) if act.forward_ is not None else act.forward(z)
                hs.append(z)
                ins.append(a)
        return z, hs, ins

    def loss(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """The batch loss exactly as the eager step computes it (with the L1 term)."""
        loss = self.task.batch_loss(self.out_act(z), self.y if y is None else y)
        return loss + self.l1 * l1_penalty(self.params) if self.l1 > 0 else loss

    def gradients(self, z: Tensor, hs: list[Tensor], ins: list[Tensor],
                  y: Tensor | None = None) -> list[Tensor]:
        """dLoss/dparam for [W1, b1, W2, b2, ...], as autograd's addmm backward computes it
        (into :attr:`grads`, which it returns)."""
        g = self.head(z, self.y if y is None else y, self.one)  # (n, out)
        gin = self._buffers(len(z)).gin
        grads, last = self.grads, len(self.weights) - 1
        for i in range(last, -1, -1):
            aten.mm.out(g.t(), ins[i], out=grads[2 * i])  # dW (out, in)
            aten.sum.IntList_out(g, [0], out=grads[2 * i + 1])  # db (out,)
            if i > 0:
                g = self.acts[i - 1].backward_(aten.mm.out(g, self.weights[i], out=gin[i]),
                                               hs[i - 1], ins[i])
        if self.l1 > 0:  # + l1 * sgn(W), the penalty's gradient (weights only)
            torch._foreach_add_(grads[0::2], torch._foreach_sign(self.weights), alpha=self.l1)
        if self.clip is not None:  # as nn.utils.clip_grad_norm_ (foreach on the CPU)
            total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads, 2.0)), 2.0)
            torch._foreach_mul_(grads, torch.clamp(self.clip / (total + 1e-6), max=1.0))
        return grads

    def update(self, grads: list[Tensor], group: dict[str, Any], st: dict[str, Any]) -> None:
        """torch.optim's foreach CPU step, one ``_foreach`` call per line of it (``grads`` are
        this runner's buffers: weight decay is added into them in place)."""
        params, lr, wd = self.params, group["lr"], group["weight_decay"]
        if self.kind == "sgd":
            if wd != 0:
                torch._foreach_add_(grads, params, alpha=wd)
            mom = group["momentum"]
            if mom != 0:
                if st["bufs"] is None:  # first step: the buffer is a copy of the gradient
                    st["bufs"] = [g.clone() for g in grads]
                else:
                    torch._foreach_mul_(st["bufs"], mom)
                    torch._foreach_add_(st["bufs"], grads, alpha=1)
                grads = list(torch._foreach_add(grads, st["bufs"], alpha=mom)) \
                    if group["nesterov"] else st["bufs"]
            torch._foreach_add_(params, grads, alpha=-lr)
            return
        torch._foreach_add_(st["steps"], 1)
        st["t"] += 1
        if wd != 0:
            if self.kind == "adamw":
                torch._foreach_mul_(params, 1 - lr * wd)
            else:
                torch._foreach_add_(grads, params, alpha=wd)
        b1, b2 = group["betas"]
        torch._foreach_lerp_(st["m"], grads, 1 - b1)
        torch._foreach_mul_(st["v"], b2)
        torch._foreach_addcmul_(st["v"], grads, grads, value=1 - b2)
        step = float(st["t"])
        step_size = lr / (1 - b1 ** step)
        denom = torch._foreach_sqrt(st["v"])
        torch._foreach_div_(denom, (1 - b2 ** step) ** 0.5)
        torch._foreach_add_(denom, group["eps"])
        torch._foreach_addcdiv_(params, st["m"], denom, value=-step_size)

    def _opt_state(self, opt: torch.optim.Optimizer) -> dict[str, Any]:
        """The optimizer's state tensors (created as torch creates them on first step)."""
        ps = list(opt.param_groups[0]["params"])
        if self.kind == "sgd":
            bufs = [opt.state[p].get("momentum_buffer") for p in ps]
            return {"bufs": None if any(b is None for b in bufs) else bufs}
        for p in ps:
            s = opt.state[p]
            if "step" not in s:
                s["step"] = torch.tensor(0.0)
                s["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                s["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return {"steps": [opt.state[p]["step"] for p in ps],
                "t": int(opt.state[ps[0]]["step"]),
                "m": [opt.state[p]["exp_avg"] for p in ps],
                "v": [opt.state[p]["exp_avg_sq"] for p in ps]}

    def _save_state(self, opt: torch.optim.Optimizer, st: dict[str, Any]) -> None:
        if self.kind == "sgd" and st["bufs"] is not None and opt.param_groups[0]["momentum"]:
            for p, b in zip(opt.param_groups[0]["params"], st["bufs"], strict=True):
                opt.state[p]["momentum_buffer"] = b

    def _epoch_batches(self, gen: torch.Generator) -> list[tuple[Tensor, Tensor]]:
        """This epoch's batches, drawing the eager runner's permutation from ``gen``."""
        if self.shuffle:
            perm = torch.randperm(len(self.X), generator=gen, device=gen.device)
            aten.index_select.out(self.X, 0, perm, out=self.Xe)
            aten.index_select.out(self.y, 0, perm, out=self.ye)
        return self.batches

    def __call__(self, state: TrainState, n_epochs: int) -> None:
        opt = state.optimizer
        group = opt.param_groups[0]
        st = self._opt_state(opt)
        # update() reads lr, betas and momentum afresh every step (schedules change them);
        # plateau steps in fit
        name = state.cfg.schedule.name
        sched = state.scheduler
        per_batch = sched if sched is not None and name in registry.STEP_PER_BATCH else None
        per_epoch = sched if sched is not None and name in registry.STEP_PER_EPOCH else None
        if per_batch is not None or per_epoch is not None:
            opt._opt_called = True  # type: ignore[attr-defined]  # tells torch: stepped here
        n = len(self.X)
        try:
            with torch.no_grad():
                for k in range(n_epochs):
                    losses: list[Tensor] | None = [] if k == n_epochs - 1 else None
                    for xb, yb in self._epoch_batches(state.generator):
                        z, hs, ins = self.forward(xb)
                        if losses is not None:  # the loss is read at segment ends only
                            losses.append(self.loss(z, yb))
                        self.update(self.gradients(z, hs, ins, yb), group, st)
                        if per_batch is not None:
                            per_batch.step()
                    if losses is not None:
                        state.last_loss = epoch_loss(losses, self.sizes, n)
                    if per_epoch is not None:
                        per_epoch.step()
                    state.epoch += 1
        finally:  # also after Ctrl-C: the optimizer keeps the state of the epochs run
            self._save_state(opt, st)


__all__ = ["ACTS", "HEADS", "OPTIMIZERS", "FastRunner", "why_not_fused"]
