"""A learner's own module as code an export can hold: its class and what the class needs.

A learner's file is often their whole training script: it builds the model, trains it, saves
it, maybe calls ``mlplab.train(..., overwrite=True)``. An export must not run any of that, so
it copies no statement as it stands in the file: it takes the class (or builder function)
the run was built from, then, following the names its code uses, the other classes and
functions of the file it needs, the constants they read (assignments without calls) and the
imports that bind those names. Everything else is left out.

Example
-------
>>> text = '''
... import torch
... import mlplab
... from torch import nn, optim
... WIDTH = 8
...
... class Net(nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.fc = nn.Linear(2, WIDTH)
...     def forward(self, x):
...         return torch.relu(self.fc(x))
...
... model = Net()
... opt = optim.SGD(model.parameters(), lr=0.1)
... mlplab.train({}, model=model, overwrite=True)
... '''
>>> print(needed_source(text, "Net"))  # doctest: +NORMALIZE_WHITESPACE
import torch
from torch import nn
<BLANKLINE>
<BLANKLINE>
WIDTH = 8
<BLANKLINE>
<BLANKLINE>
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, WIDTH)
    def forward(self, x):
        return torch.relu(self.fc(x))
"""

from __future__ import annotations

import ast

from mlplab.errors import RunError

_DEFS = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _names_used(node: ast.AST) -> set[str]:
    """Every plain name ``node``'s code reads (``nn`` in ``nn.Linear``, bases, decorators)."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _is_constant(node: ast.stmt) -> bool:
    """A top-level assignment to plain names that calls nothing (``WIDTH = 8``,
    ``ACT = nn.ReLU``): safe to copy. ``model = Net()`` or ``run = train(...)`` are not."""
    if isinstance(node, ast.Assign):
        targets, value = node.targets, node.value
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        targets, value = [node.target], node.value
    else:
        return False
    return all(isinstance(t, ast.Name) for t in targets) and not any(
        isinstance(n, (ast.Call, ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr))
        for n in ast.walk(value))


def _bound(node: ast.stmt) -> list[str]:
    if isinstance(node, _DEFS):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def _first_line(node: ast.stmt) -> int:
    """Where a top-level statement starts, its decorators included."""
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def needed_source(text: str, name: str) -> str:
    """The source an export needs of a learner's file ``text`` to define ``name``: the imports
    that bind names it uses, then its constants, classes and functions, in file order."""
    tree = ast.parse(text)
    defs: dict[str, ast.stmt] = {}
    imports: dict[str, tuple[ast.stmt, ast.alias]] = {}  # bound name -> (import, its alias)
    for node in tree.body:
        if isinstance(node, (*_DEFS, ast.Assign, ast.AnnAssign)) and \
                (isinstance(node, _DEFS) or _is_constant(node)):
            for bound in _bound(node):
                defs[bound] = node
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                continue
            for alias in node.names:
                if alias.name != "*":
                    bound = alias.asname or alias.name.partition(".")[0] \
                        if isinstance(node, ast.Import) else alias.asname or alias.name
                    imports[bound] = (node, alias)
    if name not in defs or not isinstance(defs[name], _DEFS):
        raise RunError(f"'{name}' is not a class or function defined at the top of its file",
                       hint="define the module's class at the top level of a .py file")
    kept: list[ast.stmt] = []
    wanted: dict[int, list[ast.alias]] = {}  # id(import) -> its aliases the code uses
    todo, seen = [name], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        if current in defs and defs[current] not in kept:
            kept.append(defs[current])
            todo += sorted(_names_used(defs[current]) - seen)
        elif current in imports:
            node, alias = imports[current]
            wanted.setdefault(id(node), []).append(alias)
    head = []
    for node in tree.body:  # the imports in file order, each cut to the names used
        if id(node) in wanted and isinstance(node, (ast.Import, ast.ImportFrom)):
            aliases = [a for a in node.names if a in wanted[id(node)]]
            cut = ast.Import(names=aliases) if isinstance(node, ast.Import) else \
                ast.ImportFrom(module=node.module, names=aliases, level=node.level)
            head.append(ast.unparse(cut))
    lines = text.splitlines()
    body = ["\n".join(lines[_first_line(node) - 1:node.end_lineno])
            for node in tree.body if node in kept]
    return "\n".join(head) + ("\n\n\n" if head else "") + "\n\n\n".join(body)


__all__ = ["needed_source"]
