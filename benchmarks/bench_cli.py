"""CLI start-up: `mlplab --help`, `mlplab datasets`, `mlplab recipes` as a user runs them.

Goals (issue "One training engine"): `--help` under 0.5 s, `datasets` and `recipes` under 1 s.
Each command runs as a fresh process (the console script's Python start included), next to
`python -c pass` as the floor and `python -c "import torch"` as what one heavy import costs.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._timing import md_table

MLPLAB = str(Path(sys.executable).with_name("mlplab"))
COMMANDS = {
    "python -c pass (floor)": [sys.executable, "-c", "pass"],
    'python -c "import torch"': [sys.executable, "-c", "import torch"],
    "mlplab --help": [MLPLAB, "--help"],
    "mlplab datasets": [MLPLAB, "datasets"],
    "mlplab recipes": [MLPLAB, "recipes"],
}
GOALS = {"mlplab --help": 0.5, "mlplab datasets": 1.0, "mlplab recipes": 1.0}


def _seconds(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t


def run(quick: bool) -> str:
    repeats = 3 if quick else 7
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(repeats):  # interleaved, so load from other processes hits all alike
        for name, cmd in COMMANDS.items():
            times[name].append(_seconds(cmd))
    rows = []
    for name, ts in times.items():
        med = statistics.median(ts)
        goal = GOALS.get(name)
        verdict = "" if goal is None else ("met" if med < goal else f"missed by {med - goal:.2f} s")
        rows.append([name, f"{med:.3f}", "" if goal is None else f"< {goal}", verdict])
    return ("## CLI start-up\n\nCommand: `python -m benchmarks.run --only cli`. Median wall time "
            f"of {repeats} fresh processes each (seconds).\n\n"
            + md_table(["command", "seconds", "goal", ""], rows))
