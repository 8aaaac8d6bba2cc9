"""The lessons: one table of steps per tutorial, as data.

A step names its task and hint (catalog keys, ``learn.*.json``), the check that judges the
learner's objects (a name in :data:`mlplab.learn.checks.CHECKS`), the objects the notebook
passes to it and a solution that passes. Texts live in the catalogs, code here; nothing in
this module imports torch, so ``mlplab learn`` lists lessons without it.

Example
-------
>>> [s.id for s in LESSONS["circles"].steps]
['linear_fails', 'relu_fixes']
>>> LESSONS["circles"].steps[0].task_key
'learn.circles.linear_fails.task'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlplab.errors import ConfigError, did_you_mean


@dataclass(frozen=True)
class Step:
    """One step of a lesson: ``id`` (unique in its lesson), the check's name in
    :data:`~mlplab.learn.checks.CHECKS`, the learner's objects as the notebook passes them
    (``args``) and a solution that passes."""

    lesson: str
    id: str
    check: str
    args: str  # e.g. "model=model, X=X_test, y=y_test"
    solution: str

    @property
    def task_key(self) -> str:
        return f"learn.{self.lesson}.{self.id}.task"

    @property
    def hint_key(self) -> str:
        return f"learn.{self.lesson}.{self.id}.hint"

    @property
    def title_key(self) -> str:
        return f"learn.{self.lesson}.{self.id}.title"


@dataclass(frozen=True)
class PlayStep:
    """A playground step: met when the live run satisfies every condition in ``when``
    (read by ``static/lesson.js``: ``dataset``, ``layers_max`` / ``layers_min``,
    ``activation``, ``no_crosses``, ``epochs_min``, ``test_max`` / ``test_min``)."""

    lesson: str
    id: str
    when: dict[str, Any]

    @property
    def task_key(self) -> str:
        return f"learn.play.{self.lesson}.{self.id}.task"

    @property
    def hint_key(self) -> str:
        return f"learn.play.{self.lesson}.{self.id}.hint"


@dataclass(frozen=True)
class Lesson:
    """A lesson: its tutorial, its notebook steps and (optionally) its playground steps."""

    id: str
    tutorial: str
    steps: tuple[Step, ...]
    play: tuple[PlayStep, ...] = field(default=())

    @property
    def title_key(self) -> str:
        return f"learn.{self.id}.title"

    @property
    def intro_key(self) -> str:
        return f"learn.{self.id}.intro"

    def step(self, n: int | str) -> Step:
        """Step ``n`` (1-based) or the step named ``n``."""
        if isinstance(n, int) and not isinstance(n, bool):
            if 1 <= n <= len(self.steps):
                return self.steps[n - 1]
            raise ConfigError(f"lesson '{self.id}' has no step {n}",
                              expected=f"1 to {len(self.steps)}")
        for s in self.steps:
            if s.id == n:
                return s
        raise ConfigError(f"lesson '{self.id}' has no step '{n}'",
                          expected="one of " + ", ".join(s.id for s in self.steps),
                          hint=did_you_mean(str(n), [s.id for s in self.steps]))


def _steps(lesson: str, *rows: tuple[str, str, str, str]) -> tuple[Step, ...]:
    return tuple(Step(lesson, id_, check, args, solution.strip("\n") + "\n")
                 for id_, check, args, solution in rows)


DISK = _steps(
    "disk",
    ("data", "disk_data", "X=X, y=y", """
import torch

torch.manual_seed(0)
X = torch.randn(100, 2)                                     # (100, 2) float32
y = (X[:, 0] ** 2 + X[:, 1] ** 2 < 1).float().unsqueeze(1)  # (100, 1): 1 inside the circle
"""),
    ("network", "disk_network", "model=model", """
from torch import nn


class SimpleNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(2, 4)
        self.fc2 = nn.Linear(4, 4)
        self.fc3 = nn.Linear(4, 1)

    def forward(self, x):
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return torch.sigmoid(self.fc3(x))  # a probability, for BCELoss


model = SimpleNN()
"""),
    ("fit", "disk_fit", "model=model", """
torch.manual_seed(0)
model = SimpleNN()
criterion = nn.BCELoss()
optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
for epoch in range(600):
    optimizer.zero_grad()
    loss = criterion(model(X), y)
    loss.backward()
    optimizer.step()
"""),
)

SIMPLE_NET = _steps(
    "simple-net",
    ("logits", "simple_net", "model=model", """
import torch
from torch import nn


class SimpleNet(nn.Module):
    def __init__(self, input_size=2, hidden_size=10, output_size=1):
        super().__init__()
        self.layer_1 = nn.Linear(input_size, hidden_size)
        self.relu = nn.ReLU()
        self.layer_2 = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        # logits: BCEWithLogitsLoss applies the sigmoid itself
        return self.layer_2(self.relu(self.layer_1(x)))


torch.manual_seed(0)
model = SimpleNet()
"""),
    ("train_step", "zero_grad", "train_step=train_step, model=model, X=X, y=y", """
