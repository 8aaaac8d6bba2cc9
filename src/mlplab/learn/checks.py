"""The checks: each judges the learner's own objects (tensors, modules, functions) and returns
a :class:`Verdict` whose message is a catalog key (``learn.msg.*``) with its values.

A check never runs code from a file it was not passed, never changes what it was passed
(models are copied before a learner's training function touches them) and reads a model's
output kind with :func:`output_kind`. Accuracy comes from mlplab's own
:func:`~mlplab.inspect.helpers.evaluate`.

Example
-------
>>> import torch
>>> X = torch.randn(100, 2)
>>> CHECKS["disk_data"](X=X, y=(X.norm(dim=1) < 1).float().unsqueeze(1)).passed
True
>>> CHECKS["disk_data"](X=X, y=(X.norm(dim=1) < 1).float()).key
'labels_1d'
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from mlplab.inspect.helpers import evaluate
from mlplab.learn.probe import layer_shapes, output_kind

Check = Callable[..., "Verdict"]


@dataclass(frozen=True)
class Verdict:
    """Passed or not, why (``key`` under ``learn.msg.``, formatted with ``fmt``) and, where a
    picture helps, the ``(model, X, y)`` whose decision boundary to draw."""

    passed: bool
    key: str
    fmt: dict[str, Any] = field(default_factory=dict)
    draw: tuple[nn.Module, Any, Any] | None = field(default=None, repr=False)


def ok(key: str = "ok", **fmt: Any) -> Verdict:
    return Verdict(True, key, fmt)


def fail(key: str, **fmt: Any) -> Verdict:
    return Verdict(False, key, fmt)


def _shape(t: Any) -> str:
    return str(tuple(t.shape)) if isinstance(t, torch.Tensor) else type(t).__name__


def _tensor(t: Any, name: str) -> Verdict | None:
    return None if isinstance(t, torch.Tensor) else fail("not_tensor", name=name,
                                                         found=type(t).__name__)


def _module(model: Any) -> Verdict | None:
    return None if isinstance(model, nn.Module) else fail("not_module",
                                                          found=type(model).__name__)


def _layers(model: nn.Module, expected: list[tuple[int, int]]) -> Verdict | None:
    found = layer_shapes(model)
    if found == expected:
        return None
    return fail("layers", expected=_chain(expected), found=_chain(found))


def _chain(shapes: list[tuple[int, int]]) -> str:
    """Layer shapes as the tutorials write them: [(2, 4), (4, 1)] -> '2-4-1'."""
    return "-".join([str(shapes[0][0]), *(str(o) for _, o in shapes)]) if shapes else "none"


def _accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    return float(evaluate(model, X, y)["accuracy"])


# --- tutorial 000: points in the unit circle --------------------------------------------------

def disk_data(*, X: Any, y: Any) -> Verdict:
    """100 ``randn`` points (100, 2) float32 and labels (100, 1) float32, 1 inside the circle."""
    bad = _tensor(X, "X") or _tensor(y, "y")
    if bad:
        return bad
    if tuple(X.shape) != (100, 2):
        return fail("shape", name="X", expected="(100, 2)", found=_shape(X))
    if X.dtype != torch.float32:
        return fail("dtype", name="X", expected="torch.float32", found=str(X.dtype))
    if y.ndim == 1 and len(y) == len(X):
        return fail("labels_1d", n=len(X))
    if tuple(y.shape) != (100, 1):
        return fail("shape", name="y", expected="(100, 1)", found=_shape(y))
    if not y.dtype.is_floating_point:
        return fail("labels_dtype", found=str(y.dtype))
    rule = (X.detach().double().pow(2).sum(dim=1) < 1).to(y.dtype).unsqueeze(1)
    wrong = int((y.detach() != rule).sum())
    if wrong:
        return fail("label_rule", wrong=wrong, n=len(X))
    return ok("data_ok", inside=int(rule.sum()), n=len(X))


def disk_network(*, model: Any) -> Verdict:
    """A 2-4-4-1 network whose output is a probability (sigmoid), for ``BCELoss``."""
    bad = _module(model) or _layers(model, [(2, 4), (4, 4), (4, 1)])
    if bad:
        return bad
    probe = output_kind(model, torch.randn(256, 2, generator=torch.Generator().manual_seed(0)))
    if probe.kind != "sigmoid":
        return fail("want_sigmoid", kind=probe.kind)
    return ok("network_ok", layers="2-4-4-1")


def disk_fit(*, model: Any) -> Verdict:
    """The trained network scores >= 0.9 on 1,000 fresh points it never saw."""
    bad = _module(model)
    if bad:
        return bad
    X = torch.randn(1000, 2, generator=torch.Generator().manual_seed(1))
    y = (X.pow(2).sum(dim=1) < 1).long()
    acc = _accuracy(model, X, y)
    v = ok("fit_ok", acc=acc) if acc >= 0.9 else fail("fit_low", acc=acc, want=0.9)
    return Verdict(v.passed, v.key, v.fmt, draw=(model, X, y))


# --- tutorial 001: SimpleNet and one training step ---------------------------------------------

def simple_net(*, model: Any) -> Verdict:
    """A 2-10-1 net that outputs logits, as ``BCEWithLogitsLoss`` expects."""
    return _logits_net(model, [(2, 10), (10, 1)], mistake=("sigmoid", "sigmoid_with_logits_loss"))


def _logits_net(model: Any, layers: list[tuple[int, int]], *,
                mistake: tuple[str, str]) -> Verdict:
    """``model`` has these Linear ``layers`` and outputs logits; ``mistake`` is the output kind
    a learner typically ends with instead, and the message that explains it."""
    bad = _module(model) or _layers(model, layers)
    if bad:
        return bad
    probe = output_kind(model, torch.randn(256, 2, generator=torch.Generator().manual_seed(0)))
    if probe.kind == mistake[0]:
        return fail(mistake[1])
    if probe.kind != "logits":
        return fail("want_logits", kind=probe.kind)
    return ok("network_ok", layers="-".join([str(layers[0][0])] + [str(o) for _, o in layers]))


class _Recorder(torch.optim.SGD):
    """SGD with a zero learning rate that keeps the gradients it sees at each ``step``: the
    model stays as it was, so a correct training step sees the same gradient every time."""

    def __init__(self, params: Any) -> None:
        super().__init__(params, lr=0.0)
        self.seen: list[list[torch.Tensor]] = []

    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        self.seen.append([torch.zeros_like(p) if p.grad is None else p.grad.detach().clone()
                          for g in self.param_groups for p in g["params"]])
        return super().step(closure)


def _run_steps(train_step: Any, model: Any, X: Any, y: Any, *, times: int,
               scale: float = 1.0, fresh: bool = False) -> _Recorder | Verdict:
    """Call ``train_step(copy of model, recorder, X, y)`` ``times`` times on the same batch
    (``fresh``: the copy's layers newly initialised, so its gradients are not small)."""
    bad = _module(model) or _tensor(X, "X") or _tensor(y, "y")
    if bad:
        return bad
    if not callable(train_step):
        return fail("not_callable", name="train_step", found=type(train_step).__name__)
    net = copy.deepcopy(model)  # the learner's model is left as it is
    net.zero_grad(set_to_none=True)
    if fresh:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            for m in net.modules():
                if hasattr(m, "reset_parameters"):
                    m.reset_parameters()
    opt = _Recorder(net.parameters())
    Xb, yb = X.detach()[:64] * scale, y.detach()[:64]
    for _ in range(times):
        try:
            train_step(net, opt, Xb, yb)
        except Exception as e:  # the learner's code failed: say how, no traceback
            text = " ".join(str(e).split())[:300]
            if "target size" in text.lower() and yb.ndim == 1:
                return fail("labels_1d", n=len(yb))
            return fail("raised", error=f"{type(e).__name__}: {text}")
    if not opt.seen:
        return fail("no_step")
    return opt


def _norm(grads: list[torch.Tensor]) -> float:
    return float(torch.stack([(g.double() ** 2).sum() for g in grads]).sum().sqrt())


def zero_grad(*, train_step: Any, model: Any, X: Any, y: Any) -> Verdict:
    """``train_step(model, optimizer, X, y)`` clears old gradients before each backward pass:
    three calls on one batch (learning rate 0) see one gradient, not 2x and 3x it."""
    rec = _run_steps(train_step, model, X, y, times=3)
    if isinstance(rec, Verdict):
        return rec
    norms = [_norm(g) for g in rec.seen]
    if norms[0] == 0.0:
        return fail("no_gradient")
    if abs(norms[-1] / norms[0] - 1.0) > 1e-3:
        return fail("grad_accumulates", ratio=norms[-1] / norms[0], calls=len(norms))
    return ok("zero_grad_ok", calls=len(norms))


# --- tutorial 002: circles, linear then ReLU ---------------------------------------------------

def _circles(X: Any, y: Any) -> Verdict | None:
    """None if ``X, y`` look like make_circles' rings (class 1 the inner one)."""
    bad = _tensor(X, "X") or _tensor(y, "y")
    if bad:
        return bad
    if X.ndim != 2 or X.shape[1] != 2 or len(X) < 50:
        return fail("shape", name="X", expected="(n, 2) with n >= 50", found=_shape(X))
    if len(y) != len(X):
        return fail("lengths", n_x=len(X), n_y=len(y))
    labels = y.detach().reshape(len(y), -1)[:, 0]
    if not bool(((labels == 0) | (labels == 1)).all()) or labels.unique().numel() != 2:
        return fail("not_binary")
    r = X.detach().double().norm(dim=1)
    if not r[labels == 0].mean() > r[labels == 1].mean():
        return fail("not_circles")
    return None


def _nonlinear(model: nn.Module, X: torch.Tensor) -> bool:
    """Whether the model's (centred) logits bend: f((a+b)/2) differs from (f(a)+f(b))/2."""
    net = copy.deepcopy(model).eval()
    a, b = X.detach()[: len(X) // 2], X.detach()[len(X) // 2: 2 * (len(X) // 2)]
    with torch.no_grad():
        outs = [net(t.float()).double() for t in (a, b, (a + b) / 2)]
    kind = output_kind(model, X.detach()[:256].float()).kind
    to_logit = {"sigmoid": lambda p: torch.logit(p, eps=1e-12),
                "softmax": lambda p: p.clamp_min(1e-12).log(),
                "log_softmax": lambda p: p}.get(kind, lambda p: p)
    za, zb, zm = (to_logit(o) for o in outs)
    if za.shape[-1] > 1:
        za, zb, zm = (z - z.mean(dim=-1, keepdim=True) for z in (za, zb, zm))
    gap = (zm - (za + zb) / 2).abs().max()
    return bool(gap > 1e-4 * (1.0 + za.abs().max()))


def linear_fails(*, model: Any, X: Any, y: Any) -> Verdict:
    """A model with no activation (a straight boundary) scores under 0.6 on the test rings."""
    bad = _module(model) or _circles(X, y)
    if bad:
        return bad
    if _nonlinear(model, X):
        return fail("not_linear")
    acc = _accuracy(model, X, y)
    v = ok("linear_ok", acc=acc) if acc < 0.6 else fail("linear_high", acc=acc)
    return Verdict(v.passed, v.key, v.fmt, draw=(model, X, y))


def relu_fixes(*, model: Any, X: Any, y: Any) -> Verdict:
    """A model with ReLU between its layers scores above 0.85 on the test rings."""
    bad = _module(model) or _circles(X, y)
    if bad:
        return bad
    acc = _accuracy(model, X, y)
    if acc > 0.85:
        v = ok("relu_ok", acc=acc)
    elif not _nonlinear(model, X):
        v = fail("still_linear", acc=acc)
    else:
        v = fail("relu_low", acc=acc, want=0.85)
    return Verdict(v.passed, v.key, v.fmt, draw=(model, X, y))


# --- tutorial 003: kaiming init, StepLR, gradient clipping -------------------------------------

def kaiming(*, init: Any) -> Verdict:
    """``init`` (for ``model.apply``) gives each ``nn.Linear`` kaiming-normal weights for ReLU:
    standard deviation sqrt(2 / fan_in), normally distributed."""
    if not callable(init):
        return fail("not_callable", name="init", found=type(init).__name__)
    probe = nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 64))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        try:
            probe.apply(init)
        except Exception as e:
            return fail("raised", error=f"{type(e).__name__}: {' '.join(str(e).split())[:300]}")
    for layer in (m for m in probe if isinstance(m, nn.Linear)):
        w = layer.weight.detach().double()
        want = (2.0 / layer.in_features) ** 0.5
        std = float(w.std())
        if abs(std / want - 1.0) > 0.05:
            return fail("init_std", layer=f"Linear({layer.in_features}, {layer.out_features})",
                        std=std, want=want)
        if float(w.abs().max()) < 2.5 * std:  # a uniform init never reaches past sqrt(3) std
            return fail("init_uniform")
    return ok("kaiming_ok")


