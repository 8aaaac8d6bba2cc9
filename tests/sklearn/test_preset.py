"""preset="best": the estimators give mlplab.train's default recipe (issue 27), while their
defaults stay scikit-learn's. The reference is mlplab.train itself on the same rows and seed,
predicting through its own preprocessing; the estimator's model has that scaling folded into
its layers, so the two agree to float32 rounding."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification, make_multilabel_classification, make_regression
from sklearn.model_selection import GridSearchCV

import mlplab
from mlplab.config import RunConfig
from mlplab.errors import ConfigError
from mlplab.resolve import AUTO_ENSEMBLE
from mlplab.sklearn.estimator import MLPClassifier, MLPRegressor

SEED = 4


def _reference(X, y, task: str, **data) -> mlplab.Run:
    cfg = RunConfig.from_dict({"seed": SEED, "task": task, "data": {"test_size": 0.0, **data},
                               "log": {"quiet": True, "plots": False}})
    return mlplab.train(cfg, data=(X, y), save=False, progress=False)


def _shifted(X):
    """Columns far from standard scale, so an unfolded scaling would show."""
    return X * np.arange(1, X.shape[1] + 1) * 10.0 + 100.0


def test_binary_matches_mlplab_train_with_the_positive_class_the_second_label():
    X, y = make_classification(400, 6, weights=[0.3], random_state=0)  # class 0 the minority
    X = _shifted(X)
    labels = np.where(y == 1, "yes", "no")
    est = MLPClassifier(preset="best", random_state=SEED).fit(X, labels)
    # mlplab.train reads the minority as positive unless told; the estimator's column 1 is
    # classes_[1], so the recipe states it
    ref = _reference(X, (labels == "yes").astype(int), "binary", pos_label=1)
    np.testing.assert_allclose(est.predict_proba(X)[:, 1], ref.predict_proba(X)[:, 1],
                               atol=2e-6)
    assert list(est.classes_) == ["no", "yes"]
    assert (est.predict(X) == np.where(ref.predict(X) == 1, "yes", "no")).all()
    assert est.n_iter_ == ref.info["epochs_run"] and est.best_epoch_ == ref.info["best_epoch"]
    assert est.loss_curve_ == [row["train_loss"] for row in ref.history]


def test_multiclass_matches_mlplab_train():
    X, y = make_classification(300, 5, n_informative=4, n_redundant=0, n_classes=3,
                               random_state=1)
    X = _shifted(X)
    est = MLPClassifier(preset="best", random_state=SEED).fit(X, y)
    ref = _reference(X, y, "multiclass")
    np.testing.assert_allclose(est.predict_proba(X), ref.predict_proba(X), atol=2e-6)
    assert est.score(X, y) == pytest.approx(float(np.mean(ref.predict(X) == y)))


def test_regression_with_two_targets_matches_mlplab_train_in_original_units():
    X, Y = make_regression(300, 5, n_targets=2, noise=5.0, random_state=2)
    X, Y = _shifted(X), Y * 40.0 + 1000.0  # the target scaling is folded into the last layer
    est = MLPRegressor(preset="best", random_state=SEED).fit(X, Y)
    ref = _reference(X, Y, "regression")
    np.testing.assert_allclose(est.predict(X), ref.predict(X), rtol=1e-5,
                               atol=1e-5 * np.abs(Y).max())  # float32 rounding


def test_multilabel_matches_mlplab_train():
    X, Y = make_multilabel_classification(300, 6, n_classes=3, random_state=3)
    est = MLPClassifier(preset="best", random_state=SEED).fit(X, Y)
    ref = _reference(X, Y, "multilabel")
    np.testing.assert_allclose(est.predict_proba(X), ref.predict_proba(X), atol=2e-6)


def test_the_recipe_is_mlplab_trains_resolved_defaults_and_config_changes_it():
    X, y = make_classification(300, 5, random_state=0)
    est = MLPClassifier(preset="best", random_state=0).fit(X, y)
    cfg = est.run_config_
    assert (cfg.optim.name, cfg.optim.lr, cfg.data.scale) == ("adamw", 0.01, "standard")
    assert cfg.train.early_stopping == 10 and cfg.data.val_size == pytest.approx(0.1)
    assert cfg.model.ensemble == AUTO_ENSEMBLE  # the members merged into one MLP:
    assert est.model_.spec.hidden == [100 * AUTO_ENSEMBLE]
    changed = MLPClassifier(preset="best", random_state=0,
                            config={"optim.lr": 0.003, "train.epochs": 50}).fit(X, y)
    assert changed.run_config_.optim.lr == 0.003 and changed.n_iter_ <= 50


def test_the_defaults_stay_scikit_learns():
    X, y = make_classification(100, 5, random_state=0)
    est = MLPClassifier(random_state=0, max_iter=5).fit(X, y)
    assert est.preset == "sklearn" and est.run_config_.optim.name == "adam"
    assert est.run_config_.data.scale == "none"


@pytest.mark.parametrize(("param", "value"), [("alpha", 0.1), ("solver", "sgd"),
                                                ("max_iter", 50), ("early_stopping", True),
                                                ("learning_rate_init", 0.01)])
def test_a_training_parameter_the_recipe_sets_is_refused_not_ignored(param, value):
    X, y = make_classification(60, 5, random_state=0)
    with pytest.raises(ValueError, match=f"which sets {param}: leave it at its default"):
        MLPClassifier(preset="best", **{param: value}).fit(X, y)


def test_partial_fit_sample_weight_and_a_clipped_scale_are_refused():
    X, y = make_classification(60, 5, random_state=0)
    with pytest.raises(ValueError, match="partial_fit is not available"):
        MLPClassifier(preset="best").partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="sample_weight"):
        MLPClassifier(preset="best").fit(X, y, sample_weight=np.ones(60))
    with pytest.raises(ConfigError, match=r"data\.scale='robust'"):
        MLPClassifier(preset="best", config={"data.scale": "robust"}).fit(X, y)
    with pytest.raises(ValueError, match="preset"):
        MLPClassifier(preset="fast").fit(X, y)


def test_clone_grid_search_and_pickle_keep_the_preset():
    X, y = make_classification(200, 5, random_state=0)
    est = MLPClassifier(preset="best", random_state=0)
    assert clone(est).get_params()["preset"] == "best"
    grid = GridSearchCV(est, {"hidden_layer_sizes": [(8,), (16,)]}, cv=2).fit(X, y)
    assert grid.best_estimator_.preset == "best"
    fitted = est.fit(X, y)
    back = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(back.predict_proba(X), fitted.predict_proba(X))
