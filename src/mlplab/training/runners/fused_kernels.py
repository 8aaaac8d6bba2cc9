"""The fused runners' kernels: autograd's and torch.optim's own aten operators, by hand.

Each entry calls the operator autograd (or torch.optim's foreach CPU code) calls for the same
maths, so a step built from them leaves bitwise the weights the eager step leaves
(tests/test_fastpath.py, tests/training/test_fused_minibatch.py). Activations come in two
forms: allocating (used by the stacked runner) and in place, writing into buffers the fused
runner preallocates (the same elementwise kernels through their ``out=`` / in-place overloads).
:func:`why_not_fused` says when a model, optimizer and task are within what these kernels
cover (it also probes the loss and activation modules against them).

Example
-------
>>> h = torch.tensor([-1.0, 2.0])
>>> g = torch.ones(2)
>>> ACTS["relu"].backward(g, h, torch.relu(h)).tolist()
[0.0, 1.0]
>>> ACTS["relu"].backward_(g.clone(), h, ACTS["relu"].forward_(h.clone())).tolist()
[0.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from mlplab import registry
from mlplab.models import MLP, ModelSpec
from mlplab.training.state import TrainState

aten = torch.ops.aten
MEAN = 1  # aten's Reduction::Mean


def _raw(overload: Any) -> Any:
    """An aten overload's C++ callable: skips ``OpOverload.__call__``'s Python frame (torch's
    own ``torch.*`` bindings are faster still and used wherever an operator has one)."""
    return getattr(overload, "_op", overload)


_threshold_bw = _raw(aten.threshold_backward.grad_input)
_leaky_bw = _raw(aten.leaky_relu_backward.grad_input)
_tanh_bw = _raw(aten.tanh_backward.grad_input)
_sigmoid_bw = _raw(aten.sigmoid_backward.grad_input)
_gelu_bw = _raw(aten.gelu_backward.grad_input)
_silu_bw = _raw(aten.silu_backward.grad_input)
_bce_bw = _raw(aten.binary_cross_entropy_backward.grad_input)
_mse_bw = _raw(aten.mse_loss_backward.grad_input)


Call = Callable[[], Any]  # one kernel call with its arguments bound


@dataclass(frozen=True)
class Act:
    """An activation as the module computes it and as autograd differentiates it.

    ``forward(h) -> a`` and ``backward(grad_a, h, a) -> grad_h`` allocate. The fused runner
    writes into its own buffers instead: ``forward_(h)`` overwrites ``h`` with ``a`` (only
    where the backward needs ``a`` alone, else None), ``forward_out(h, a)`` writes ``a``, and
    ``bind_backward(grad_a, h, a)`` is the call that overwrites ``grad_a`` with ``grad_h``.
    """

    forward: Callable[[Tensor], Tensor]
    backward: Callable[[Tensor, Tensor, Tensor], Tensor]
    forward_: Callable[[Tensor], Tensor] | None
    forward_out: Callable[[Tensor, Tensor], Tensor]
    bind_backward: Callable[[Tensor, Tensor, Tensor], Call]

    def backward_(self, g: Tensor, h: Tensor, a: Tensor) -> Tensor:
        """``grad_h`` written over ``g`` (returned)."""
        self.bind_backward(g, h, a)()
        return g


def _same(h: Tensor) -> Tensor:
    return h


def _grad_same(g: Tensor, h: Tensor, a: Tensor) -> Tensor:
    return g


def _copy(h: Tensor, out: Tensor) -> Tensor:
    return out.copy_(h)


def _nothing() -> None:
    return None


ACTS: dict[str, Act] = {
    "relu": Act(torch.relu, lambda g, h, a: aten.threshold_backward.default(g, a, 0),
                torch.relu_, lambda h, out: torch.clamp_min(h, 0, out=out),
                lambda g, h, a: partial(_threshold_bw, g, a, 0, grad_input=g)),
    "leaky_relu": Act(lambda h: F.leaky_relu(h, 0.01),
                      lambda g, h, a: aten.leaky_relu_backward.default(g, h, 0.01, False),
                      None, lambda h, out: torch._C._nn.leaky_relu(h, 0.01, out=out),
                      lambda g, h, a: partial(_leaky_bw, g, h, 0.01, False, grad_input=g)),
    "tanh": Act(torch.tanh, lambda g, h, a: aten.tanh_backward.default(g, a),
                torch.tanh_, lambda h, out: torch.tanh(h, out=out),
                lambda g, h, a: partial(_tanh_bw, g, a, grad_input=g)),
    "sigmoid": Act(torch.sigmoid, lambda g, h, a: aten.sigmoid_backward.default(g, a),
                   torch.sigmoid_, lambda h, out: torch.sigmoid(h, out=out),
                   lambda g, h, a: partial(_sigmoid_bw, g, a, grad_input=g)),
    "gelu": Act(F.gelu, lambda g, h, a: aten.gelu_backward.default(g, h), None,
                lambda h, out: torch._C._nn.gelu(h, out=out),  # type: ignore[call-arg]
                lambda g, h, a: partial(_gelu_bw, g, h, grad_input=g)),
    "silu": Act(F.silu, lambda g, h, a: aten.silu_backward.default(g, h), None,
                lambda h, out: torch._C._nn.silu(h, out=out),  # type: ignore[call-arg]
                lambda g, h, a: partial(_silu_bw, g, h, grad_input=g)),
    "identity": Act(_same, _grad_same, _same, _copy, lambda g, h, a: _nothing),
}

# --- output activation + loss: dLoss/dz as autograd computes it -------------------------------
# Each head binds the calls that write dLoss/dz for the last layer's pre-activation z into
# ``out`` (shaped like z), given a 0-dim ``one`` (the gradient backward() starts from) and a
# scratch tensor ``p`` shaped like z.


def _bce_logits(z: Tensor, y: Tensor, one: Tensor, p: Tensor, out: Tensor) -> list[Call]:
    return [partial(torch.sigmoid, z, out=out),  # (sigmoid(z) - y) / N: torch's formula
            partial(torch.sub, out, y, out=out),  # for the mean reduction
            partial(torch.div, out, z.numel(), out=out)]


def _bce_sigmoid(z: Tensor, y: Tensor, one: Tensor, p: Tensor, out: Tensor) -> list[Call]:
    return [partial(torch.sigmoid, z, out=p),
            partial(_bce_bw, one, p, y, None, MEAN, grad_input=out),
            partial(_sigmoid_bw, out, p, grad_input=out)]


def _ce_grad(z: Tensor, y: Tensor, one: Tensor, out: Tensor) -> None:
    logp = torch.log_softmax(z, 1)
    # nll_loss's total weight: the row count, in the logits' dtype as its forward makes it
    total = torch.tensor(float(len(y)), dtype=z.dtype)
    g = aten.nll_loss_backward.default(one, logp, y, None, MEAN, -100, total)
    out.copy_(aten._log_softmax_backward_data.default(g, logp, 1, z.dtype))


def _cross_entropy(z: Tensor, y: Tensor, one: Tensor, p: Tensor, out: Tensor) -> list[Call]:
    return [partial(_ce_grad, z, y, one, out)]


def _mse(z: Tensor, y: Tensor, one: Tensor, p: Tensor, out: Tensor) -> list[Call]:
    return [partial(_mse_bw, one, z, y, MEAN, grad_input=out)]


def _l1(z: Tensor, y: Tensor, one: Tensor, p: Tensor, out: Tensor) -> list[Call]:
    return [partial(torch.sub, z, y, out=out),  # sgn(z - y) * (1 / N): mean's 1/N, then
            partial(torch.sgn, out, out=out),  # abs's sgn
            partial(torch.mul, out, 1.0 / z.numel(), out=out)]


# (output, loss) -> the calls writing dLoss/dz
HEADS: dict[tuple[str, str], Callable[[Tensor, Tensor, Tensor, Tensor, Tensor], list[Call]]] = {
    ("logits", "bce_logits"): _bce_logits,
    ("sigmoid", "bce"): _bce_sigmoid,
    ("logits", "cross_entropy"): _cross_entropy,
    ("logits", "mse"): _mse,
    ("logits", "l1"): _l1,
}
OUT_ACTS: dict[str, Callable[[Tensor], Tensor]] = {"logits": _same, "sigmoid": torch.sigmoid}

# Parameter dtypes the fused runners train (every kernel is dtype-generic aten; each is
# proven bitwise against the eager step in both).
DTYPES = (torch.float32, torch.float64)

# Optimizers the fused runners implement exactly (torch's foreach / single-tensor CPU maths).
OPTIMIZERS = {torch.optim.SGD: "sgd", torch.optim.Adam: "adam", torch.optim.AdamW: "adamw"}

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
        (len({p.dtype for p in model.parameters()}) != 1 or
         next(model.parameters()).dtype not in DTYPES,
         "parameters not all float32 or all float64"),
        (type(opt) not in OPTIMIZERS or decays(opt, model) is None,
         f"optimizer {type(opt).__name__}"),
    ]
    why = next((w for bad, w in checks if bad), None)
    if why is not None:
        return why
    group = opt.param_groups[0]
    if group.get("maximize") or group.get("amsgrad") or group.get("dampening", 0) != 0 or \
            group.get("fused") or group.get("differentiable") or group.get("capturable") or \
            (type(opt) is torch.optim.Adam and group.get("decoupled_weight_decay")):
        return "optimizer options maximize/amsgrad/dampening/fused/capturable/decoupled"
    if any(not p.requires_grad for p in model.parameters()):
        return "frozen parameters"
    if not _kernels_match(state, spec):
        return "a loss or activation whose gradient is not the fused kernels'"
    return None


def decays(opt: torch.optim.Optimizer, model: torch.nn.Module) -> tuple[float, float] | None:
    """(weight decay of the weight matrices, of the biases) if the optimizer holds exactly the
    model's parameters: one group in the model's order, or the weights and the biases in two
    groups alike but for weight decay (the estimators' L2); else None. Decay is elementwise, so
    decaying the flat buffer's two regions apart is what torch computes group by group."""
    ps, gs = [id(p) for p in model.parameters()], opt.param_groups
    held = [[id(p) for p in g["params"]] for g in gs]
    if held == [ps]:
        return gs[0]["weight_decay"], gs[0]["weight_decay"]
    rest = [{k: v for k, v in g.items() if k not in ("params", "weight_decay")} for g in gs]
    if held == [ps[0::2], ps[1::2]] and rest[0] == rest[1]:
        return gs[0]["weight_decay"], gs[1]["weight_decay"]
    return None


def _kernels_match(state: TrainState, spec: ModelSpec) -> bool:
    """Probe, on a few random rows, that the model's activation modules and the task's loss
    give bitwise the values and gradients the fused kernels compute: a loss or activation
    changed elsewhere (a smoothing, an approximation) then trains eagerly, never wrongly."""
    gen = torch.Generator().manual_seed(0)
    dt = next(state.model.parameters()).dtype  # probed in the dtype the run trains in
    z = torch.randn(5, spec.n_outputs, generator=gen, dtype=dt)
    loss = state.task.loss
    y = torch.randint(spec.n_outputs, (5,), generator=gen) if loss == "cross_entropy" else \
        (torch.rand(5, spec.n_outputs, generator=gen) > 0.5).to(dt) if "bce" in loss else \
        torch.randn(5, spec.n_outputs, generator=gen, dtype=dt)
    zr = z.clone().requires_grad_()
    state.task.batch_loss(_output_module(spec)(zr), y).backward()
    out, p = torch.empty_like(z), torch.empty_like(z)
    with torch.no_grad():
        for call in HEADS[(spec.output, loss)](z, y, torch.ones((), dtype=dt), p, out):
            call()
    if zr.grad is None or not torch.equal(out, zr.grad):
        return False
    for name in set(spec.activations):
        h = torch.randn(7, 3, generator=gen, dtype=dt).requires_grad_()
        a = registry.ACTIVATIONS[name]()(h)
        g = torch.randn(7, 3, generator=gen, dtype=dt)
        a.backward(g)
        act = ACTS[name]
        with torch.no_grad():
            if h.grad is None or not (torch.equal(act.forward(h), a) and torch.equal(
                    act.backward_(g.clone(), h, act.forward(h)), h.grad)):
                return False
    return True


def _output_module(spec: ModelSpec) -> Callable[[Tensor], Tensor]:
    """The model's output module (as the MLP builds it), or the identity."""
    head = registry.OUTPUTS[spec.output]
    return head() if head is not None else OUT_ACTS["logits"]


__all__ = ["ACTS", "DTYPES", "HEADS", "MEAN", "OPTIMIZERS", "OUT_ACTS", "Act", "Call", "aten",
           "decays", "why_not_fused"]