def train_step(model, optimizer, X, y):
    optimizer.zero_grad()                          # forget the last step's gradients
    loss = nn.BCEWithLogitsLoss()(model(X), y)
    loss.backward()
    optimizer.step()
    return loss.item()


X = torch.randn(5, 2)
y = torch.randint(0, 2, (5, 1)).float()            # (5, 1) float, like the output
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
loss = train_step(model, optimizer, X, y)
"""),
)

CIRCLES = _steps(
    "circles",
    ("linear_fails", "linear_fails", "model=linear, X=X_test, y=y_test", """
import torch
from sklearn.datasets import make_circles
from sklearn.model_selection import train_test_split
from torch import nn

X_np, y_np = make_circles(1000, noise=0.03, random_state=42)
X = torch.tensor(X_np, dtype=torch.float32)
y = torch.tensor(y_np, dtype=torch.float32).unsqueeze(1)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)


def fit(model, epochs=1000, lr=0.01):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    for _ in range(epochs):
        optimizer.zero_grad()
        loss_fn(model(X_train), y_train).backward()
        optimizer.step()
    return model


torch.manual_seed(42)
linear = fit(nn.Sequential(nn.Linear(2, 5), nn.Linear(5, 1)))  # no activation: a straight line
"""),
    ("relu_fixes", "relu_fixes", "model=relu, X=X_test, y=y_test", """
torch.manual_seed(42)
relu = fit(nn.Sequential(nn.Linear(2, 10), nn.ReLU(),
                         nn.Linear(10, 10), nn.ReLU(),
                         nn.Linear(10, 1)))
"""),
)

MOONS_TIPS = _steps(
    "moons-tips",
    ("kaiming", "kaiming", "init=init_weights", """
import torch
from torch import nn


def init_weights(m):
    if isinstance(m, nn.Linear):
        nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        nn.init.zeros_(m.bias)


torch.manual_seed(0)
model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1), nn.Sigmoid())
model.apply(init_weights)
"""),
    ("steplr", "steplr", "scheduler=scheduler", """
optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)
"""),
    ("clip", "clip", "train_step=train_step, model=model, X=X, y=y", """
from sklearn.datasets import make_moons

X_np, y_np = make_moons(n_samples=200, noise=0.1, random_state=0)
X = torch.tensor(X_np, dtype=torch.float32)
y = torch.tensor(y_np, dtype=torch.float32).unsqueeze(1)


def train_step(model, optimizer, X, y):
    optimizer.zero_grad()
    loss = nn.BCELoss()(model(X), y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    optimizer.step()
    return loss.item()


for epoch in range(100):
    train_step(model, optimizer, X, y)
    scheduler.step()
"""),
)

GAUSSIANS = _steps(
    "gaussians",
    ("no_double_softmax", "no_double_softmax", "model=model", """
import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(
    nn.Linear(2, 5), nn.Sigmoid(),
    nn.Linear(5, 5), nn.Sigmoid(),
    nn.Linear(5, 2),                 # logits: CrossEntropyLoss applies the softmax itself
)
"""),
    ("state_dict", "state_dict", "model=model, fresh=fresh, path=path", """
path = "gaussians.pt"
torch.save(model.state_dict(), path)

fresh = nn.Sequential(nn.Linear(2, 5), nn.Sigmoid(), nn.Linear(5, 5), nn.Sigmoid(),
                      nn.Linear(5, 2))
fresh.load_state_dict(torch.load(path, weights_only=True))
"""),
)

# The playground's circles: first the linear model fails, then ReLU bends the boundary.
CIRCLES_PLAY = (
    PlayStep("circles", "linear", {"dataset": "circles", "layers_max": 0, "no_crosses": True,
                                   "epochs_min": 100, "test_max": 0.6}),
    PlayStep("circles", "relu", {"dataset": "circles", "layers_min": 1, "activation": "relu",
                                 "no_crosses": True, "epochs_min": 50, "test_min": 0.85}),
)

LESSONS: dict[str, Lesson] = {
    "disk": Lesson("disk", "000", DISK),
    "simple-net": Lesson("simple-net", "001", SIMPLE_NET),
    "circles": Lesson("circles", "002", CIRCLES, CIRCLES_PLAY),
    "moons-tips": Lesson("moons-tips", "003", MOONS_TIPS),
    "gaussians": Lesson("gaussians", "004", GAUSSIANS),
}


def get_lesson(name: str) -> Lesson:
    """The lesson called ``name``; a one-line error naming the lessons otherwise.

    >>> get_lesson("disk").tutorial
    '000'
    """
    if name not in LESSONS:
        raise ConfigError(f"unknown lesson '{name}'", expected="one of " + ", ".join(LESSONS),
                          hint=did_you_mean(name, LESSONS) or "run `mlplab learn` to list them")
    return LESSONS[name]


__all__ = ["LESSONS", "Lesson", "PlayStep", "Step", "get_lesson"]
