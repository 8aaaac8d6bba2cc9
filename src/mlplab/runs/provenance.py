"""Where a run came from: trained by mlplab, or imported from a learner's weights file
(``mlplab import``), and how its splits are named honestly when mlplab trained on none of them.

Kept apart from :mod:`mlplab.runs.run` so that the report and notebook displays, which the
Run itself loads lazily, can ask without an import cycle.
"""

from __future__ import annotations

from typing import Any

from mlplab.models import MLP

IMPORTED_PREFIX = "imported from "  # the description runs.importer gives an imported run


def imported_from(run: Any) -> str | None:
    """The weights file an imported run came from (``mlplab import``), or None for a run
    mlplab trained. Runs imported before ``info["imported"]`` existed are known by their
    description and their 0 epochs."""
    record = run.info.get("imported")
    if isinstance(record, dict) and record.get("file"):
        return str(record["file"])
    desc = run.config.description or ""
    if desc.startswith(IMPORTED_PREFIX) and not run.info.get("epochs_run") and \
            not isinstance(run.model, MLP):
        return desc.removeprefix(IMPORTED_PREFIX)
    return None


def scored_on_labels(run: Any, share: str = "{share} of the rows",
                     all_rows: str = "all rows") -> dict[str, str]:
    """What each split of an imported run is, honestly: mlplab trained on none of them, so
    ``train`` / ``val`` / ``test`` are shown as the share of the rows each holds ("all rows"
    when there is one).

    Example
    -------
    >>> class _R:  # a run-like object with 160 / 40 rows
    ...     metrics = {"train": {"n": 160}, "test": {"n": 40}}
    >>> scored_on_labels(_R())
    {'train': '80% of the rows', 'test': '20% of the rows'}
    """
    n = {s: int(run.metrics[s].get("n") or 0) for s in ("train", "val", "test")
         if run.metrics.get(s)}
    total = sum(n.values())
    if len(n) == 1:
        return {s: all_rows for s in n}
    return {s: share.format(share=f"{k / total:.0%}") if total else s for s, k in n.items()}


__all__ = ["IMPORTED_PREFIX", "imported_from", "scored_on_labels"]
