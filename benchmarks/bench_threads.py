"""``mlplab.MLPClassifier`` vs scikit-learn's MLPClassifier when the CPU is shared.

Four settings, each measured side by side in this run (median of a few repeats, the two
estimators interleaved so both see the same load):

- idle: nothing else started by the benchmark (on a shared machine "idle" is whatever the
  others are doing; the ratio is what holds);
- busy: one CPU-burning process beside the fit (a child process, killed at the end of the
  section and bounded by a timeout);
- grid: ``GridSearchCV`` (4 candidates x 3 folds) with ``n_jobs=1`` and ``n_jobs=2`` (loky
  workers; their start-up and first import are in a warm-up call, not in the timing);
- fresh worker: what each new loky worker pays once, measured apart: a new interpreter's
  imports and its first fit of a grid candidate (mlplab's imports torch and, through
  ``torch.optim``, ``torch._dynamo``).

mlplab runs with its thread policy (:mod:`mlplab.threads`) and, for comparison, with torch's
default of one thread per core (``config={"train.num_threads": cores}``).

    python -m benchmarks.run --only threads    # 6-8 minutes on 2 cores shared at load 7
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from benchmarks._timing import md_table

ROWS, FEATURES, EPOCHS = 5000, 20, 50  # the setting: MLPClassifier(max_iter=50)
TORCH_THREADS = "mlplab, torch threads"  # the policy overridden by torch's default count
TORCH_THREADS_EPOCHS = 5  # that variant is 10-40x slower under load: timed per step only
BURN_SECONDS = 120  # upper bound on the busy process's life, even if the benchmark dies


@contextmanager
def busy_process() -> Iterator[None]:
    """One process spinning on a core for the duration of the block."""
    code = f"import time\nend = time.time() + {BURN_SECONDS}\nwhile time.time() < end: pass"
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        time.sleep(0.5)  # let it reach the scheduler
        yield
    finally:
        proc.kill()
        proc.wait()


def _estimators(epochs: int) -> dict[str, Callable[[], Any]]:
    from sklearn.neural_network import MLPClassifier as SkClassifier

    import mlplab

    cores = os.cpu_count() or 1
    return {
        "sklearn": lambda: SkClassifier(max_iter=epochs, random_state=0),
        "mlplab": lambda: mlplab.MLPClassifier(max_iter=epochs, random_state=0),
        TORCH_THREADS: lambda: mlplab.MLPClassifier(
            max_iter=TORCH_THREADS_EPOCHS, random_state=0, config={"train.num_threads": cores}),
    }


def _interleaved(fns: Mapping[str, Callable[..., Any]], repeats: int) -> dict[str, float]:
    """Median seconds per function, the functions taking turns (same load for each); the
    torch-threads variant runs once, without warm-up (it is the slow one under load)."""
    for name, fn in fns.items():
        if name != TORCH_THREADS:
            fn()  # warm-up
    times: dict[str, list[float]] = {k: [] for k in fns}
    for i in range(repeats):
        for name, fn in fns.items():
            if name == TORCH_THREADS and i > 0:
                continue
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def _fit_rows(repeats: int, epochs: int) -> list[list[Any]]:
    """Fit times idle and beside a busy process, and milliseconds per mini-batch step."""
    from sklearn.datasets import make_classification

    X, y = make_classification(ROWS, n_features=FEATURES, random_state=0)
    ests = _estimators(epochs)
    batches = -(-ROWS // 200)  # batch_size='auto' = 200
    steps = {k: ests[k]().fit(X, y).n_iter_ * batches for k in ("sklearn", "mlplab")}
    rows = []
    for setting, ctx in (("idle", None), ("one busy process", busy_process)):
        fns = {k: (lambda make=make: make().fit(X, y)) for k, make in ests.items()}
        if ctx is None:
            t = _interleaved(fns, repeats)
        else:
            with ctx():
                t = _interleaved(fns, repeats)
        rows.append([setting, f"{t['sklearn']:.2f}", f"{t['mlplab']:.2f}",
                     f"{1e3 * t['sklearn'] / steps['sklearn']:.3f}",
                     f"{1e3 * t['mlplab'] / steps['mlplab']:.3f}",
                     f"{1e3 * t[TORCH_THREADS] / (TORCH_THREADS_EPOCHS * batches):.3f}",
                     f"**{t['sklearn'] / t['mlplab']:.2f}x**"])
    return rows


def _grid_rows(repeats: int) -> list[list[Any]]:
    from sklearn.datasets import make_classification
    from sklearn.model_selection import GridSearchCV

    X, y = make_classification(2000, n_features=FEATURES, random_state=0)
    grid = {"hidden_layer_sizes": [(32,), (64,)], "alpha": [1e-4, 1e-2]}
    ests = _estimators(20)
    rows = []
    for n_jobs in (1, 2):
        fns = {k: (lambda make=make, n=n_jobs: GridSearchCV(make(), grid, cv=3, n_jobs=n)
                   .fit(X, y)) for k, make in ests.items() if k != TORCH_THREADS}
        t = _interleaved(fns, repeats)
        rows.append([f"GridSearchCV 4x3, n_jobs={n_jobs}", f"{t['sklearn']:.2f}",
                     f"{t['mlplab']:.2f}", "", "", "",
                     f"**{t['sklearn'] / t['mlplab']:.2f}x**"])
    return rows


# a fresh joblib worker's start for one estimator: imports, then its first fit of a grid
# candidate (2000 x 20, hidden 32, max_iter=20); run in a new interpreter each time
_COLD = """
import time, warnings
warnings.simplefilter("ignore")
t0 = time.perf_counter()
import numpy as np
from sklearn.datasets import make_classification
from sklearn.neural_network import MLPClassifier
{imp}
t1 = time.perf_counter()
X, y = make_classification(2000, n_features=20, random_state=0)
MLPClassifier((32,), max_iter=20, random_state=0).fit(X, y)
t2 = time.perf_counter()
{dyn}
print(t1 - t0, t2 - t1, t3)
"""
_COLD_MLPLAB = {"imp": "import sys\nfrom mlplab import MLPClassifier",
                "dyn": "t3 = sys.modules.get('torch._dynamo') is not None"}
_COLD_SKLEARN = {"imp": "", "dyn": "t3 = False"}


def _cold_rows(repeats: int) -> list[list[Any]]:
    """A fresh process's imports + first fit (what each new loky worker pays once)."""
    times: dict[str, list[tuple[float, float]]] = {"sklearn": [], "mlplab": []}
    dynamo = False
    for _ in range(repeats):
        for name, fill in (("sklearn", _COLD_SKLEARN), ("mlplab", _COLD_MLPLAB)):
            out = subprocess.run([sys.executable, "-c", _COLD.format(**fill)], check=True,
                                 capture_output=True, text=True, timeout=300).stdout.split()
            times[name].append((float(out[0]), float(out[1])))
            dynamo = dynamo or out[2] == "True"
    med = {k: (statistics.median(a for a, _ in v), statistics.median(b for _, b in v))
           for k, v in times.items()}
    total = {k: a + b for k, (a, b) in med.items()}
    note = " (mlplab's first fit imports torch._dynamo)" if dynamo else ""
    return [[f"fresh worker: imports {med['sklearn'][0]:.2f} / {med['mlplab'][0]:.2f} s, "
             f"first fit {med['sklearn'][1]:.2f} / {med['mlplab'][1]:.2f} s{note}",
             f"{total['sklearn']:.2f}", f"{total['mlplab']:.2f}", "", "", "",
             f"{total['sklearn'] / total['mlplab']:.2f}x"]]