def steplr(*, scheduler: Any) -> Verdict:
    """A ``StepLR`` that divides the learning rate by 10 every 30 epochs."""
    if not isinstance(scheduler, torch.optim.lr_scheduler.StepLR):
        return fail("not_steplr", found=type(scheduler).__name__)
    if scheduler.step_size != 30 or abs(scheduler.gamma - 0.1) > 1e-12:
        return fail("steplr_args", step_size=scheduler.step_size, gamma=scheduler.gamma)
    return ok("steplr_ok", lr=scheduler.base_lrs[0])


CLIP_SCALES = (1.0, 3.0, 10.0, 30.0, 100.0)  # input scales tried, for large gradients


def clip(*, train_step: Any, model: Any, X: Any, y: Any) -> Verdict:
    """``train_step`` clips the gradient norm to 1.0 between ``backward`` and ``step``: over
    inputs scaled up to 100x (the model as given, and newly initialised) the optimizer never
    sees a norm above 1, and where the gradient is large it sees exactly 1."""
    norms = []
    for fresh in (False, True):
        for scale in CLIP_SCALES:
            rec = _run_steps(train_step, model, X, y, times=1, scale=scale, fresh=fresh)
            if isinstance(rec, Verdict):
                return rec
            norms.append(_norm(rec.seen[0]))
    if max(norms) == 0.0:
        return fail("no_gradient")
    if max(norms) > 1.0 + 1e-4:
        return fail("not_clipped", norm=max(norms))
    if not any(abs(n - 1.0) < 1e-3 for n in norms):
        return fail("clip_untested", norm=max(norms))
    return ok("clip_ok", norm=max(norms))


