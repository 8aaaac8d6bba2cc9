"""The few exception classes mlplab raises, all under one base.

User mistakes raise a subclass of :class:`MlplabError`; the CLI turns them into a one-line
``error: ...`` message and exit code 2. Each also subclasses the standard exception other
tools expect (``ValueError``, scikit-learn's ``NotFittedError``), so ``except ValueError`` still
catches them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from functools import cache
from typing import Any


def user_message(what: str, *, expected: str | None = None, found: str | None = None,
                 hint: str | None = None) -> str:
    """Join the parts of a user-facing message into one line.

    Example
    -------
    >>> user_message("bad lr", expected="a number > 0", found="'abc'", hint="try --lr 0.01")
    "bad lr: expected a number > 0, found 'abc' (hint: try --lr 0.01)"
    """
    parts = [what]
    if expected is not None and found is not None:
        parts.append(f": expected {expected}, found {found}")
    elif expected is not None:
        parts.append(f": expected {expected}")
    elif found is not None:
        parts.append(f": found {found}")
    msg = "".join(parts)
    if hint:
        msg += f" (hint: {hint})"
    return " ".join(msg.split())  # one line, whatever the parts held


def did_you_mean(name: str, choices: Iterable[str]) -> str | None:
    """Return ``"did you mean 'x'?"`` for the closest choice, or ``None``.

    Example
    -------
    >>> did_you_mean("rellu", ["relu", "tanh"])
    "did you mean 'relu'?"
    """
    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


class MlplabError(Exception):
    """Base class of every error mlplab raises on purpose."""

    def __init__(self, what: str, *, expected: str | None = None, found: str | None = None,
                 hint: str | None = None) -> None:
        super().__init__(user_message(what, expected=expected, found=found, hint=hint))


class ConfigError(MlplabError, ValueError):
    """A configuration value, flag or option name is wrong."""


class DataError(MlplabError, ValueError):
    """Input data cannot be used: missing file, bad column, wrong values."""


class RunError(MlplabError, ValueError):
    """A run directory is missing, incomplete, or not an mlplab run."""


class TrainingError(MlplabError, RuntimeError):
    """Training could not go on, e.g. the loss became NaN or infinite."""


class MlplabWarning(UserWarning):
    """A setting that works but is probably not what the user meant."""


@cache
def _not_fitted_error() -> type:
    # scikit-learn costs ~1.5 s to import, so the class that must subclass its NotFittedError
    # is made on first use, not when the CLI starts.
    from sklearn.exceptions import NotFittedError as SkNotFittedError

    return type("NotFittedError", (MlplabError, SkNotFittedError),
                {"__doc__": "An estimator was used before ``fit``.", "__module__": __name__})


def __getattr__(name: str) -> Any:
    if name == "NotFittedError":
        return _not_fitted_error()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
