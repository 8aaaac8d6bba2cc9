"""The code's shape stays readable (issue 29): no function takes more than 15 parameters, except
the estimators' ``__init__``, which mirror scikit-learn's signatures."""

from __future__ import annotations

import ast
from pathlib import Path

import mlplab

MAX_PARAMS = 15
MIRRORS_SKLEARN = {("sklearn/estimator.py", "__init__")}


def _count(args: ast.arguments) -> int:
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    extra = (args.vararg is not None) + (args.kwarg is not None)
    return len(names) + extra - (1 if names[:1] in (["self"], ["cls"]) else 0)


def test_no_function_takes_more_than_15_parameters() -> None:
    root = Path(mlplab.__file__).parent
    wide = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and \
                    _count(node.args) > MAX_PARAMS and (rel, node.name) not in MIRRORS_SKLEARN:
                wide.append(f"{rel}:{node.lineno} {node.name} ({_count(node.args)})")
    assert wide == []


def test_the_counter_counts() -> None:
    """The check above can fail: a 16-parameter function is counted as 16, self excluded."""
    params = ", ".join(f"a{i}" for i in range(16))
    fn = ast.parse(f"def f(self, {params}): pass").body[0]
    assert isinstance(fn, ast.FunctionDef) and _count(fn.args) == 16
