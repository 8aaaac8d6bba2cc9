"""The fused full-batch runner's NumPy kernel, for the tiniest nets (see :mod:`.fused`).

The same maths as :class:`mlplab.training.runners.fused.FastRunner` on flat float32 NumPy
buffers, but NumPy's kernels round differently from torch's: the weights agree with the eager
runner's to float rounding only, and rounding differences grow over long runs (issue 15: a
9,792-epoch SGD run can end elsewhere). So it is never chosen automatically, only with
``train.fast: on``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from mlplab.training.runners import support
from mlplab.training.runners.fused import FastRunner
from mlplab.training.state import TrainState

# --- the same epoch in NumPy, for the tiniest nets -----------------------------------------
# A NumPy ufunc on a 100 x 4 array costs ~0.7 µs against ~1.5-3 µs for a torch operator, and
# the epoch of a tiny net is nothing but such calls. Parameters, gradients and optimizer state
# live in flat float32 buffers during a segment (one vectorised update for all parameters)
# and are written back to the model and to ``optimizer.state`` at its end.

NP_ACTS: dict[str, tuple[Callable[[Any], Any], Callable[[Any, Any, Any], Any]]] = {
    "relu": (lambda h: np.maximum(h, 0), lambda g, h, a: g * (a > 0)),
    "leaky_relu": (lambda h: np.where(h > 0, h, h * np.float32(0.01)),
                   lambda g, h, a: g * np.where(h > 0, np.float32(1), np.float32(0.01))),
    "tanh": (np.tanh, lambda g, h, a: g * (1 - a * a)),
    "sigmoid": (lambda h: _expit(h), lambda g, h, a: g * a * (1 - a)),
    "identity": (lambda h: h, lambda g, h, a: g),
}
NUMPY_MAX_ROWS = 4096  # above this, MKL's matmuls (torch kernel) beat the lower overhead


def _expit(z: Any) -> Any:
    from scipy.special import expit

    return expit(z)


def _np_head_grad(loss: str, z: Any, t: Any, s: float) -> Any:
    """dLoss/dz in NumPy; ``t`` is the target prepared as for the torch heads."""
    if loss in ("bce_logits", "bce"):
        p = _expit(z)
    elif loss == "cross_entropy":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
    elif loss == "mse":
        return z * np.float32(2 * s) + t
    else:  # l1
        return np.sign(z - t) * np.float32(s)
    return p * np.float32(s) + t


class NumpyRunner(FastRunner):
    """:class:`FastRunner`'s epoch computed with NumPy on flat buffers (tiny nets only)."""

    name = "numpy"
    supports = support.NUMPY  # the learning rate stays fixed within a segment

    def __init__(self, state: TrainState) -> None:
        super().__init__(state)
        n_out = self.weights[-1].shape[0]
        per_row = state.task.loss == "cross_entropy"
        self.scale = 1.0 / (len(self.X) if per_row else len(self.X) * n_out)
        y = torch.nn.functional.one_hot(self.y, n_out).float() if per_row else self.y
        # targets pre-scaled for _np_head_grad: -y*s (sigmoid/softmax), -2y*s (mse), y (l1)
        self.t = {"mse": y * (-2 * self.scale), "l1": y}.get(state.task.loss, y * -self.scale)
        self.np_acts = [NP_ACTS[a] for a in state.model.spec.activations]  # type: ignore
        self.loss_name = state.task.loss
        shapes = [(W.shape[1], W.shape[0]) for W in self.weights]  # Wt (in, out)
        sizes = [i * o + o for i, o in shapes]
        self.total = sum(sizes)
        self.P = np.empty(self.total, np.float32)
        self.G = np.empty(self.total, np.float32)
        self.wmask = np.zeros(self.total, np.float32)  # 1 on weights (L1), 0 on biases
        self.Wt: list[Any] = []  # (in, out) views into P, per layer
        self.b: list[Any] = []
        self.gWt: list[Any] = []  # the same views into G
        self.gb: list[Any] = []
        off = 0
        for i, o in shapes:
            for buf, lst, n, shape in ((self.P, self.Wt, i * o, (i, o)),
                                       (self.G, self.gWt, i * o, (i, o))):
                lst.append(buf[off:off + n].reshape(shape))
            self.wmask[off:off + i * o] = 1
            off += i * o
            self.b.append(self.P[off:off + o])
            self.gb.append(self.G[off:off + o])
            off += o
        self.Xn = self.X.numpy()
        self.tn = self.t.numpy()

    def _flat(self, tensors: list[Tensor], out: Any) -> None:
        """Model-layout tensors [W (out,in), b, ...] -> flat buffer in (Wt, b) layout."""
        off = 0
        for W, b in zip(tensors[0::2], tensors[1::2], strict=True):
            n = W.numel()
            out[off:off + n].reshape(W.shape[1], W.shape[0])[:] = W.detach().numpy().T
            out[off + n:off + n + b.numel()] = b.detach().numpy()
            off += n + b.numel()

    def _unflat(self, flat: Any, tensors: list[Tensor]) -> None:
        off = 0
        for W, b in zip(tensors[0::2], tensors[1::2], strict=True):
            n = W.numel()
            W.detach().numpy()[:] = flat[off:off + n].reshape(W.shape[1], W.shape[0]).T
            b.detach().numpy()[:] = flat[off + n:off + n + b.numel()]
            off += n + b.numel()

    def _np_epoch(self, want_z: bool) -> Any:
        acts, last = self.np_acts, len(self.Wt) - 1
        a = self.Xn
        hs, ins = [], [a]
        z = a
        for i in range(last + 1):
            z = a @ self.Wt[i]
            z += self.b[i]
            if i < last:
                a = acts[i][0](z)
                hs.append(z)
                ins.append(a)
        g = _np_head_grad(self.loss_name, z, self.tn, self.scale)
        for i in range(last, -1, -1):
            np.matmul(ins[i].T, g, out=self.gWt[i])
            np.sum(g, axis=0, out=self.gb[i])
            if i > 0:
                g = acts[i - 1][1](g @ self.Wt[i].T, hs[i - 1], ins[i])
        return z if want_z else None

    def _np_update(self, lr: float, group: dict[str, Any], st: dict[str, Any]) -> None:
        P, G = self.P, self.G
        f32 = np.float32
        if self.l1 > 0:
            G += f32(self.l1) * np.sign(P) * self.wmask
        clip = self.clip
        if clip is not None:
            norm = float(np.sqrt(np.dot(G, G)))
            G *= f32(min(1.0, clip / (norm + 1e-6)))
        wd = group["weight_decay"]
        if self.kind == "sgd":
            if wd:
                G += f32(wd) * P
            mom = group["momentum"]
            if mom:
                B = st["B"]
                if st["first"]:
                    B[:] = G
                    st["first"] = False
                else:
                    B *= f32(mom)
                    B += G
                step = G + f32(mom) * B if group["nesterov"] else B
            else:
                step = G
            P -= f32(lr) * step
            return
        if self.kind == "adamw" and wd:
            P *= f32(1.0 - lr * wd)
        elif wd:
            G += f32(wd) * P
        b1, b2 = group["betas"]
        st["t"] += 1
        bc1, bc2 = 1 - b1 ** st["t"], math.sqrt(1 - b2 ** st["t"])
        M, V = st["M"], st["V"]
        M += (G - M) * f32(1 - b1)  # lerp, as torch
        V *= f32(b2)
        V += f32(1 - b2) * G * G
        P -= f32(lr / bc1) * M / (np.sqrt(V) / f32(bc2) + f32(group["eps"]))

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
                "m": [opt.state[p]["exp_avg"] for p in ps],
                "v": [opt.state[p]["exp_avg_sq"] for p in ps]}

    def _save_state(self, opt: torch.optim.Optimizer, st: dict[str, Any]) -> None:
        if st["bufs"] is not None and opt.param_groups[0]["momentum"]:
            for p, b in zip(opt.param_groups[0]["params"], st["bufs"], strict=True):
                opt.state[p]["momentum_buffer"] = b

    def __call__(self, state: TrainState, n_epochs: int) -> None:
        opt = state.optimizer
        group = opt.param_groups[0]
        st = self._opt_state(opt)
        nst: dict[str, Any] = {}
        if self.kind == "sgd" and group["momentum"]:
            nst["B"] = np.zeros(self.total, np.float32)
            nst["first"] = st["bufs"] is None
            if not nst["first"]:
                self._flat(st["bufs"], nst["B"])
        if "m" in st:
            nst["M"], nst["V"] = np.empty_like(self.P), np.empty_like(self.P)
            self._flat(st["m"], nst["M"])
            self._flat(st["v"], nst["V"])
            nst["t"] = int(st["steps"][0])
        self._flat(self.params, self.P)
        # a diverging run is reported by fit's NaN check, not by NumPy warnings
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            self._segment(state, n_epochs, group, st, nst)

    def _segment(self, state: TrainState, n_epochs: int, group: dict[str, Any],
                 st: dict[str, Any], nst: dict[str, Any]) -> None:
        lr = float(group["lr"])
        opt = state.optimizer
        try:
            for k in range(n_epochs):
                z = self._np_epoch(want_z=k == n_epochs - 1)
                if z is not None:
                    self._unflat(self.P, self.params)
                    with torch.no_grad():
                        state.last_loss = self.loss(torch.from_numpy(z.copy()))
                self._np_update(lr, group, nst)
                state.epoch += 1
        finally:  # write weights and optimizer state back (also after Ctrl-C)
            self._unflat(self.P, self.params)
            if "B" in nst and not nst["first"]:
                if st["bufs"] is None:
                    st["bufs"] = [torch.zeros_like(p) for p in self.params]
                self._unflat(nst["B"], st["bufs"])
                self._save_state(opt, st)
            if "M" in nst:
                self._unflat(nst["M"], st["m"])
                self._unflat(nst["V"], st["v"])
                for s_ in st["steps"]:
                    s_.fill_(float(nst["t"]))


__all__ = ["NP_ACTS", "NUMPY_MAX_ROWS", "NumpyRunner"]
