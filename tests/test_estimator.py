"""sklearn.estimator: scikit-learn's own estimator checks, pipelines and searches, incremental
training, weights, multi-label, persistence, and agreement with ``mlplab train``."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.compose import ColumnTransformer
from sklearn.datasets import (
    load_breast_cancer,
    make_blobs,
    make_classification,
    make_multilabel_classification,
)
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

import mlplab
from mlplab.errors import ConfigError, DataError, RunError
from mlplab.sklearn.estimator import MLPClassifier, MLPRegressor, load_estimator, save

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# scikit-learn's estimator checks run in tests/sklearn/test_checks_*.py (defaults, sgd,
# lbfgs, tanh, early stopping, module=)


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(300, centers=3, n_features=4, cluster_std=2.0, random_state=0)
    return X.astype(np.float32), y


def _clf(**kw):
    params = {"hidden_layer_sizes": (16,), "learning_rate_init": 0.01, "max_iter": 60,
              "random_state": 0}
    return MLPClassifier(**{**params, **kw})


def test_pipeline_with_column_transformer_and_string_labels():
    rng = np.random.default_rng(0)
    n = 240
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n) * 10,
                       "color": rng.choice(["red", "green", "blue"], size=n)})
    y = np.where(df["a"] + 0.1 * df["b"] + (df["color"] == "red") > 0.5, "yes", "no")
    pre = ColumnTransformer([("num", StandardScaler(), ["a", "b"]),
                             ("cat", OneHotEncoder(), ["color"])])
    pipe = make_pipeline(pre, _clf(max_iter=150)).fit(df, y)
    assert pipe.score(df, y) > 0.9
    assert set(pipe.predict(df)) == {"no", "yes"}
    assert pipe[-1].classes_.tolist() == ["no", "yes"]


def test_dataframe_feature_names_are_kept(blobs):
    X, y = blobs
    frame = pd.DataFrame(X, columns=["p", "q", "r", "s"])
    clf = _clf(max_iter=5).fit(frame, y)
    assert clf.feature_names_in_.tolist() == ["p", "q", "r", "s"]
    assert clf.n_features_in_ == 4


def test_grid_search_and_cross_val_score(blobs):
    X, y = blobs
    search = GridSearchCV(_clf(max_iter=30), {"hidden_layer_sizes": [(4,), (16,)],
                                              "alpha": [1e-4, 1e-2]}, cv=3).fit(X, y)
    assert search.best_score_ > 0.85
    assert set(search.best_params_) == {"hidden_layer_sizes", "alpha"}
    scores = cross_val_score(_clf(max_iter=30), X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.8


def test_partial_fit_needs_classes_then_learns(blobs):
    X, y = blobs
    clf = _clf()
    with pytest.raises(DataError, match="classes must be passed on the first call"):
        clf.partial_fit(X[:50], y[:50])
    for _ in range(20):
        for i in range(0, len(X), 100):
            clf.partial_fit(X[i:i + 100], y[i:i + 100], classes=[0, 1, 2])
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 60  # n_iter_: this call's epochs
    assert clf.score(X, y) > 0.9
    with pytest.raises(DataError, match="classes not in classes_"):
        clf.partial_fit(X[:5], np.full(5, 7))


def test_warm_start_continues_and_cold_start_restarts(blobs):
    X, y = blobs
    warm = _clf(max_iter=5, warm_start=True).fit(X, y)
    first_curve = list(warm.loss_curve_)
    warm.fit(X, y)
    assert warm.n_iter_ == 5 and warm.loss_curve_[:5] == first_curve
    assert warm.loss_curve_[5] < first_curve[0]  # continued from trained weights
    cold = _clf(max_iter=5).fit(X, y)
    again = cold.predict_proba(X)
    cold.fit(X, y)
    assert cold.n_iter_ == 5
    np.testing.assert_array_equal(cold.predict_proba(X), again)


def test_sample_weight_of_two_equals_a_repeated_row_in_full_batch():
    """Reference: a weight of 2 is the same loss as the row written twice (full batch)."""
    X, y = make_classification(60, n_features=5, random_state=1)
    w = np.where(np.arange(60) % 3 == 0, 2.0, 1.0)
    rep = np.repeat(np.arange(60), w.astype(int))
    kw = {"batch_size": 1000, "max_iter": 40, "n_iter_no_change": 100}
    a = _clf(**kw).fit(X, y, sample_weight=w)
    b = _clf(**kw).fit(X[rep], y[rep])
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-5)


def test_class_weight_matches_sample_weight_and_helps_the_minority():
    X, y = make_classification(400, n_features=6, weights=[0.9, 0.1], class_sep=0.5,
                               random_state=0)
    by_dict = _clf(class_weight={0: 1.0, 1: 4.0}).fit(X, y)
    by_sw = _clf().fit(X, y, sample_weight=np.where(y == 1, 4.0, 1.0))
    np.testing.assert_array_equal(by_dict.predict_proba(X), by_sw.predict_proba(X))
    plain = _clf().fit(X, y)
    balanced = _clf(class_weight="balanced").fit(X, y)
    recall = [(m.predict(X)[y == 1] == 1).mean() for m in (plain, balanced)]
    assert recall[1] > recall[0]


def test_multilabel_targets():
    X, Y = make_multilabel_classification(200, n_features=8, n_classes=3, random_state=0)
    clf = _clf(max_iter=100).fit(X, Y)
    assert clf.classes_.tolist() == [0, 1, 2] and clf.out_activation_ == "logistic"
    assert clf.predict(X).shape == (200, 3) and set(np.unique(clf.predict(X))) <= {0, 1}
    proba = clf.predict_proba(X)
    assert proba.shape == (200, 3) and not np.allclose(proba.sum(axis=1), 1.0)
    assert clf.score(X, Y) > 0.5  # subset accuracy
    assert clf.task_.name == "multilabel" and clf.task_.loss == "bce_logits"


def test_regressor_multi_output_and_losses():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    Y = np.column_stack([X @ [1.0, -1.0, 0.5], X[:, 0] * 2])
    reg = MLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.01, max_iter=200,
                       random_state=0).fit(X, Y)
    assert reg.predict(X).shape == (200, 2) and reg.score(X, Y) > 0.9
    assert reg.out_activation_ == "identity" and reg.task_.loss == "mse"
    assert MLPRegressor(loss="absolute_error", max_iter=2).fit(X, Y[:, 0]).task_.loss == "l1"


def test_pickle_round_trip_stores_numpy_not_tensors(blobs):
    X, y = blobs
    clf = _clf(max_iter=10).fit(X, y)
    state = clf.__getstate__()
    weights = state["model_"]["weights"]
    assert all(isinstance(v, np.ndarray) for v in weights.values())
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    back.partial_fit(X, y)  # the optimizer state came along too
    clf.partial_fit(X, y)
    np.testing.assert_allclose(back.predict_proba(X), clf.predict_proba(X), atol=1e-6)


def test_save_and_load_estimator(tmp_path):
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    labels = np.array(["benign", "malignant"])[y]
    clf = _clf(max_iter=20, early_stopping=True).fit(X, labels)
    path = save(clf, tmp_path / "clf")
    assert {"model.safetensors", "model.json", "config.yaml"} <= {p.name for p in path.iterdir()}
    back = load_estimator(path)
    assert isinstance(back, MLPClassifier) and back.get_params() == clf.get_params()
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))
    assert back.classes_.tolist() == ["benign", "malignant"]
    assert back.loss_curve_ == pytest.approx(clf.loss_curve_)
    assert back.validation_scores_ == pytest.approx(clf.validation_scores_)
    run = mlplab.load(path)  # the same directory, read as a Run
    assert run.predict(X[:20]).tolist() == clf.predict(X[:20]).tolist()
    with pytest.raises(RunError, match="not saved from an mlplab estimator"):
        plain = mlplab.train({"data": {"source": "moons", "n_samples": 100},
                              "train": {"epochs": 2}, "log": {"quiet": True}},
                             out=tmp_path / "plain")
        load_estimator(plain.path)


@pytest.mark.parametrize("kw", [{}, {"solver": "sgd", "batch_size": 32, "momentum": 0.5}])
def test_estimator_agrees_with_mlplab_train(kw):
    """Same RunConfig and seed -> the estimator and `mlplab train` end with equal weights
    (with alpha=0 and a RunConfig init: RunConfig has no weights-only L2 and no Glorot init
    with uniform biases, see docs/estimator.md)."""
    X, y = make_classification(150, n_features=4, random_state=0)
    X = X.astype(np.float32)
    clf = _clf(max_iter=30, n_iter_no_change=30, random_state=3, alpha=0.0, init="default",
               **kw).fit(X, y)
    run = mlplab.train(clf.run_config_, data=(X, y), save=False, progress=False)
    for (k, a), b in zip(clf.model_.state_dict().items(), run.model.state_dict().values(),
                         strict=True):
        torch.testing.assert_close(a, b, msg=k)
    np.testing.assert_array_equal(clf.predict(X), run.predict(X))


def test_sklearn_parameter_meanings():
    X, y = make_classification(300, n_features=6, random_state=0)
    clf = MLPClassifier((8, 4), activation="logistic", alpha=0.2, batch_size=50, max_iter=3,
                        random_state=0).fit(X, y)
    cfg = clf.run_config_
    assert cfg.model.hidden == [8, 4] and cfg.model.activation == "sigmoid"
    assert cfg.optim.weight_decay == pytest.approx(0.2 / 50) and cfg.train.batch_size == 50
    assert [c.shape for c in clf.coefs_] == [(6, 8), (8, 4), (4, 1)]
    assert clf.n_layers_ == 4 and clf.n_outputs_ == 1 and clf.out_activation_ == "logistic"
    assert MLPClassifier(max_iter=1).fit(X, y).run_config_.train.batch_size == 200


def test_accuracy_close_to_sklearn_mlp_on_breast_cancer():
    """Reference: scikit-learn's MLPClassifier with the same parameters."""
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    tr, te = np.arange(len(X)) % 4 != 0, np.arange(len(X)) % 4 == 0
    params = {"hidden_layer_sizes": (32,), "max_iter": 60, "random_state": 0}
    ours = MLPClassifier(**params).fit(X[tr], y[tr]).score(X[te], y[te])
    ref = SkMLPClassifier(**params).fit(X[tr], y[tr]).score(X[te], y[te])
    assert ours >= ref - 0.03