SPARSE_ROWS, SPARSE_FEATURES, SPARSE_DENSITY, SPARSE_EPOCHS = 3000, 20_000, 0.001, 10


def _sparse_rows(repeats: int) -> list[list[Any]]:
    """Fit on a 3,000 x 20,000 CSR matrix (20 non-zeros a row, text-like): mlplab multiplies
    the first layer sparsely; "mlplab, densified" is the same fit on ``X.toarray()``."""
    import numpy as np
    import scipy.sparse as sp
    from sklearn.neural_network import MLPClassifier as SkClassifier

    import mlplab

    X = sp.random(SPARSE_ROWS, SPARSE_FEATURES, density=SPARSE_DENSITY, format="csr",
                  random_state=0)
    y = (X @ np.random.default_rng(0).normal(size=SPARSE_FEATURES) > 0).astype(int)
    kw = {"max_iter": SPARSE_EPOCHS, "random_state": 0}
    fns = {"sklearn": lambda: SkClassifier(**kw).fit(X, y),
           "mlplab": lambda: mlplab.MLPClassifier(**kw).fit(X, y),
           "mlplab, densified": lambda: mlplab.MLPClassifier(**kw).fit(X.toarray(), y)}
    t = _interleaved(fns, repeats)
    return [[f"sparse {SPARSE_ROWS} x {SPARSE_FEATURES} CSR, max_iter={SPARSE_EPOCHS} "
             f"(densified: {t['mlplab, densified']:.2f} s)", f"{t['sklearn']:.2f}",
             f"{t['mlplab']:.2f}", "", "", "", f"**{t['sklearn'] / t['mlplab']:.2f}x**"]]


def run(quick: bool) -> str:
    t0 = time.perf_counter()
    repeats = 1 if quick else 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = _fit_rows(repeats, 10 if quick else EPOCHS) + _grid_rows(max(1, repeats - 1)) \
            + _sparse_rows(max(1, repeats - 1)) + _cold_rows(repeats)
    return (
        "## Threads: fit time beside other work, and inside GridSearchCV\n\n"
        f"`MLPClassifier(max_iter={EPOCHS}).fit` on {ROWS} x {FEATURES} "
        "`make_classification` (scikit-learn's defaults: one hidden layer of 100, adam, batch "
        "200), on a machine shared with other work: *idle* starts nothing else, *one busy "
        "process* runs a CPU-burning process beside the fits; the grid search runs 4 "
        "candidates x 3 folds of `max_iter=20` on 2000 rows (loky workers warmed up first). "
        "mlplab with its thread policy (one intra-op thread for steps under "
        f"{_policy_mflop():.0f} MFLOP); for comparison, ms per step of mlplab with torch's "
        f"default threads (one {TORCH_THREADS_EPOCHS}-epoch fit). Median seconds of {repeats} "
        "interleaved repeats (grid and sparse: one fewer); ms per step = fit time / (`n_iter_` "
        "x batches). The sparse row fits a 3,000 x 20,000 CSR matrix with 0.1% non-zeros "
        f"(max_iter={SPARSE_EPOCHS}); mlplab multiplies its first layer sparsely, and the same "
        "fit on the densified matrix is given for comparison. The last row starts a fresh "
        "interpreter per estimator (what each new loky worker pays once, outside the grid "
        "rows above): its imports, then one grid candidate's fit.\n\n"
        + md_table(["setting", "sklearn s", "mlplab s", "sklearn ms/step", "mlplab ms/step",
                    "mlplab with torch's threads ms/step", "sklearn/mlplab time"], rows)
        + f"\n\nSection time: {time.perf_counter() - t0:.0f} s.")


def _policy_mflop() -> float:
    from mlplab.threads import SMALL_STEP_FLOPS

    return SMALL_STEP_FLOPS / 1e6

