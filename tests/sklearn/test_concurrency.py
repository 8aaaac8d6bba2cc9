"""sklearn + threads: a fitted estimator is safe to call from many threads (prediction never
changes the model), works under joblib's threading backend, and the thread policy
(mlplab.threads) follows the limits an outer parallelism sets."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import joblib
import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.inspection import permutation_importance
from threadpoolctl import threadpool_limits
from torch import nn

from mlplab import threads
from mlplab.sklearn.estimator import MLPClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def fitted():
    X, y = make_classification(400, n_features=8, random_state=0)
    return MLPClassifier((32,), max_iter=20, random_state=0).fit(X, y), X, y


def test_eight_threads_predicting_at_once_agree_with_one(fitted):
    """Regression (issue 16): predict_proba flipped the shared model between float64 and
    float32 in place, so concurrent calls raised 'mat1 and mat2 must have the same dtype'."""
    clf, X, _ = fitted
    expected = clf.predict_proba(X)
    params_before = {k: v.clone() for k, v in clf.model_.state_dict().items()}

    def call(i: int) -> np.ndarray:
        rows = slice(i % 7, None)  # different row counts: different shapes in flight
        return clf.predict_proba(X[rows]), rows

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(call, range(8 * 60)))
    for proba, rows in results:
        np.testing.assert_array_equal(proba, expected[rows])
    for k, v in clf.model_.state_dict().items():
        assert v.dtype == params_before[k].dtype and torch.equal(v, params_before[k])


def test_permutation_importance_under_the_threading_backend(fitted):
    clf, X, y = fitted
    serial = permutation_importance(clf, X, y, n_repeats=3, random_state=0, n_jobs=1)
    with joblib.parallel_backend("threading", n_jobs=2):
        threaded = permutation_importance(clf, X, y, n_repeats=3, random_state=0, n_jobs=2)
    np.testing.assert_array_equal(threaded.importances, serial.importances)


def test_policy_takes_one_thread_for_small_steps_and_the_allowance_for_big_ones():
    small, big = nn.Linear(20, 100), nn.Linear(2048, 2048)
    with threads.restoring():
        assert threads.apply(small, rows=200) == 1  # 2.4 MFLOP per step
        torch.set_num_threads(2)
        assert threads.apply(big, rows=1024) == min(2, threads.allowed_threads())
        assert threads.apply(small, rows=200, setting=3) == 3  # a setting wins


def test_policy_never_exceeds_an_outer_threadpool_limit():
    """threadpoolctl (what joblib uses to limit inner threads) caps the policy."""
    big = nn.Linear(2048, 2048)
    with threads.restoring(), threadpool_limits(limits=1, user_api="openmp"):
        assert threads.allowed_threads() == 1
        assert threads.apply(big, rows=1024) == 1


def test_fit_leaves_the_callers_thread_count_alone_in_worker_threads(fitted):
    """Fits in several threads at once (as GridSearchCV's threading backend runs them) each
    restore their own thread's count."""
    _, X, y = fitted

    def fit_and_count(seed: int) -> int:
        # torch gives a new thread the process-wide count at its first get/parallel op;
        # do that first, so the count set next is this thread's own
        torch.get_num_threads()
        torch.set_num_threads(2)
        MLPClassifier((8,), max_iter=3, random_state=seed).fit(X, y)
        return torch.get_num_threads()

    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(fit_and_count, range(4))) == [2, 2, 2, 2]


@pytest.mark.slow
def test_loky_workers_get_no_more_threads_than_joblib_gives_them():
    """joblib's loky workers start with OMP_NUM_THREADS = cores // n_jobs; the policy's
    allowance (what a step big enough to want every core gets) stays within it."""
    n_jobs = 2
    expected = max(1, (joblib.cpu_count() or 1) // n_jobs)
    with joblib.parallel_backend("loky", n_jobs=n_jobs):
        got = joblib.Parallel()(joblib.delayed(threads.allowed_threads)() for _ in range(2))
    assert all(allowed <= expected for allowed in got)


def test_the_policy_covers_the_whole_fit_not_only_the_loop(fitted, monkeypatch):
    """Building the module and the optimizer (and the fused runner's probe) run on the
    policy's one thread too: on the caller's threads each small op waits for a busy core."""
    from mlplab.sklearn import base

    _, X, y = fitted
    seen: list[int] = []
    build = base.build_optimizer

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(torch.get_num_threads())
        return build(*args, **kwargs)

    monkeypatch.setattr(base, "build_optimizer", spy)
    with threads.restoring():
        torch.set_num_threads(2)
        MLPClassifier((8,), max_iter=2, random_state=0).fit(X, y)
        assert seen == [1] and torch.get_num_threads() == 2
