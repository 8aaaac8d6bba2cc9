"""A low-overhead runner for tiny full-batch MLPs, and the choice between it and eager.

A 2-4-4-1 net on 100 points does well under a microsecond of arithmetic per epoch, yet the
tutorial loop (``zero_grad`` / autograd ``backward`` / ``optimizer.step``) costs ~170 µs: the
time goes to per-operator dispatch, autograd bookkeeping and the optimizer's Python. The fast
runner writes the backward pass by hand (one ``addmm``/``mm`` per matrix, one ``*_backward``
kernel per activation, the output activation and loss folded into one gradient formula),
updates all parameters with one fused/foreach call, keeps everything on the device between
epochs (no ``.item()``), and runs a whole segment of epochs per call. It mutates the model's
own parameters and the optimizer's own state tensors, so checkpoints, callbacks and resuming
see exactly what the eager runner would leave behind.

Differences from autograd are rounding only, with one documented exception: for
``bce`` on a sigmoid output the gradient is ``sigmoid(z) - y`` (what autograd computes unless
``p(1-p)`` underflows below 1e-12, i.e. ``|z| > ~27``, where autograd's gradient is 0).

:func:`select_runner` picks this runner when it applies (an :class:`~mlplab.models.MLP`
without dropout or batch norm, full batch, CPU, no sample weights or schedule, a supported
activation, output/loss pair and optimizer, ``train.fast`` not ``"off"``), else the eager one.

Example
-------
>>> import mlplab
>>> run = mlplab.train({"data": {"source": "disk", "n_samples": 100},
...                     "model": {"hidden": [4, 4]}, "optim": {"name": "sgd", "lr": 0.1},
...                     "train": {"epochs": 200}}, save=False)
>>> run.info["runner"]
'fast'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor

if TYPE_CHECKING:
    from mlplab.models import ModelSpec
    from mlplab.training.loop import Runner, TrainState

aten = torch.ops.aten

# --- activations: forward and hand-written backward ---------------------------------------


@dataclass(frozen=True)
class Act:
    """``forward(h) -> a`` and ``backward(grad_a, h, a) -> grad_h`` (elementwise, any shape)."""

    forward: Callable[[Tensor], Tensor]
    backward: Callable[[Tensor, Tensor, Tensor], Tensor]


ACTS: dict[str, Act] = {
    "relu": Act(torch.relu, lambda g, h, a: aten.threshold_backward(g, a, 0)),
    "leaky_relu": Act(lambda h: F.leaky_relu(h, 0.01),
                      lambda g, h, a: aten.leaky_relu_backward(g, h, 0.01, False)),
    "tanh": Act(torch.tanh, lambda g, h, a: aten.tanh_backward(g, a)),
    "sigmoid": Act(torch.sigmoid, lambda g, h, a: aten.sigmoid_backward(g, a)),
    "gelu": Act(F.gelu, lambda g, h, a: aten.gelu_backward(g, h)),
    "silu": Act(F.silu, lambda g, h, a: aten.silu_backward(g, h)),
    "identity": Act(lambda h: h, lambda g, h, a: g),
}

# --- output activation + loss, as one gradient formula ------------------------------------


@dataclass(frozen=True)
class Head:
    """The last layer's output activation and the loss, folded together.

    ``prepare(y, scale)`` turns targets into what ``grad`` needs (done once per segment);
    ``grad(z, t, scale)`` is dLoss/dz for pre-activation outputs ``z``, already divided by
    the number of averaged terms (``scale = 1 / count``); ``value(z, y)`` is the unreduced
    loss (its mean is the loss).
    """

    prepare: Callable[[Tensor, float], Tensor]
    grad: Callable[[Tensor, Tensor, float], Tensor]
    value: Callable[[Tensor, Tensor], Tensor]
    per_row: bool = False  # the loss averages over rows only (cross-entropy), not elements


def _ce_value(z: Tensor, y: Tensor) -> Tensor:  # z (..., n, C), y (..., n) -> (..., n)
    return F.cross_entropy(z.reshape(-1, z.shape[-1]), y.reshape(-1),
                           reduction="none").reshape(y.shape)


def _onehot(y: Tensor, n_classes: int) -> Tensor:
    return F.one_hot(y, n_classes).to(torch.float32)


# Sigmoid + BCE and softmax + CE both give (p - y) / count: computed as one add of a
# pre-scaled negative target, ``(-y * scale) + p * scale``.
HEADS: dict[tuple[str, str], Head] = {
    ("logits", "bce_logits"): Head(
        lambda y, s: y * -s, lambda z, t, s: torch.add(t, torch.sigmoid(z), alpha=s),
        lambda z, y: F.binary_cross_entropy_with_logits(z, y, reduction="none")),
    ("sigmoid", "bce"): Head(
        lambda y, s: y * -s, lambda z, t, s: torch.add(t, torch.sigmoid(z), alpha=s),
        lambda z, y: F.binary_cross_entropy(torch.sigmoid(z), y, reduction="none")),
    ("logits", "cross_entropy"): Head(
        lambda y, s: y * -s, lambda z, t, s: torch.add(t, torch.softmax(z, -1), alpha=s),
        _ce_value, per_row=True),
    ("logits", "mse"): Head(
        lambda y, s: y * (-2 * s), lambda z, t, s: torch.add(t, z, alpha=2 * s),
        lambda z, y: (z - y) ** 2),
    ("logits", "l1"): Head(
        lambda y, s: y, lambda z, t, s: torch.sign(z - t).mul_(s),
        lambda z, y: (z - y).abs()),
}

# Optimizers this path implements exactly (same math as torch's single-tensor code).
OPTIMIZERS = {torch.optim.SGD: "sgd", torch.optim.Adam: "adam", torch.optim.AdamW: "adamw"}


def head_targets(head: Head, y: Tensor, n_outputs: int, scale: float) -> Tensor:
    """Targets in the form ``head.grad`` wants: one-hot for cross-entropy, pre-scaled."""
    t = _onehot(y, n_outputs) if head.per_row else y
    return head.prepare(t, scale)


# --- when the fast path applies -----------------------------------------------------------


def why_not_fast(state: TrainState) -> str | None:
    """None when the fast runner can run this state, else the reason it cannot."""
    from mlplab.models import MLP

    cfg, model, opt = state.cfg, state.model, state.optimizer
    spec = getattr(model, "spec", None)
    checks: list[tuple[bool, str]] = [
        (cfg.train.fast == "off", "train.fast is off"),
        (not isinstance(model, MLP) or spec is None, "not an mlplab MLP"),
        (state.batch_size is not None, "mini-batch training"),
        (state.data.w is not None, "sample weights"),
        (state.scheduler is not None, "a learning-rate schedule"),
    ]
    for bad, why in checks:
        if bad:
            return why
    assert spec is not None
    if spec.dropout > 0 or spec.batchnorm:
        return "dropout or batch norm"
    if any(a not in ACTS for a in spec.activations):
        return "an activation without a hand-written backward"
    if (spec.output, state.task.loss) not in HEADS:
        return f"output {spec.output!r} with loss {state.task.loss!r}"
    if any(p.device.type != "cpu" for p in model.parameters()):
        return "not on the CPU"
    if type(opt) not in OPTIMIZERS or len(opt.param_groups) != 1:
        return "an optimizer other than sgd/adam/adamw"
    group = opt.param_groups[0]
    if group.get("maximize") or group.get("amsgrad") or group.get("dampening", 0) != 0:
        return "maximize/amsgrad/dampening"
    if [id(p) for p in group["params"]] != [id(p) for p in model.parameters()]:
        return "the optimizer does not hold exactly the model's parameters"
    if any(not p.requires_grad for p in model.parameters()):
        return "frozen parameters"
    return None


def select_runner(state: TrainState) -> tuple[Runner, str]:
    """The runner for this training state and its name (recorded in the run's metrics).

    ``train.fast``: ``"auto"`` uses the fast runner where it applies, ``"off"`` never, and
    ``"on"`` also uses it where it applies (it never trains something it cannot do exactly).
    """
    from mlplab.training.loop import eager_runner
    from mlplab.training.runners.numpy import NP_ACTS, NUMPY_MAX_ROWS, NumpyRunner

    if why_not_fast(state) is None:
        spec: ModelSpec = state.model.spec  # type: ignore[assignment]
        if state.data.n_train <= NUMPY_MAX_ROWS and all(a in NP_ACTS for a in spec.activations):
            return NumpyRunner(state), "fast"
        return FastRunner(state), "fast"
    return eager_runner, "eager"


# --- the runner ---------------------------------------------------------------------------


class FastRunner:
    """Runs full-batch epochs of an MLP with a hand-written backward and fused updates.

    Parameters live in the model (updated in place); optimizer state lives in
    ``optimizer.state`` (momentum buffers, Adam moments and steps), created on first use
    exactly as torch would.
    """

    def __init__(self, state: TrainState) -> None:
        model = state.model
        self.params: list[Tensor] = list(model.parameters())  # [W1, b1, W2, b2, ...]
        self.weights = self.params[0::2]  # (out, in) each
        self.biases = self.params[1::2]
        spec: ModelSpec = model.spec  # type: ignore[assignment]
        self.acts = [ACTS[a] for a in spec.activations]
        self.head = HEADS[(spec.output, state.task.loss)]
        X, y = state.data.X["train"], state.data.y["train"]
        count = len(X) if self.head.per_row else len(X) * spec.n_outputs
        self.X = X  # (n, in)
        self.y = y
        self.scale = 1.0 / count  # the loss is a mean over `count` terms
        self.t = head_targets(self.head, y, spec.n_outputs, self.scale)
        self.kind = OPTIMIZERS[type(state.optimizer)]
        self.cfg = state.cfg

    # one epoch: returns the loss of this epoch's forward pass when asked (0-dim tensor)
    def _epoch(self, Wts: list[Tensor], lr: float, group: dict[str, Any], st: dict[str, Any],
               want_loss: bool) -> Tensor | None:
        Ws, bs, acts, last = self.weights, self.biases, self.acts, len(self.weights) - 1
        a = self.X
        hs, ins = [], [a]  # pre-activations h_i (n, h_i); each layer's input (n, in_i)
        z = a
        for i in range(last + 1):
            z = torch.addmm(bs[i], a, Wts[i])  # (n, out_i); Wts[i] is W_i.t(), a view
            if i < last:
                a = acts[i].forward(z)
                hs.append(z)
                ins.append(a)
        loss = self._loss(z) if want_loss else None
        g = self.head.grad(z, self.t, self.scale)  # dL/dz (n, out), already averaged
        grads: list[Tensor] = [g] * (2 * last + 2)
        for i in range(last, -1, -1):
            grads[2 * i] = g.t().mm(ins[i])  # dW (out, in)
            grads[2 * i + 1] = g.sum(0)  # db (out,)
            if i > 0:
                g = acts[i - 1].backward(g.mm(Ws[i]), hs[i - 1], ins[i])
        self._update(grads, lr, group, st)
        return loss

    def _loss(self, z: Tensor) -> Tensor:
        """The epoch's mean loss, with the L1 penalty as the eager loop adds it."""
        loss = self.head.value(z, self.y).mean()
        if self.cfg.optim.l1 > 0:
            loss = loss + self.cfg.optim.l1 * sum(W.abs().sum() for W in self.weights)
        return loss

    def _update(self, grads: list[Tensor], lr: float, group: dict[str, Any],
                st: dict[str, Any]) -> None:
        o = self.cfg.optim
        if o.l1 > 0:  # d/dW of l1 * sum|W| (weights only, as in train.l1_penalty)
            torch._foreach_add_(grads[0::2], torch._foreach_sign(self.weights), alpha=o.l1)
        clip = self.cfg.train.clip_grad_norm
        if clip is not None:  # as nn.utils.clip_grad_norm_ (foreach, no host sync)
            total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
            torch._foreach_mul_(grads, (clip / (total + 1e-6)).clamp_(max=1.0))
        wd = group["weight_decay"]
        if self.kind == "sgd":
            mom = group["momentum"]
            if mom == 0:
                if wd:
                    grads = list(torch._foreach_add(grads, self.params, alpha=wd))
                torch._foreach_add_(self.params, grads, alpha=-lr)
                return
            torch._fused_sgd_(self.params, grads, st["bufs"], weight_decay=wd, momentum=mom,
                              lr=lr, dampening=0.0, nesterov=group["nesterov"],
                              maximize=False, is_first_step=st["first"])
            st["first"] = False
            return
        if self.kind == "adamw" and wd:
            torch._foreach_mul_(self.params, 1.0 - lr * wd)
        b1, b2 = group["betas"]
        torch._foreach_add_(st["steps"], 1)
        torch._fused_adam_(self.params, grads, st["m"], st["v"], [], st["steps"], lr=lr,
                           beta1=b1, beta2=b2, weight_decay=wd if self.kind == "adam" else 0.0,
                           eps=group["eps"], amsgrad=False, maximize=False)

    def _opt_state(self, opt: torch.optim.Optimizer) -> dict[str, Any]:
        """The optimizer's state tensors (created as torch creates them on first step)."""
        group = opt.param_groups[0]
        if self.kind == "sgd":
            if group["momentum"] == 0:
                return {}
            bufs = [opt.state[p].get("momentum_buffer") for p in self.params]
            first = any(b is None for b in bufs)
            if first:
                bufs = [torch.zeros_like(p) for p in self.params]
            return {"bufs": bufs, "first": first}
        for p in self.params:
            s = opt.state[p]
            if "step" not in s:
                s["step"] = torch.tensor(0.0)
                s["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                s["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return {"steps": [opt.state[p]["step"] for p in self.params],
                "m": [opt.state[p]["exp_avg"] for p in self.params],
                "v": [opt.state[p]["exp_avg_sq"] for p in self.params]}

    def _save_state(self, opt: torch.optim.Optimizer, st: dict[str, Any]) -> None:
        if "bufs" in st and not st["first"]:
            for p, b in zip(self.params, st["bufs"], strict=True):
                opt.state[p]["momentum_buffer"] = b

    def __call__(self, state: TrainState, n_epochs: int) -> None:
        opt = state.optimizer
        group = opt.param_groups[0]
        lr = float(group["lr"])
        st = self._opt_state(opt)
        Wts = [W.t() for W in self.weights]  # (in, out) views: stay valid as W changes
        try:
            with torch.no_grad():
                for k in range(n_epochs):
                    loss = self._epoch(Wts, lr, group, st, want_loss=k == n_epochs - 1)
                    state.epoch += 1
                    if loss is not None:
                        state.last_loss = loss
        finally:  # also after Ctrl-C: the optimizer keeps the state of the epochs run
            self._save_state(opt, st)


__all__ = ["ACTS", "HEADS", "FastRunner", "select_runner", "why_not_fast"]
