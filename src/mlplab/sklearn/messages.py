"""Messages in the estimators' words: the task layer's hints name ``mlplab train``'s flags
(``--loss``, ``--output``, ``--set data.scale_target``); an estimator user sets parameters
(``loss=``, a ``module=`` whose forward returns logits, a sigmoid, ...), so the estimators
rephrase them (:func:`resolve`, :func:`targets`) without changing the task layer's wording.

Example
-------
>>> print(estimator_words("(hint: use --loss bce_logits, or --output sigmoid with bce)",
...                       "classifier"))
(hint: use loss='bce_logits', or a module= whose forward ends in a sigmoid and loss='bce')
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import torch

from mlplab.errors import ConfigError, DataError, MlplabError, MlplabWarning
from mlplab.tasks import TaskSpec, resolve_task

# what a module's forward returns, for each ``--output`` choice (outputs.probe_output's kinds)
_OUTPUT_WORDS = {"logits": "a module= whose forward returns raw logits (as the built-in MLP)",
                 "sigmoid": "a module= whose forward ends in a sigmoid",
                 "softmax": "a module= whose forward ends in a softmax",
                 "log_softmax": "a module= whose forward ends in a log-softmax"}
# the regressor's names for mlplab's losses (its loss= takes scikit-learn's)
_REGRESSOR_LOSS = {"mse": "squared_error", "l1": "absolute_error", "poisson": "poisson"}

# (pattern, replacement) over the task layer's text, in order; a replacement is a function of
# the match and the estimator kind ("classifier" / "regressor")
_RULES: list[tuple[str, Any]] = [
    (r"mlplab train standardises regression targets: add --set data\.scale_target=false "
     r"\(or use --loss mse\)",
     lambda m, kind: "Poisson targets are counts or rates >= 0; for targets that go "
                     "negative use loss='squared_error'"),
    (r"choose --loss", lambda m, kind: "set loss="),
    (r"--loss (\w+)", lambda m, kind: f"loss='{_loss_name(m.group(1), kind)}'"),
    (r"--output (\w+) with (\w+)", lambda m, kind: f"{_OUTPUT_WORDS[m.group(1)]} and "
                                                  f"loss='{_loss_name(m.group(2), kind)}'"),
    (r"--output (\w+)", lambda m, kind: _OUTPUT_WORDS.get(m.group(1), m.group(0))),
    (r"--task multiclass", lambda m, kind: "a y with more than two classes"),
    (r"--task multilabel", lambda m, kind: "a 2-D 0/1 y (one column per label)"),
    (r"output '(\w+)'", lambda m, kind: f"the model's output '{m.group(1)}'"),
]


def _loss_name(loss: str, kind: str) -> str:
    return _REGRESSOR_LOSS.get(loss, loss) if kind == "regressor" else loss


def estimator_words(text: str, kind: str) -> str:
    """``text`` with the task layer's CLI flags replaced by the estimator's parameters."""
    for pattern, repl in _RULES:
        text = re.sub(pattern, lambda m, r=repl: r(m, kind), text)  # type: ignore[misc]
    return text


def _rephrased(e: MlplabError, kind: str) -> MlplabError:
    return type(e)(estimator_words(str(e), kind))  # the whole text as its message


def resolve(kind: str, task: str, **kwargs: Any) -> TaskSpec:
    """:func:`mlplab.tasks.resolve_task`, its errors and warnings in the estimator's words."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MlplabWarning)
        try:
            spec = resolve_task(task, **kwargs)
        except (ConfigError, DataError) as e:
            raise _rephrased(e, kind) from e
    for w in caught:  # anything else goes on as it came
        text = estimator_words(str(w.message), kind) if issubclass(w.category, MlplabWarning) \
            else w.message
        warnings.warn(text, w.category, stacklevel=4)  # type: ignore[arg-type]
    return spec


def targets(task: TaskSpec, Y: np.ndarray, device: torch.device, kind: str) -> torch.Tensor:
    """``task.targets``, its errors in the estimator's words."""
    try:
        return task.targets(Y, device)
    except (ConfigError, DataError) as e:
        raise _rephrased(e, kind) from e


__all__ = ["estimator_words", "resolve", "targets"]
