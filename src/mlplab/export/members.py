"""An ensemble's ``train.py`` (``model.ensemble``, :mod:`mlplab.ensemble`): the network one
member has, and the step that trains the other members after the first and averages them.
The saved model is the members side by side; the script trains them one by one in plain
PyTorch, each on its own validation rows and seed, as the stack did."""

from __future__ import annotations

import textwrap
from dataclasses import replace

from torch import nn

from mlplab.export.codegen import Source, Step
from mlplab.models import MLP


def members(src: Source) -> int:
    """How many members the run's model averages (``model.ensemble``; 1: one model)."""
    k = src.config.model.ensemble
    return k if isinstance(k, int) and isinstance(src.model, MLP) else 1


def member(src: Source) -> nn.Module:
    """The network one member has: the run's model itself, or for an ensemble (whose saved
    model is the members side by side, :func:`mlplab.ensemble.merge`) one member's shape."""
    k = members(src)
    if k == 1:
        return src.model
    assert isinstance(src.model, MLP)
    spec = src.model.spec
    return MLP(replace(spec, hidden=[h // k for h in spec.hidden]))


ENSEMBLE_HEAD = """ENSEMBLE = {k}  # model.ensemble: members, each stopping on its own validation
members = [model]  # member 0: the model trained above, on the run's own split
run_split = train_idx, val_idx, X_split, y_split
pool = np.concatenate([train_idx, val_idx])  # the rows members train and stop on
for k in range(1, ENSEMBLE):
    member_seed = (SEED + k) % 2**32
    train_pos, val_pos = take(np.arange(len(pool)), len(run_split[1]), member_seed,
                              None if strata is None else strata[pool])
    train_idx, val_idx = pool[np.sort(train_pos)], pool[np.sort(val_pos)]
    X_split = {{**X_split, "train": torch.as_tensor(X_all[train_idx]),
               "val": torch.as_tensor(X_all[val_idx])}}
    y_split = {{**y_split, "train": targets(y_all[train_idx]), "val": targets(y_all[val_idx])}}
    X_train, y_train = X_split["train"], y_split["train"]
    torch.manual_seed(member_seed)  # the member's own initial weights
    model = Net()
"""

ENSEMBLE_TAIL = """    members.append(model)
train_idx, val_idx, X_split, y_split = run_split  # the run's own split again, for the metrics
X_train, y_train = X_split["train"], y_split["train"]


class Average(nn.Module):
    \"\"\"The ensemble: the mean of its members' outputs (logits).\"\"\"

    def __init__(self, members):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x):
        return torch.stack([m(x) for m in self.members]).mean(0)


model = Average(members).eval()"""


def ensemble_step(k: int, init: str, setup: str, loop: str) -> Step:
    """The other members of an ensemble of ``k``, each trained as the first one was (its
    ``init``, ``setup`` and training ``loop`` code, with the member's seed), then averaged."""
    loop = loop.replace("manual_seed(SEED)", "manual_seed(member_seed)")
    body = "\n".join(filter(None, [init, setup, loop]))
    code = ENSEMBLE_HEAD.format(k=k) + textwrap.indent(body, "    ") + "\n" + ENSEMBLE_TAIL
    return Step("The other members", f"The run is an ensemble of {k} networks "
                "(model.ensemble). Each one after the first draws its validation rows again "
                "from the training and validation rows, starts from its own seed and trains "
                "like the first. The model is their average.", code)


# the save step's reload, for an ensemble: the average of fresh members
RELOAD = ("reloaded = Net()", "reloaded = Average([Net() for _ in range(ENSEMBLE)])")


__all__ = ["RELOAD", "ensemble_step", "member", "members"]