# --- tutorial 004: softmax twice, state_dict ---------------------------------------------------

def no_double_softmax(*, model: Any) -> Verdict:
    """A 2-5-5-2 net whose forward ends in logits, so CrossEntropyLoss applies the only softmax."""
    return _logits_net(model, [(2, 5), (5, 5), (5, 2)], mistake=("softmax", "double_softmax"))


def state_dict(*, model: Any, fresh: Any, path: Any = None) -> Verdict:
    """``fresh`` is another module holding ``model``'s saved weights: equal outputs; ``path``,
    if given, holds a state_dict (tensors only, loaded with ``weights_only=True``)."""
    bad = _module(model) or _module(fresh)
    if bad:
        return bad
    if fresh is model:
        return fail("same_object")
    if path is not None:
        try:
            saved = torch.load(path, weights_only=True)  # tensors only: no code from the file
        except FileNotFoundError:
            return fail("no_file", path=str(path))
        except Exception:
            return fail("not_state_dict", path=str(path))
        if not isinstance(saved, dict) or not all(isinstance(v, torch.Tensor)
                                                  for v in saved.values()):
            return fail("not_state_dict", path=str(path))
    if sorted(model.state_dict()) != sorted(fresh.state_dict()):
        return fail("other_architecture")
    x = torch.randn(64, layer_shapes(model)[0][0], generator=torch.Generator().manual_seed(0))
    nets = [copy.deepcopy(m).eval() for m in (model, fresh)]
    with torch.no_grad():
        a, b = (n(x) for n in nets)
    if not torch.equal(a, b):
        return fail("outputs_differ", diff=float((a - b).abs().max()))
    return ok("state_dict_ok")


CHECKS: dict[str, Check] = {
    "disk_data": disk_data, "disk_network": disk_network, "disk_fit": disk_fit,
    "simple_net": simple_net, "zero_grad": zero_grad,
    "linear_fails": linear_fails, "relu_fixes": relu_fixes,
    "kaiming": kaiming, "steplr": steplr, "clip": clip,
    "no_double_softmax": no_double_softmax, "state_dict": state_dict,
}

__all__ = ["CHECKS", "Verdict"]
