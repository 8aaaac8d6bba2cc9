"""mlplab's default ``train`` vs scikit-learn's MLPClassifier in a standard pipeline.

Real datasets: same splits (mlplab's seeded stratified split, applied to the raw rows for the
scikit-learn pipeline), several seeds, test accuracy mean ± std and wall time of the fit.
The 200k-row ``make_classification`` set: time for mlplab's defaults to reach the test accuracy
scikit-learn's MLPClassifier ends with (:func:`big_rows`).

    python -m benchmarks.run --only sklearn          # about 3-4 minutes on 2 cores
    python -m benchmarks.bench_sklearn --set "optim.lr=0.003 train.eval_every=2"  # 200k alone
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


def _reach_callback(target: float, t_start: float) -> Any:
    from mlplab.training.callbacks import Callback
    from mlplab.training.loop import evaluate_split

    class Reach(Callback):
        """Notes the first time the test accuracy reaches ``target``, in seconds since
        ``t_start`` (before ``mlplab.train`` was called: its data preparation counts) minus
        the time of its own checks. Training goes on: the run's own stopping decides the
        end, as a user's run would."""

        every = 1

        def on_train_begin(self, state: Any) -> None:
            self.checking, self.reached, self.acc = 0.0, None, 0.0
            self.reached_epoch = None

        def on_epoch(self, state: Any) -> None:
            t = time.perf_counter()
            _, self.acc = evaluate_split(state.model, state.task, state.task.batch_loss,
                                         state.data.X["test"], state.data.y["test"])
            if self.reached is None and self.acc >= target:
                self.reached, self.reached_epoch = t - t_start - self.checking, state.epoch
            self.checking += time.perf_counter() - t

    return Reach()


def _watched_mlp(X_test: np.ndarray, y_test: np.ndarray) -> Any:
    """scikit-learn's MLPClassifier, unchanged, that also notes its test accuracy after every
    epoch (in the hook its own loop calls once per epoch; the checks are not timed)."""
    from sklearn.neural_network import MLPClassifier

    class Watched(MLPClassifier):
        def _update_no_improvement_count(self, *args: Any) -> None:
            t = time.perf_counter()
            acc = float(np.mean(self.predict(X_test) == y_test))
            self.curve_.append((t - self.t0_ - self.checking_, acc))
            self.checking_ += time.perf_counter() - t
            super()._update_no_improvement_count(*args)

    return Watched


def big_rows(seeds: list[int], variants: dict[str, dict[str, Any]] | None = None,
             max_epochs: int | None = None) -> list[list[Any]]:
    """200k x 20 ``make_classification``: scikit-learn's default MLPClassifier (with a
    StandardScaler) against ``mlplab.train``'s defaults (``variants``: named overrides, each
    measured against the same scikit-learn fit) on the same split.

    scikit-learn's fit and mlplab's whole ``train`` call (preparation, validation split,
    training until its own early stopping, at most ``max_epochs``, by default the default
    maximum) are timed; each side's test
    accuracy is checked after every epoch, untimed. The speed-ups are scikit-learn's time
    over mlplab's time to first reach scikit-learn's final test accuracy: against
    scikit-learn's whole fit (what its user waits for) and against the epoch where
    scikit-learn itself first reached that accuracy (the strict reading)."""
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler

    import mlplab
    from mlplab.config import with_overrides

    X, y = make_classification(BIG_ROWS, n_features=BIG_FEATURES, n_informative=10,
                               random_state=0)
    X = X.astype(np.float32)
    rows = []
    for seed in seeds:
        base = mlplab.RunConfig.from_dict({"seed": seed, "log": {"quiet": True, "plots": False}})
        if max_epochs is not None:
            base = with_overrides(base, {"train.epochs": max_epochs})
        p = mlplab.prepare(base, (X, y))  # the split only: mlplab's data work is timed below
        fit_rows = np.concatenate([p.split.train, p.split.val])  # every non-test row
        Xtr, ytr, Xte, yte = X[fit_rows], y[fit_rows], X[p.split.test], y[p.split.test]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            scaler = StandardScaler().fit(Xtr)
            mlp = _watched_mlp(scaler.transform(Xte), yte)(random_state=seed)
            mlp.curve_, mlp.checking_, mlp.t0_ = [], 0.0, t
            mlp.fit(scaler.transform(Xtr), ytr)
            sk_s = time.perf_counter() - t - mlp.checking_
        sk_acc = float(np.mean(mlp.predict(scaler.transform(Xte)) == yte))
        sk_first = next(s for s, a in mlp.curve_ if a >= sk_acc)
        for name, overrides in (variants or {"defaults": {}}).items():
            cfg = with_overrides(base, overrides)
            t = time.perf_counter()
            reach = _reach_callback(sk_acc, t)
            run = mlplab.train(cfg, data=(X, y), save=False, progress=False,
                               callbacks=[reach])
            ours_total = time.perf_counter() - t - reach.checking
            ours = reach.reached
            rows.append([seed, name, f"{sk_acc:.4f}", f"{sk_s:.1f}", mlp.n_iter_,
                         f"{sk_first:.1f}",
                         "-" if ours is None else f"{ours:.1f} (epoch {reach.reached_epoch})",
                         f"{run.metrics['test']['accuracy']:.4f}", f"{ours_total:.1f}",
                         run.info["summary"],
                         f"**{sk_s / ours:.2f}x** / {sk_first / ours:.2f}x" if ours
                         else "not reached"])
    return rows


BIG_HEADER = ["seed", "mlplab", "sklearn acc", "sklearn fit s", "sklearn epochs",
              "sklearn s to its acc", "mlplab s to reach", "mlplab final acc", "mlplab fit s",
              "mlplab run", "speed-up (whole fit / strict)"]


def run(quick: bool) -> str:
    seeds = [0, 1] if quick else [0, 1, 2]
    t0 = time.perf_counter()
    real = [_real_row(name, seeds) for name in REAL]
    big = big_rows([0], max_epochs=100 if quick else None)  # scikit-learn alone: 2-6 min
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
        "scikit-learn's accuracy\n\nscikit-learn's StandardScaler + MLPClassifier train "
        "with their defaults (adam, batch 200, stops on `tol`); `mlplab.train` with its "
        "defaults on the same split (its own validation split and early stopping). Both "
        "sides' test accuracy is checked after every epoch, untimed; mlplab's time counts "
        "its data preparation. Speed-up: scikit-learn's whole fit, and scikit-learn's own "
        "time to its final accuracy, over mlplab's time to first reach that accuracy.\n\n"
        + md_table(BIG_HEADER, big)
        + f"\n\nSection time: {time.perf_counter() - t0:.0f} s.")


def main(argv: list[str] | None = None) -> None:
    """The 200k-row comparison alone, with ``--set`` overrides for mlplab."""
    import argparse

    from mlplab.config import parse_value

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--set", action="append", default=[],
                    help="a variant: space-separated KEY=VALUE overrides (repeatable)")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--max-epochs", type=int, default=None)
    args = ap.parse_args(argv)
    variants: dict[str, dict[str, Any]] = {"defaults": {}}
    for spec in args.set:
        variants[spec] = {k: parse_value(v) for k, _, v in
                          (item.partition("=") for item in spec.split())}
    print(md_table(BIG_HEADER, big_rows(list(range(args.seeds)), variants, args.max_epochs)))


if __name__ == "__main__":
    main()