def test_early_stopping_and_sgd_learning_rates(blobs):
    X, y = blobs
    es = _clf(max_iter=200, early_stopping=True, n_iter_no_change=3).fit(X, y)
    assert len(es.validation_scores_) == es.n_iter_ and es.best_loss_ is None
    assert es.best_validation_score_ == max(es.validation_scores_)
    inv = _clf(solver="sgd", learning_rate="invscaling", max_iter=4, power_t=0.5).fit(X, y)
    assert inv._optimizer.param_groups[0]["lr"] == pytest.approx(0.01 / (inv.t_ + 1) ** 0.5)
    ada = _clf(solver="sgd", learning_rate="adaptive", max_iter=40, n_iter_no_change=1,
               tol=10.0).fit(X, y)
    assert ada._optimizer.param_groups[0]["lr"] < 0.01


def test_verbose_prints_sklearn_lines(blobs, capsys):
    X, y = blobs
    _clf(max_iter=2, verbose=True).fit(X, y)
    assert "Iteration 1, loss = " in capsys.readouterr().out


@pytest.mark.parametrize(("params", "match"), [
    ({"config": {"optim.lr": -1}}, "optim.lr"),
    ({"scheduler": "cosine", "solver": "sgd", "learning_rate": "adaptive"},
     "both set the learning rate"),
])
def test_bad_parameters_fail_in_fit_with_mlplab_messages(blobs, params, match):
    X, y = blobs
    clf = MLPClassifier(**params)  # __init__ never validates
    with pytest.raises(ConfigError, match=match):
        clf.fit(X, y)


