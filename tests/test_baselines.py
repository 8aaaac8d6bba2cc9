"""mlplab.baselines and `mlplab baseline`: same split, same preprocessing, one table."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, r2_score

from mlplab.api import prepare
from mlplab.cli.main import main
from mlplab.config import RunConfig
from mlplab.errors import ConfigError
from mlplab.inspect.baselines import MLPLAB_LABEL, boundary_grid, compare, table_rows, write_outputs

CFG = {"data": {"source": "gaussians", "n_samples": 200}, "model": {"hidden": [4]},
       "train": {"epochs": 20}, "log": {"quiet": True, "plots": False}}


def test_rows_match_sklearn_fitted_on_the_prepared_split():
    """Reference: LogisticRegression fitted by hand on prepare()'s train split."""
    rows = compare(CFG, names=["logistic", "knn"])
    assert [r.name for r in rows] == [MLPLAB_LABEL, "logistic regression",
                                      "k-nearest neighbours"]
    p = prepare(RunConfig.from_any(CFG))
    ref = LogisticRegression(max_iter=1000).fit(p.X["train"], p.y["train"])
    assert rows[1].metrics["accuracy"] == accuracy_score(p.y["test"], ref.predict(p.X["test"]))
    assert rows[1].metrics["n"] == len(p.split.test)
    table = table_rows(rows, "binary")
    assert table[1][0] == "logistic regression"
    assert table[1][1] == rows[1].metrics["accuracy"]  # columns follow columns("binary")
    assert [r[-1] for r in table] == [r.fit_seconds for r in rows]


def test_regression_uses_regressors_and_r2():
    cfg = {**CFG, "data": {"source": "linear", "n_samples": 200}, "model": {"hidden": []}}
    rows = compare(cfg, names=["logistic"])
    p = prepare(RunConfig.from_any(cfg))
    ref = Ridge().fit(p.X["train"], p.y["train"][:, 0])
    assert rows[1].metrics["r2"] == pytest.approx(r2_score(p.y["test"], ref.predict(p.X["test"])))
    assert "accuracy" not in rows[0].metrics
    # errors in the target's own units, not the standardised ones the models trained on
    scale = p.target_encoder.scaler["scale"][0]
    test_y = p.target_encoder.inverse_values(p.y["test"])[:, 0]
    pred = p.target_encoder.inverse_values(ref.predict(p.X["test"])[:, None])[:, 0]
    assert scale != pytest.approx(1.0)
    assert rows[1].metrics["mae"] == pytest.approx(float(np.abs(test_y - pred).mean()))


def test_outputs_and_boundary_grid(tmp_path):
    rows = compare(CFG, names=["knn", "random_forest"])
    p = prepare(RunConfig.from_any(CFG))
    written = write_outputs(rows, p, tmp_path)
    assert [w.name for w in written] == ["baselines.csv", "baselines.png"]
    assert (tmp_path / "baselines.csv").read_text().splitlines()[0] == \
        "model,accuracy,f1,roc_auc,fit_seconds"
    assert len(boundary_grid(rows, p, resolution=20).axes) == 3
    wide = prepare(RunConfig.from_any({**CFG, "data": {"source": "iris"}}))
    with pytest.raises(ConfigError, match="2 input features"):
        boundary_grid(rows, wide)


def test_cli_baseline(tmp_path, capsys):
    code = main(["baseline", "--data", "gaussians", "--n-samples", "200", "--epochs", "20",
                 "--only", "logistic,knn", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert code == 0 and "logistic regression" in printed and "mlplab MLP" in printed
    assert (tmp_path / "baselines.png").is_file()
    assert main(["baseline", "--data", "gaussians", "--only", "logistc"]) == 2
    assert "unknown baseline 'logistc'" in capsys.readouterr().err
