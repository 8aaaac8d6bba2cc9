"""A low-overhead runner for tiny full-batch MLPs, bitwise equal to the eager step.

A 2-4-4-1 net on 100 points does well under a microsecond of arithmetic per epoch, yet the
tutorial loop (``zero_grad`` / autograd ``backward`` / ``optimizer.step``) costs ~170 µs: the
time goes to per-operator dispatch, autograd bookkeeping and the optimizer's Python. This
runner calls, for each epoch, the *same aten operators in the same order* as autograd and
``torch.optim``'s single-tensor code on the CPU: ``addmm`` forward, the loss's own backward
kernel (``binary_cross_entropy_backward``, ``nll_loss_backward`` + ``_log_softmax_backward_data``,
``mse_loss_backward``, ...), ``threshold_backward``-style activation kernels, ``g.t().mm(a)`` /
``g.sum(0)`` / ``g.mm(W)`` as autograd's ``addmm`` backward computes them, then the optimizer's
arithmetic as CPU ``_foreach_*`` calls (which loop over the very kernels the single-tensor
optimizer calls). What it saves is the bookkeeping, not the maths, so the weights it leaves
are ``torch.equal`` to the eager runner's after any number of epochs (tests/test_fastpath.py).
It mutates the model's own parameters and the optimizer's own state tensors, so checkpoints,
callbacks and resuming see exactly what the eager runner would leave behind.

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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from mlplab import registry
from mlplab.models import MLP, ModelSpec
from mlplab.training.runners import support
from mlplab.training.state import TrainState
from mlplab.training.step import l1_penalty

aten = torch.ops.aten  # called through their .default overloads: ~1.5 µs less per call
MEAN = 1  # aten's Reduction::Mean

# --- activations: the modules' forward and autograd's backward kernel ------------------------


@dataclass(frozen=True)
class Act:
    """``forward(h) -> a`` and ``backward(grad_a, h, a) -> grad_h`` (elementwise, any shape)."""

    forward: Callable[[Tensor], Tensor]
    backward: Callable[[Tensor, Tensor, Tensor], Tensor]


ACTS: dict[str, Act] = {
    "relu": Act(torch.relu, lambda g, h, a: aten.threshold_backward.default(g, a, 0)),
    "leaky_relu": Act(lambda h: F.leaky_relu(h, 0.01),
                      lambda g, h, a: aten.leaky_relu_backward.default(g, h, 0.01, False)),
    "tanh": Act(torch.tanh, lambda g, h, a: aten.tanh_backward.default(g, a)),
    "sigmoid": Act(torch.sigmoid, lambda g, h, a: aten.sigmoid_backward.default(g, a)),
    "gelu": Act(F.gelu, lambda g, h, a: aten.gelu_backward.default(g, h)),
    "silu": Act(F.silu, lambda g, h, a: aten.silu_backward.default(g, h)),
    "identity": Act(lambda h: h, lambda g, h, a: g),
}

# --- output activation + loss: dLoss/dz as autograd computes it -------------------------------


def _bce_logits(z: Tensor, y: Tensor, one: Tensor) -> Tensor:
    return (torch.sigmoid(z) - y) / z.numel()  # torch's formula for the mean reduction


def _bce_sigmoid(z: Tensor, y: Tensor, one: Tensor) -> Tensor:
    p = torch.sigmoid(z)
    g = aten.binary_cross_entropy_backward.default(one, p, y, None, MEAN)
    return aten.sigmoid_backward.default(g, p)


def _cross_entropy(z: Tensor, y: Tensor, one: Tensor) -> Tensor:
    logp = torch.log_softmax(z, 1)
    total = torch.tensor(float(len(y)))  # nll_loss's total weight: the row count
    g = aten.nll_loss_backward.default(one, logp, y, None, MEAN, -100, total)
    return aten._log_softmax_backward_data.default(g, logp, 1, z.dtype)


def _mse(z: Tensor, y: Tensor, one: Tensor) -> Tensor:
    return aten.mse_loss_backward.default(one, z, y, MEAN)


def _l1(z: Tensor, y: Tensor, one: Tensor) -> Tensor:
    return torch.sgn(z - y) * (1.0 / z.numel())  # mean's 1/N, then abs's sgn


# (output, loss) -> dLoss/dz for the last layer's pre-activation z, given a 0-dim ``one``
HEADS: dict[tuple[str, str], Callable[[Tensor, Tensor, Tensor], Tensor]] = {
    ("logits", "bce_logits"): _bce_logits,
    ("sigmoid", "bce"): _bce_sigmoid,
    ("logits", "cross_entropy"): _cross_entropy,
    ("logits", "mse"): _mse,
    ("logits", "l1"): _l1,
}
OUT_ACTS: dict[str, Callable[[Tensor], Tensor]] = {"logits": lambda z: z,
                                                   "sigmoid": torch.sigmoid}

# Optimizers this runner implements exactly (torch's single-tensor CPU arithmetic).
OPTIMIZERS = {torch.optim.SGD: "sgd", torch.optim.Adam: "adam", torch.optim.AdamW: "adamw"}


# --- when the fused runners apply ---------------------------------------------------------


def why_not_fused(state: TrainState) -> str | None:
    """None when the model/optimizer/device fit the fused runners, else what does not.

    Training options (mini-batches, schedules, sample weights, ...) are declared separately
    in :data:`.support.FUSED`.
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


