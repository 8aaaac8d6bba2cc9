"""``solver='lbfgs'``: scikit-learn's full-batch L-BFGS on :class:`torch.optim.LBFGS`.

scikit-learn minimises ``loss(W) + alpha / (2 * n) * ||W||^2`` over all rows with scipy's
L-BFGS-B (``maxiter=max_iter``, ``maxfun=max_fun``, ``gtol=tol``). Here torch's L-BFGS with a
strong-Wolfe line search minimises the same objective, one iteration per ``step`` call so that
each iteration's loss goes to ``loss_curve_`` (and to the ``verbose`` line), function
evaluations are counted against ``max_fun`` and the stopping rules are scipy's:

- the largest absolute gradient entry is at most ``tol`` (scipy's ``gtol``);
- the objective no longer changes (torch's ``tolerance_change``);
- ``max_iter`` iterations or ``max_fun`` evaluations: a :class:`ConvergenceWarning`.

Each ``step`` call starts by evaluating the objective at the current weights, which the last
line search has already evaluated: :class:`_Objective` answers that call from its cache, so an
iteration costs what it costs inside one long ``step`` call.

Example
-------
>>> from mlplab.models import MLP, ModelSpec
>>> from mlplab.tasks import resolve_task
>>> task = resolve_task("regression", n_classes=1, n_targets=1, loss="mse", output="logits")
>>> model = MLP(ModelSpec(in_features=2, n_outputs=1, hidden=[8], activations=["tanh"]))
>>> X = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
>>> y = X[:, :1] - 2 * X[:, 1:]
>>> res = fit(model, task, X, y, None, LbfgsSettings(max_iter=200, max_fun=15000, tol=1e-6,
...                                                  alpha=0.0, scale=0.5))
>>> res.losses[-1] < 1e-3 < res.losses[0], res.n_iter <= 200
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import scipy.sparse as sp
import torch
from torch import nn

from mlplab.sklearn.sparse import CsrRows, csr_forward
from mlplab.tasks import TaskSpec

# torch's default stopping tolerance on changes of the objective and of the weights
TOLERANCE_CHANGE = 1e-9
HISTORY = 10  # scipy's L-BFGS-B default memory (maxcor)


@dataclass(frozen=True)
class LbfgsSettings:
    """The estimator's parameters that L-BFGS reads.

    ``scale`` turns torch's mean loss into scikit-learn's (its sum over outputs, halved for
    squared error: :func:`.params.loss_scale`); ``alpha`` is scikit-learn's L2 coefficient,
    divided here by the training rows' weight sum.
    """

    max_iter: int
    max_fun: int
    tol: float
    alpha: float
    scale: float
    verbose: bool = False


@dataclass
class LbfgsResult:
    """What a run did: one objective value per iteration (the weights after it), the number
    of iterations and evaluations, and whether it stopped on a limit (not converged)."""

    losses: list[float] = field(default_factory=list)
    n_iter: int = 0
    n_evals: int = 0
    limit: str | None = None  # "max_iter" / "max_fun" when that stopped it


class _Objective:
    """The closure torch's L-BFGS calls: loss + L2, gradients on the parameters.

    ``at_start`` marks the evaluation a ``step`` call opens with; it is answered from the
    cache when the weights equal those of an earlier evaluation (the accepted line-search
    point), so it is not counted as a function evaluation.
    """

    def __init__(self, model: nn.Module, task: TaskSpec, X: Any, y: torch.Tensor,
                 w: torch.Tensor | None, s: LbfgsSettings) -> None:
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.weights = [p for p in self.params if p.dim() > 1]  # L2 on weight matrices only
        self.forward: Callable[[Any], torch.Tensor] = \
            csr_forward(model) if isinstance(X, CsrRows) else model  # type: ignore[arg-type,assignment]
        self.X = X.take(None) if isinstance(X, CsrRows) else X
        self.task, self.y, self.w, self.s = task, y, w, s
        n = float(w.sum()) if w is not None else float(len(y))
        self.l2 = s.alpha / (2.0 * n)
        self.evals = 0
        self.at_start = False
        self.cache: list[tuple[list[torch.Tensor], torch.Tensor, list[torch.Tensor]]] = []

    def __call__(self) -> torch.Tensor:
        if self.at_start:
            self.at_start = False
            hit = self._cached()
            if hit is not None:
                return hit
        for p in self.params:
            p.grad = None
        out = self.forward(self.X)
        loss = self.s.scale * self.task.batch_loss(out, self.y, self.w)
        if self.l2 > 0:
            loss = loss + self.l2 * sum((W * W).sum() for W in self.weights)
        loss.backward()
        self.evals += 1
        self.cache = [*self.cache[-(HISTORY + 15):], (
            [p.detach().clone() for p in self.params], loss.detach(),
            [p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p)
             for p in self.params])]
        return loss.detach()

    def _cached(self) -> torch.Tensor | None:
        for values, loss, grads in reversed(self.cache):
            if all(torch.equal(v, p) for v, p in zip(values, self.params, strict=True)):
                for p, g in zip(self.params, grads, strict=True):
                    p.grad = g.clone()
                return loss
        return None


def fit(model: nn.Module, task: TaskSpec, X: Any, y: torch.Tensor, w: torch.Tensor | None,
        s: LbfgsSettings) -> LbfgsResult:
    """Minimise scikit-learn's objective over all rows of ``X`` (a tensor (n, d) or
    :class:`~.sparse.CsrRows`) from ``model``'s current weights; returns what happened.

    A non-finite objective stops the run (the caller reports it, as scikit-learn does after
    its solver).
    """
    objective = _Objective(model, task, X, y, w, s)
    opt = torch.optim.LBFGS(objective.params, lr=1.0, max_iter=1, max_eval=s.max_fun + 1,
                            tolerance_grad=s.tol, tolerance_change=TOLERANCE_CHANGE,
                            history_size=HISTORY, line_search_fn="strong_wolfe")
    res = LbfgsResult()
    state = opt.state[objective.params[0]]
    previous = None
    model.train()
    while True:
        if res.n_iter >= s.max_iter:
            res.limit = "max_iter"
            break
        if objective.evals >= s.max_fun:
            res.limit = "max_fun"
            break
        # the evaluations left for this iteration's line search (+1: the cached opening one)
        opt.param_groups[0]["max_eval"] = s.max_fun - objective.evals + 1
        objective.at_start = True
        before = state.get("n_iter", 0)
        opt.step(objective)
        if state.get("n_iter", 0) == before:  # torch found the gradient below tol: converged
            break
        res.n_iter += 1
        loss = float(objective())  # the accepted point's objective (from the cache)
        res.losses.append(loss)
        if s.verbose:
            print(f"Iteration {res.n_iter}, loss = {loss:.8f}")
        if not torch.isfinite(torch.tensor(loss)):
            break
        moved = state["d"].mul(state["t"]).abs().max() if state.get("d") is not None else 0.0
        if previous is not None and (abs(previous - loss) < TOLERANCE_CHANGE
                                     or moved <= TOLERANCE_CHANGE):
            break  # no progress left (torch's own checks inside a longer step call)
        previous = loss
    res.n_evals = objective.evals
    model.eval()
    return res


def is_sparse(X: Any) -> bool:
    """Whether ``X`` holds scipy rows (the first layer multiplies them sparsely)."""
    return isinstance(X, CsrRows) or sp.issparse(X)


__all__ = ["LbfgsResult", "LbfgsSettings", "fit"]
