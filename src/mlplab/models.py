"""The MLP, built from a spec that is saved beside the weights and rebuilds it exactly.

Example
-------
>>> spec = ModelSpec(in_features=2, hidden=[4, 4], activations=["relu", "relu"], n_outputs=1)
>>> model = build_model(spec, seed=0)
>>> model(torch.zeros(3, 2)).shape
torch.Size([3, 1])
>>> sum(p.numel() for p in model.parameters())  # 2*4+4 + 4*4+4 + 4*1+1
37
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from mlplab import registry
from mlplab.registry import CROSSES, check_crosses


def add_crosses(x: torch.Tensor, crosses: list[str]) -> torch.Tensor:
    """``x`` (B, F) with one column per cross of its first two columns appended: (B, F + k).

    >>> add_crosses(torch.tensor([[2.0, 3.0]]), ["x1^2", "x1*x2"]).tolist()
    [[2.0, 3.0, 4.0, 6.0]]
    """
    if not crosses:
        return x
    a = x[:, 0]
    b = x[:, 1] if x.shape[1] > 1 else a
    return torch.cat([x, *(CROSSES[c][0](a, b)[:, None] for c in crosses)], dim=1)


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild an :class:`MLP` (stored in ``model.json``)."""

    in_features: int
    hidden: list[int]
    activations: list[str]  # one per hidden layer
    n_outputs: int
    output: str = "logits"  # logits | sigmoid | softmax
    dropout: float = 0.0
    batchnorm: bool = False
    init: str = "default"
    crosses: list[str] = field(default_factory=list)  # appended to the inputs (CROSSES)
    extra: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> ModelSpec:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)  # type: ignore[arg-type]


class MLP(nn.Module):
    """[crosses] -> Linear -> [BatchNorm] -> activation -> [Dropout], repeated; Linear -> output.

    No hidden layers gives logistic regression (with a sigmoid/softmax head or a logit loss)
    or linear regression. ``spec.crosses`` appends computed columns (``x1^2``, ``sin(x1)``, ...)
    of the first two inputs before the first layer, so they are part of the model (and of every
    export that traces it).
    """

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        check_crosses(spec.crosses, spec.in_features)
        self.spec = spec
        layers: list[nn.Module] = []
        width = spec.in_features + len(spec.crosses)
        for h, act in zip(spec.hidden, spec.activations, strict=True):
            layers.append(nn.Linear(width, h))
            if spec.batchnorm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(registry.ACTIVATIONS[act]())
            if spec.dropout > 0:
                layers.append(nn.Dropout(spec.dropout))
            width = h
        layers.append(nn.Linear(width, spec.n_outputs))
        head = registry.OUTPUTS[spec.output]
        if head is not None:
            layers.append(head())
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, in) -> (B, n_outputs)
        return self.net(add_crosses(x, self.spec.crosses))  # type: ignore[no-any-return]

    def linears(self) -> list[nn.Linear]:
        """The Linear layers in order (hidden layers, then the head)."""
        return [m for m in self.net if isinstance(m, nn.Linear)]

    def hidden_activations(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each hidden layer's output after its activation: a list of (B, h_i)."""
        outs: list[torch.Tensor] = []
        acts = tuple(type(registry.ACTIVATIONS[a]()) for a in set(self.spec.activations))
        x = add_crosses(x, self.spec.crosses)
        for m in self.net:
            x = m(x)
            if isinstance(m, acts) and len(outs) < len(self.spec.hidden):
                outs.append(x)
        return outs


def build_model(spec: ModelSpec, seed: int | None = None) -> MLP:
    """Build the MLP and apply the spec's init scheme.

    With ``seed`` the weights are repeatable and torch's global random state is left exactly
    as it was (the weights are drawn inside :func:`torch.random.fork_rng`); without it they
    are drawn from the global generator, as ``nn.Linear(...)`` in a plain script draws them.
    :func:`build_seeded` is the plain script's order: seed the global generator, then build.

    Example
    -------
    >>> before = torch.random.get_rng_state()
    >>> a = build_model(ModelSpec(2, [3], ["relu"], 1), seed=0)
    >>> torch.equal(torch.random.get_rng_state(), before)
    True
    """
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return build_model(spec)
    model = MLP(spec)
    init = registry.INITS[spec.init]
    if init is not None:
        acts = [*spec.activations, "identity"]
        for layer, act in zip(model.linears(), acts, strict=True):
            init(layer, act)
    return model


def build_seeded(spec: ModelSpec, seed: int) -> MLP:
    """``torch.manual_seed(seed)``, then :func:`build_model`: what a plain PyTorch script does,
    so the global generator is where the script's is when training starts (dropout draws
    from it next). Used by :func:`mlplab.train`, the playground and the estimators, which
    document that they seed torch's global generator.

    Example
    -------
    >>> spec = ModelSpec(2, [3], ["relu"], 1)
    >>> a, b = build_seeded(spec, 0), build_model(spec, seed=0)
    >>> all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    True
    """
    torch.manual_seed(seed)
    return build_model(spec)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> cuda if available, else mps, else cpu; other names are taken as given."""
    if name != "auto":
        dev = torch.device(name)
        if dev.type == "cuda" and not torch.cuda.is_available():
            from mlplab.errors import ConfigError
            raise ConfigError(f"device '{name}' is not available", hint="use --device cpu")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