class FastRunner:
    """Full-batch epochs of an MLP: autograd's and the optimizer's kernels, minus bookkeeping.

    Parameters live in the model (updated in place); optimizer state lives in
    ``optimizer.state`` (momentum buffers, Adam moments and steps), created on first use
    exactly as torch creates it.
    """

    name = "fast"
    supports = support.FUSED

    def __init__(self, state: TrainState) -> None:
        model = state.model
        self.params: list[Tensor] = list(model.parameters())  # [W1, b1, W2, b2, ...]
        self.weights = self.params[0::2]  # (out, in) each
        self.biases = self.params[1::2]
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

    def forward(self, Wts: list[Tensor]) -> tuple[Tensor, list[Tensor], list[Tensor]]:
        """(z, pre-activations h_i, each layer's input) for the whole split."""
        a = self.X
        hs, ins = [], [a]
        z = a
        last = len(Wts) - 1
        for i in range(last + 1):
            z = torch.addmm(self.biases[i], a, Wts[i])  # (n, out_i); Wts[i] = W_i.t(), a view
            if i < last:
                a = self.acts[i].forward(z)
                hs.append(z)
                ins.append(a)
        return z, hs, ins

    def loss(self, z: Tensor) -> Tensor:
        """The epoch's loss exactly as the eager step computes it (with the L1 term)."""
        loss = self.task.batch_loss(self.out_act(z), self.y)
        return loss + self.l1 * l1_penalty(self.params) if self.l1 > 0 else loss

    def gradients(self, z: Tensor, hs: list[Tensor], ins: list[Tensor]) -> list[Tensor]:
        """dLoss/dparam for [W1, b1, W2, b2, ...], as autograd's addmm backward computes it."""
        g = self.head(z, self.y, self.one)  # (n, out)
        last = len(self.weights) - 1
        grads: list[Tensor] = [g] * (2 * last + 2)
        for i in range(last, -1, -1):
            grads[2 * i] = g.t().mm(ins[i])  # dW (out, in)
            grads[2 * i + 1] = g.sum(0)  # db (out,)
            if i > 0:
                g = self.acts[i - 1].backward(g.mm(self.weights[i]), hs[i - 1], ins[i])
        if self.l1 > 0:  # + l1 * sgn(W), the penalty's gradient (weights only)
            torch._foreach_add_(grads[0::2], torch._foreach_sign(self.weights), alpha=self.l1)
        if self.clip is not None:  # as nn.utils.clip_grad_norm_ (foreach on the CPU)
            total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads, 2.0)), 2.0)
            torch._foreach_mul_(grads, torch.clamp(self.clip / (total + 1e-6), max=1.0))
        return grads

    def update(self, grads: list[Tensor], group: dict[str, Any], st: dict[str, Any]) -> None:
        """torch.optim's single-tensor step, one ``_foreach`` call per line of it."""
        params, lr, wd = self.params, group["lr"], group["weight_decay"]
        if self.kind == "sgd":
            if wd != 0:
                grads = list(torch._foreach_add(grads, params, alpha=wd))
            mom = group["momentum"]
            if mom != 0:
                if st["bufs"] is None:  # first step: the buffer is a copy of the gradient
                    st["bufs"] = [g.detach().clone() for g in grads]
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
                grads = list(torch._foreach_add(grads, params, alpha=wd))
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
        group = opt.param_groups[0]
        if self.kind == "sgd":
            bufs = [opt.state[p].get("momentum_buffer") for p in self.params]
            return {"bufs": None if any(b is None for b in bufs) else bufs}
        for p in self.params:
            s = opt.state[p]
            if "step" not in s:
                s["step"] = torch.tensor(0.0)
                s["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                s["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        del group
        return {"steps": [opt.state[p]["step"] for p in self.params],
                "t": int(opt.state[self.params[0]]["step"]),
                "m": [opt.state[p]["exp_avg"] for p in self.params],
                "v": [opt.state[p]["exp_avg_sq"] for p in self.params]}

    def _save_state(self, opt: torch.optim.Optimizer, st: dict[str, Any]) -> None:
        if self.kind == "sgd" and st["bufs"] is not None and opt.param_groups[0]["momentum"]:
            for p, b in zip(self.params, st["bufs"], strict=True):
                opt.state[p]["momentum_buffer"] = b

    def __call__(self, state: TrainState, n_epochs: int) -> None:
        opt = state.optimizer
        group = opt.param_groups[0]
        st = self._opt_state(opt)
        Wts = [W.t() for W in self.weights]  # (in, out) views: stay valid as W changes
        # one batch per epoch: per-batch and per-epoch schedules both step after the update
        # (plateau steps in fit); update() reads lr, betas and momentum afresh every epoch
        stepped = registry.STEP_PER_BATCH | registry.STEP_PER_EPOCH
        sched = state.scheduler if state.cfg.schedule.name in stepped else None
        if sched is not None:
            opt._opt_called = True  # type: ignore[attr-defined]  # tells torch: stepped here
        try:
            with torch.no_grad():
                for k in range(n_epochs):
                    z, hs, ins = self.forward(Wts)
                    if k == n_epochs - 1:  # the loss is read at segment ends only
                        state.last_loss = self.loss(z)
                    self.update(self.gradients(z, hs, ins), group, st)
                    if sched is not None:
                        sched.step()
                    state.epoch += 1
        finally:  # also after Ctrl-C: the optimizer keeps the state of the epochs run
            self._save_state(opt, st)


__all__ = ["ACTS", "HEADS", "OPTIMIZERS", "FastRunner", "why_not_fused"]
