"""mlplab's default ``train`` vs scikit-learn's MLPClassifier in a standard pipeline.

Real datasets: same splits (mlplab's seeded stratified split, applied to the raw rows for the
scikit-learn pipeline), several seeds, test accuracy mean ± std and wall time of the fit.
The 200k-row ``make_classification`` set: time for mlplab's defaults to reach the test accuracy
scikit-learn's MLPClassifier ends with (test accuracy checked after every epoch; the checking
time is not counted).

    python -m benchmarks.run --only sklearn          # about 3-4 minutes on 2 cores
"""

from __future__ import annotations

import statistics
import time
import warnings
from typing import Any

import numpy as np

from benchmarks._timing import md_table

REAL = ("breast_cancer", "iris", "wine", "digits", "penguins")
IMPUTE = {"penguins": "most_frequent"}  # the only one with missing values
BIG_ROWS, BIG_FEATURES = 200_000, 20


def _cfg(name: str, seed: int) -> dict[str, Any]:
    data = {"source": name}
    if name in IMPUTE:
        data["impute"] = IMPUTE[name]
    return {"seed": seed, "data": data, "log": {"quiet": True, "plots": False}}


def _sklearn_pipeline(X: Any, seed: int) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    num = [c for c in X.columns if X[c].dtype.kind in "fiub"]
    cat = [c for c in X.columns if c not in num]
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="most_frequent"), StandardScaler()), num),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore")), cat)])
    return make_pipeline(pre, MLPClassifier(random_state=seed))


def _real_row(name: str, seeds: list[int]) -> list[Any]:
    import mlplab
    from mlplab.config import RunConfig

    accs: dict[str, list[float]] = {"mlplab": [], "sklearn": []}
    secs: dict[str, list[float]] = {"mlplab": [], "sklearn": []}
    for seed in seeds:
        cfg = RunConfig.from_dict(_cfg(name, seed))
        t = time.perf_counter()
        run = mlplab.train(cfg, save=False, progress=False)
        secs["mlplab"].append(time.perf_counter() - t)
        accs["mlplab"].append(run.metrics["test"]["accuracy"])
        p = mlplab.prepare(cfg)  # the same split, for the raw rows
        X, y = p.table.X, p.table.y.iloc[:, 0].astype(str)
        pipe = _sklearn_pipeline(X, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            pipe.fit(X.iloc[p.split.train], y.iloc[p.split.train])
            secs["sklearn"].append(time.perf_counter() - t)
        accs["sklearn"].append(pipe.score(X.iloc[p.split.test], y.iloc[p.split.test]))
    m, s = (statistics.mean(accs[k]) for k in ("mlplab", "sklearn"))
    sd = {k: statistics.pstdev(v) for k, v in accs.items()}
    tm, ts = (statistics.median(secs[k]) for k in ("mlplab", "sklearn"))
    return [name, f"{m:.4f} ± {sd['mlplab']:.4f}", f"{s:.4f} ± {sd['sklearn']:.4f}",
            "yes" if m >= s else "**no**", f"{tm:.2f}", f"{ts:.2f}", f"{ts / tm:.2f}x"]


def _reach_callback(target: float, budget_s: float) -> Any:
    from mlplab.training.callbacks import Callback
    from mlplab.training.loop import evaluate_split

    class Reach(Callback):
        """Stops when the test accuracy reaches ``target``; times exclude its own checks."""

        every = 1

        def on_train_begin(self, state: Any) -> None:
            self.t0, self.checking, self.reached = time.perf_counter(), 0.0, None
            self.acc = 0.0

        def on_epoch(self, state: Any) -> None:
            t = time.perf_counter()
            _, self.acc = evaluate_split(state.model, state.task, state.task.batch_loss,
                                         state.data.X["test"], state.data.y["test"])
            self.checking += time.perf_counter() - t
            elapsed = t - self.t0 - (self.checking - (time.perf_counter() - t))
            if self.acc >= target:
                self.reached = elapsed
                state.stop = True
            elif elapsed > budget_s:
                state.stop = True

    return Reach()


def _big_rows(seeds: list[int], budget_s: float) -> list[list[Any]]:
    from sklearn.datasets import make_classification
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import mlplab

    X, y = make_classification(BIG_ROWS, n_features=BIG_FEATURES, n_informative=10,
                               random_state=0)
    X = X.astype(np.float32)
    rows = []
    for seed in seeds:
        cfg = mlplab.RunConfig.from_dict({"seed": seed, "log": {"quiet": True, "plots": False}})
        p = mlplab.prepare(cfg, (X, y))
        pipe = make_pipeline(StandardScaler(), MLPClassifier(random_state=seed))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            pipe.fit(X[p.split.train], y[p.split.train])
            sk_s = time.perf_counter() - t
        sk_acc = pipe.score(X[p.split.test], y[p.split.test])
        reach = _reach_callback(sk_acc, budget_s)
        run = mlplab.train(cfg, data=(X, y), save=False, progress=False, callbacks=[reach])
        ours = reach.reached
        rows.append([seed, f"{sk_acc:.4f}", f"{sk_s:.2f}", pipe[-1].n_iter_,
                     "-" if ours is None else f"{ours:.2f}", run.info["epochs_run"],
                     f"{reach.acc:.4f}",
                     f"**{sk_s / ours:.2f}x**" if ours else f"not reached in {budget_s:.0f} s"])
    return rows


def run(quick: bool) -> str:
    seeds = [0, 1] if quick else [0, 1, 2]
    t0 = time.perf_counter()
    real = [_real_row(name, seeds) for name in REAL]
    big = _big_rows([0], budget_s=20.0 if quick else 30.0)  # scikit-learn alone takes ~1 min
    return (
        "## mlplab vs scikit-learn's MLPClassifier\n\n"
        "`mlplab.train` with the default RunConfig (penguins: `data.impute=most_frequent`) vs "
        "`make_pipeline(ColumnTransformer(StandardScaler | OneHotEncoder, with "
        "SimpleImputer), MLPClassifier())` with scikit-learn's defaults, on the same seeded "
        f"stratified 80/20 split, seeds {seeds}. Times are wall seconds of the whole fit "
        "(median over seeds); accuracy is test accuracy, mean ± std over seeds.\n\n"
        + md_table(["dataset", "mlplab acc", "sklearn acc", "mlplab >= sklearn",
                    "mlplab s", "sklearn s", "sklearn/mlplab time"], real)
        + f"\n\n### {BIG_ROWS // 1000}k x {BIG_FEATURES} `make_classification`: time to "
        "scikit-learn's accuracy\n\nscikit-learn's pipeline trains with its defaults "
        "(adam, batch 200, stops on `tol`); mlplab's defaults then train until their test "
        "accuracy reaches scikit-learn's final test accuracy (checked each epoch, checks "
        "not timed).\n\n"
        + md_table(["seed", "sklearn acc", "sklearn s", "sklearn epochs", "mlplab s to reach",
                    "mlplab epochs", "mlplab acc", "speed-up"], big)
        + f"\n\nSection time: {time.perf_counter() - t0:.0f} s.")