@pytest.mark.parametrize(("params", "match"), [
    ({"max_iter": 0}, "The 'max_iter' parameter of MLPClassifier must be an int in the range"),
    ({"activation": "rellu"}, "The 'activation' parameter of MLPClassifier must be a str among"),
    ({"dropout": 1.5}, "The 'dropout' parameter of MLPClassifier must be a float in the range"),
    ({"init": "nope"}, "The 'init' parameter of MLPClassifier must be a str among"),
])
def test_bad_parameters_raise_sklearns_invalid_parameter_error(blobs, params, match):
    """mlplab's extras are checked by the same _parameter_constraints machinery."""
    X, y = blobs
    with pytest.raises(InvalidParameterError, match=match):
        MLPClassifier(**params).fit(X, y)


def test_thread_count_is_restored_after_fit_and_predict(blobs):
    """The thread policy sets this thread's torch count during fit/predict, then gives the
    caller's back (no leaked global state)."""
    X, y = blobs
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        clf = _clf(max_iter=3).fit(X, y)
        assert torch.get_num_threads() == 2
        clf.predict_proba(X)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_save_refuses_a_pipeline_and_names_overwrite_for_an_existing_directory(tmp_path, blobs):
    """Regression (issue 16): mlplab.save(pipeline) said the Pipeline was not fitted, and the
    hint for an existing directory named the CLI flag instead of overwrite=True."""
    X, y = blobs
    pipe = make_pipeline(StandardScaler(), _clf(max_iter=3)).fit(X, y)
    with pytest.raises(RunError, match=r"not a Pipeline.*mlplab.save\(pipe\[-1\], path\)"):
        mlplab.save(pipe, tmp_path / "pipe")
    path = mlplab.save(pipe[-1], tmp_path / "clf")
    with pytest.raises(RunError, match="pass overwrite=True"):
        mlplab.save(pipe[-1], path)
    mlplab.save(pipe[-1], path, overwrite=True)
