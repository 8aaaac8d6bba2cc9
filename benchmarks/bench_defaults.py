"""Defaults that generalise: mlplab's defaults against scikit-learn's MLP, RealMLP-TD,
gradient boosting and a linear model on real tables that ship offline.

Every model gets the same rows: a seeded 80/20 split (stratified for classification), then
one preprocessing fitted on the training rows (median / most-frequent imputation,
StandardScaler, one-hot for text columns). Scores are test accuracy (R² for regression);
times are wall seconds of the fit. Tables come from scikit-learn, statsmodels (both bundle
their data files) and mlplab's own penguins; nothing is downloaded.

    python -m benchmarks.run --only defaults           # 3 seeds, every table
    python -m benchmarks.run --only defaults --quick   # 1 seed, tables cut to 2,000 rows
    python -m benchmarks.bench_defaults --quick --set optim.lr=0.003 --set data.scale=robust

``--set`` (repeatable) measures ``mlplab.train`` with those overrides against the defaults:
how each default was chosen. RealMLP-TD needs the ``bench`` extra (``pip install -e
.[bench]``: pytabkit); without it its column says "not installed".
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from benchmarks._timing import md_table

Table = tuple[pd.DataFrame, pd.Series]
QUICK_ROWS = 2_000


def _sklearn(name: str) -> Callable[[], Table]:
    def load() -> Table:
        import sklearn.datasets as ds

        X, y = getattr(ds, f"load_{name}")(return_X_y=True, as_frame=True)
        return X, y
    return load


def _statsmodels(name: str, target: Callable[[pd.DataFrame], pd.Series],
                 drop: tuple[str, ...]) -> Callable[[], Table]:
    def load() -> Table:
        mod = importlib.import_module(f"statsmodels.datasets.{name}")
        df = mod.load_pandas().data
        return df.drop(columns=list(drop)), target(df)
    return load


def _penguins() -> Table:
    from mlplab.config import DataConfig
    from mlplab.data import load_table

    t = load_table(DataConfig(source="penguins"), seed=0)
    return t.X, t.y.iloc[:, 0]


def _modechoice() -> Table:
    from statsmodels.datasets import modechoice

    df = modechoice.load_pandas().data
    df["mode"] = df["mode"].map({1: "air", 2: "train", 3: "bus", 4: "car"})
    return df.drop(columns=["individual", "choice"]), df["choice"]


def _star98_share(df: pd.DataFrame) -> pd.Series:
    return df["NABOVE"] / (df["NABOVE"] + df["NBELOW"])


# name -> (loader, task); the statsmodels targets: fair = had an affair, anes96 = voted
# Dole, randhie = any doctor visit, grunfeld = which of 11 firms, star98 = share of pupils
# above the national maths median
CLASSIFICATION: dict[str, Callable[[], Table]] = {
    "breast_cancer": _sklearn("breast_cancer"),
    "digits": _sklearn("digits"),
    "iris": _sklearn("iris"),
    "wine": _sklearn("wine"),
    "penguins": _penguins,
    "fair (statsmodels)": _statsmodels("fair", lambda d: (d["affairs"] > 0).astype(int),
                                       ("affairs",)),
    "anes96 (statsmodels)": _statsmodels("anes96", lambda d: d["vote"].astype(int),
                                         ("vote", "logpopul")),
    "modechoice (statsmodels)": _modechoice,
    "randhie (statsmodels)": _statsmodels("randhie", lambda d: (d["mdvis"] > 0).astype(int),
                                          ("mdvis",)),
    "grunfeld (statsmodels)": _statsmodels("grunfeld", lambda d: d["firm"].astype(str),
                                           ("firm",)),
}
REGRESSION: dict[str, Callable[[], Table]] = {
    "diabetes": _sklearn("diabetes"),
    "star98 (statsmodels)": _statsmodels("star98", _star98_share, ("NABOVE", "NBELOW")),
}


def _split(X: pd.DataFrame, y: pd.Series, seed: int, classify: bool,
           rows: int | None) -> tuple[np.ndarray, ...]:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import LabelEncoder, OneHotEncoder, StandardScaler

    if classify:
        y = pd.Series(LabelEncoder().fit_transform(y.astype(str)), index=y.index)
    if rows is not None and len(X) > rows:
        X, _, y, _ = train_test_split(X, y, train_size=rows, random_state=seed,
                                      stratify=y if classify else None)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=seed,
                                          stratify=y if classify else None)
    num = [c for c in X.columns if X[c].dtype.kind in "fiub"]
    cat = [c for c in X.columns if c not in num]
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
         cat)])
    A, B = pre.fit_transform(Xtr), pre.transform(Xte)
    return (A.astype(np.float32), B.astype(np.float32), ytr.to_numpy(), yte.to_numpy())


def _mlplab_train(overrides: dict[str, Any]) -> Callable[..., np.ndarray]:
    def fit_predict(A: np.ndarray, B: np.ndarray, y: np.ndarray, seed: int,
                    classify: bool) -> np.ndarray:
        import mlplab
        from mlplab.config import RunConfig, with_overrides

        cfg = RunConfig.from_dict({"seed": seed, "task": "auto" if classify else "regression",
                                   "data": {"test_size": 0.0},
                                   "log": {"quiet": True, "plots": False}})
        run = mlplab.train(with_overrides(cfg, overrides), data=(A, y), save=False,
                           progress=False)
        return np.asarray(run.predict(B)).reshape(len(B), -1)[:, 0]
    return fit_predict


def _estimator(make: Callable[[bool, int], Any]) -> Callable[..., np.ndarray]:
    def fit_predict(A: np.ndarray, B: np.ndarray, y: np.ndarray, seed: int,
                    classify: bool) -> np.ndarray:
        est = make(classify, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(A, y)
        return np.asarray(est.predict(B)).reshape(len(B))
    return fit_predict


def _sk_mlp(classify: bool, seed: int) -> Any:
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    return (MLPClassifier if classify else MLPRegressor)(random_state=seed)


def _our_mlp(classify: bool, seed: int) -> Any:
    import mlplab

    return (mlplab.MLPClassifier if classify else mlplab.MLPRegressor)(random_state=seed)


def _realmlp(classify: bool, seed: int) -> Any:
    from pytabkit import RealMLP_TD_Classifier, RealMLP_TD_Regressor

    cls = RealMLP_TD_Classifier if classify else RealMLP_TD_Regressor
    return cls(random_state=seed, n_threads=1, device="cpu", verbosity=0)


def _hgb(classify: bool, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor
    return cls(random_state=seed)


def _linear(classify: bool, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression, Ridge

    return LogisticRegression(max_iter=2000) if classify else Ridge()


HAVE_PYTABKIT = importlib.util.find_spec("pytabkit") is not None
HAVE_STATSMODELS = importlib.util.find_spec("statsmodels") is not None
if not HAVE_STATSMODELS:  # the bench extra brings it; without it, the other tables
    CLASSIFICATION = {k: v for k, v in CLASSIFICATION.items() if "statsmodels" not in k}
    REGRESSION = {k: v for k, v in REGRESSION.items() if "statsmodels" not in k}
MODELS: dict[str, Callable[..., np.ndarray]] = {
    "sklearn MLP": _estimator(_sk_mlp),
    "mlplab MLPClassifier()": _estimator(_our_mlp),
    "mlplab.train defaults": _mlplab_train({}),
    **({"RealMLP-TD": _estimator(_realmlp)} if HAVE_PYTABKIT else {}),
    "HistGradientBoosting": _estimator(_hgb),
    "logistic / ridge": _estimator(_linear),
}


def _score(classify: bool, truth: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import accuracy_score, r2_score

    return float(accuracy_score(truth, pred) if classify else r2_score(truth, pred))


def measure(models: dict[str, Callable[..., np.ndarray]], tables: dict[str, Callable[[], Table]],
            classify: bool, seeds: list[int], rows: int | None
            ) -> dict[str, dict[str, tuple[float, float]]]:
    """``{table: {model: (mean score, total fit seconds)}}`` over ``seeds``."""
    import torch

    out: dict[str, dict[str, tuple[float, float]]] = {}
    for name, load in tables.items():
        X, y = load()
        scores: dict[str, list[float]] = {m: [] for m in models}
        secs: dict[str, float] = {m: 0.0 for m in models}
        for seed in seeds:
            A, B, ytr, yte = _split(X, y, seed, classify, rows)
            for model, fit_predict in models.items():
                torch.set_num_threads(1)  # the same budget for every model
                t = time.perf_counter()
                pred = fit_predict(A, B, ytr, seed, classify)
                secs[model] += time.perf_counter() - t
                scores[model].append(_score(classify, yte, pred))
        out[name] = {m: (statistics.mean(scores[m]), secs[m] / len(seeds)) for m in models}
        print(f"   {name}: " + ", ".join(f"{m} {v[0]:.4f} ({v[1]:.2f} s)"
                                      for m, v in out[name].items()), file=sys.stderr,
              flush=True)
    return out


def _table(res: dict[str, dict[str, tuple[float, float]]], models: list[str]) -> str:
    rows = [[name, *(f"{r[m][0]:.4f} ({r[m][1]:.2f})" for m in models)]
            for name, r in res.items()]
    mean = ["**mean**", *(f"**{statistics.mean(r[m][0] for r in res.values()):.4f}** "
                          f"({sum(r[m][1] for r in res.values()):.1f})" for m in models)]
    return md_table(["table", *models], [*rows, mean])


def goals(res: dict[str, dict[str, tuple[float, float]]]) -> list[str]:
    """The issue's goals, each checked on this run's numbers."""
    ours, sk = "mlplab.train defaults", "sklearn MLP"
    mean = {m: statistics.mean(r[m][0] for r in res.values()) for m in next(iter(
        res.values()))}
    time_ = {m: sum(r[m][1] for r in res.values()) for m in mean}
    worst = min(res, key=lambda t: res[t][ours][0] - res[t][sk][0])
    gap = res[worst][ours][0] - res[worst][sk][0]
    lines = [f"- defaults >= sklearn MLP - 0.005 on every table: "
             f"{'yes' if gap >= -0.005 else 'no'} (worst {worst}: {gap:+.4f})",
             f"- defaults' mean above sklearn MLP's: {mean[ours] - mean[sk]:+.4f}",
             f"- defaults' fit time / sklearn MLP's: {time_[ours] / time_[sk]:.2f} "
             "(goal <= 0.5)",
             f"- MLPClassifier() fit time / sklearn's: "
             f"{time_['mlplab MLPClassifier()'] / time_[sk]:.2f}; mean accuracy "
             f"{mean['mlplab MLPClassifier()'] - mean[sk]:+.4f} vs sklearn"]
    if "RealMLP-TD" in mean:
        lines.append(f"- defaults' mean vs RealMLP-TD's: {mean[ours] - mean['RealMLP-TD']:+.4f}"
                     " (goal >= -0.005)")
    return lines


def run(quick: bool) -> str:
    seeds, rows = ([0], QUICK_ROWS) if quick else ([0, 1, 2], None)
    t0 = time.perf_counter()
    models = {k: v for k, v in MODELS.items() if not (quick and k == "RealMLP-TD")}
    cls = measure(models, CLASSIFICATION, True, seeds, rows)
    reg = measure(models, REGRESSION, False, seeds, rows)
    names = list(models)
    note = "" if HAVE_STATSMODELS else (
        "The statsmodels tables are left out: statsmodels is not installed (`pip install -e "
        ".[bench]`).\n\n")
    note += "RealMLP-TD is left out of `--quick` (it takes ~25x longer than the rest).\n\n" \
        if quick and HAVE_PYTABKIT else "" if HAVE_PYTABKIT else (
        "RealMLP-TD is left out: pytabkit is not installed (`pip install -e .[bench]`).\n\n")
    return (
        "## Defaults that generalise\n\n"
        f"Seeds {seeds}{f', tables cut to {rows} rows' if rows else ''}; test accuracy "
        "(classification) or R² (regression), mean over seeds, with the fit seconds per "
        "seed in brackets; torch and BLAS at 1 thread for every model. `mlplab MLPClassifier()` "
        "is `MLPRegressor()` on the regression tables, `logistic / ridge` is "
        "LogisticRegression or Ridge. The machine was shared while measuring: compare times "
        "within a row, not across runs.\n\n" + note
        + "### Classification\n\n" + _table(cls, names) + "\n\n"
        + "\n".join(goals(cls)) + "\n\n### Regression (R²)\n\n" + _table(reg, names)
        + f"\n\nSection time: {time.perf_counter() - t0:.0f} s.")


def main(argv: list[str] | None = None) -> None:
    """Compare ``mlplab.train`` with ``--set`` overrides against its defaults."""
    from mlplab.config import parse_value

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--set", action="append", default=[], help="KEY=VALUE override")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--regression", action="store_true", help="the regression tables")
    ap.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (quick: 1, else 3)")
    ap.add_argument("--tables", default="", help="comma-separated table-name prefixes")
    ap.add_argument("--sklearn", action="store_true", help="scikit-learn's MLP beside them")
    ap.add_argument("--realmlp", action="store_true", help="RealMLP-TD beside them (pytabkit)")
    args = ap.parse_args(argv)
    seeds, rows = ([0], QUICK_ROWS) if args.quick else ([0, 1, 2], None)
    if args.seeds is not None:
        seeds = list(range(args.seeds))
    variants = {"sklearn MLP": MODELS["sklearn MLP"]} if args.sklearn else {}
    if args.realmlp:
        variants["RealMLP-TD"] = _estimator(_realmlp)
    variants["defaults"] = _mlplab_train({})
    for item in args.set:
        key, _, value = item.partition("=")
        variants[item] = _mlplab_train({key: parse_value(value)})
    if len(args.set) > 1:
        variants["all of them"] = _mlplab_train(
            {k: parse_value(v) for k, _, v in (s.partition("=") for s in args.set)})
    tables = REGRESSION if args.regression else CLASSIFICATION
    if args.tables:
        tables = {k: v for k, v in tables.items()
                  if any(k.startswith(t) for t in args.tables.split(","))}
    print(_table(measure(variants, tables, not args.regression, seeds, rows), list(variants)))


if __name__ == "__main__":
    main()
