"""The estimators' optimizer: ``cfg.optim``'s, with scikit-learn's L2 on the weight matrices
only, and torch's fused CPU kernel where the engine's fused runner will not train the run."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from mlplab import registry
from mlplab.config import RunConfig
from mlplab.models import MLP
from mlplab.tasks import TaskSpec
from mlplab.training.runners import support
from mlplab.training.runners.select import fused_takes

# torch optimizers with a fused CPU kernel (torch >= 2.4)
_FUSED = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD)


def build_optimizer(model: MLP, cfg: RunConfig, task: TaskSpec | None = None,
                    weighted: bool = False, sparse: bool = False) -> torch.optim.Optimizer:
    """``cfg.optim``'s optimizer with scikit-learn's L2: weight decay on the weight matrices
    only (biases and norm parameters in a second group without it).

    Its kernels: torch's foreach ones (the same bits as the engine's fused runner, which
    trains the run without autograd and ``torch.optim``'s per-step Python wherever it applies,
    and as ``train.fast='off'``'s plain eager steps); torch's fused CPU kernel only for runs
    that ``train.fast='auto'`` leaves to the eager runner (measured 0.40 -> 0.29 ms per Adam
    step of a 20-100-1 MLP). ``task``/``weighted``/``sparse`` say what the run trains (None: a
    run being restored, which keeps the kernel it was saved with; sparse rows train through
    :class:`~.sparse.SparseRunner`'s eager steps).
    """
    wd = registry.weight_decay(cfg.optim)
    mats = [p for p in model.parameters() if p.dim() > 1]
    rest = [p for p in model.parameters() if p.dim() <= 1]
    groups = [{"params": mats}, {"params": rest, "weight_decay": 0.0}] if wd > 0 and rest \
        else [{"params": list(model.parameters())}]
    opt = registry.OPTIMIZERS[cfg.optim.name](groups, cfg.optim)
    if type(opt) in _FUSED and all(p.device.type == "cpu" for p in model.parameters()) and \
            task is not None and cfg.train.fast == "auto" and \
            (sparse or not _fused_runner_takes(model, opt, task, cfg, weighted)):
        for group in opt.param_groups:
            group["foreach"], group["fused"] = False, True
    return opt


def _fused_runner_takes(model: MLP, opt: torch.optim.Optimizer, task: TaskSpec,
                        cfg: RunConfig, weighted: bool) -> bool:
    """Whether ``training.loop.fit`` will pick the fused runner for this run (its own rule:
    :func:`~mlplab.training.runners.select.fused_takes`)."""
    probe = SimpleNamespace(model=model, optimizer=opt, task=task)  # what the rule reads
    wanted = support.requested(cfg, weighted=weighted, mini_batch=True)
    return fused_takes(probe, wanted)  # type: ignore[arg-type]


__all__ = ["build_optimizer"]
