"""Run the benchmark suite and write BENCHMARKS.md.

Each ``benchmarks/bench_*.py`` module has ``run(quick: bool) -> str`` returning one Markdown
section (its own heading, the command, a table of ratios measured side by side in this run).

    python -m benchmarks.run --write BENCHMARKS.md          # everything
    python -m benchmarks.run --only tiny --only sweep       # some sections, printed
    python -m benchmarks.run --quick                        # smaller sizes, for a smoke run
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import platform
import sys
import time
from pathlib import Path

import torch

import benchmarks


def machine_header() -> str:
    import os

    import sklearn

    import mlplab

    return (f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()}; "
            f"Python {platform.python_version()}, torch {torch.__version__}, "
            f"scikit-learn {sklearn.__version__}, mlplab {mlplab.__version__}; "
            f"torch threads {torch.get_num_threads()}. Date: {time.strftime('%Y-%m-%d')}.")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", type=Path, help="write the Markdown report to this file")
    ap.add_argument("--only", action="append", default=[], help="bench_<NAME> to run")
    ap.add_argument("--quick", action="store_true", help="smaller sizes (smoke test)")
    args = ap.parse_args(argv)
    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__)
                   if m.name.startswith("bench_"))
    if args.only:
        names = [n for n in names if n.removeprefix("bench_") in args.only]
    sections = []
    t0 = time.perf_counter()
    for name in names:
        print(f"== {name}", file=sys.stderr, flush=True)
        t = time.perf_counter()
        sections.append(importlib.import_module(f"benchmarks.{name}").run(args.quick))
        print(f"   {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
    cmd = "make bench" if not args.only and not args.quick else \
        "python -m benchmarks.run " + " ".join(sys.argv[1:] if argv is None else argv)
    text = (f"# Benchmarks\n\nMade by `{cmd}` in {time.perf_counter() - t0:.0f} s. "
            f"{machine_header()}\n\nEvery figure is a ratio of timings measured side by side "
            "in the same run (median of several repeats); absolute times drift between runs, "
            "ratios hold better.\n\n" + "\n\n".join(sections) + "\n")
    if args.write:
        args.write.write_text(text)
        print(f"wrote {args.write}", file=sys.stderr)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
