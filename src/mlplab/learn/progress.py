"""Which steps a learner has passed, in one small JSON file.

The file is ``progress.json`` in ``$MLPLAB_LEARN_HOME`` if set, else in the user's data
directory (``~/.local/share/mlplab/learn`` on Linux). It is written atomically (temp file +
rename), so a crash never leaves half a file; an unreadable file is reported, never
overwritten.

Example
-------
>>> import os, tempfile
>>> os.environ["MLPLAB_LEARN_HOME"] = tempfile.mkdtemp()
>>> record("disk", "data")
>>> passed("disk")
['data']
>>> del os.environ["MLPLAB_LEARN_HOME"]
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlplab.errors import ConfigError
from mlplab.runs.store import write_json

ENV = "MLPLAB_LEARN_HOME"
VERSION = 1


def home() -> Path:
    """The folder of the progress file."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV]).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("mlplab")) / "learn"


def path() -> Path:
    return home() / "progress.json"


def load() -> dict[str, Any]:
    """The whole progress, ``{"version": 1, "lessons": {lesson: {"passed": [...], ...}}}``."""
    p = path()
    if not p.exists():
        return {"version": VERSION, "lessons": {}}
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read the lesson progress file '{p}'", found=str(e),
                          hint=f"move it away, or set {ENV} to another folder") from None
    if not isinstance(data, dict) or not isinstance(data.get("lessons"), dict):
        raise ConfigError(f"'{p}' is not a lesson progress file",
                          hint=f"move it away, or set {ENV} to another folder")
    return data


def passed(lesson: str) -> list[str]:
    """The steps of ``lesson`` passed so far, in the order they were first passed."""
    return list(load()["lessons"].get(lesson, {}).get("passed", []))


def record(lesson: str, step: str) -> None:
    """Note that ``step`` of ``lesson`` passed (once; the time of the last pass is kept)."""
    data = load()
    entry = data["lessons"].setdefault(lesson, {"passed": []})
    if step not in entry["passed"]:
        entry["passed"].append(step)
    entry["updated"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    write_json(path(), data)


def reset(lesson: str) -> None:
    """Forget ``lesson``'s progress."""
    data = load()
    if data["lessons"].pop(lesson, None) is not None:
        write_json(path(), data)


__all__ = ["ENV", "home", "load", "passed", "path", "record", "reset"]
