"""The estimators under joblib (loky) process parallelism: n_jobs=2, thread caps, memmaps,
and a worker killed mid-run."""

import os
import time
import warnings

import joblib
import numpy as np
import pytest
import torch
from _scale_helpers import (
    TINY_PARAMS,
    TINY_TASK,
    ThreadRecordingRegressor,
    fit_in_worker,
    make_killer_cell,
    seq_data,
    tiny,
)
from sklearn.model_selection import GridSearchCV, KFold, cross_validate

from kpflow_sk.model_selection import WorkerLostError, compare, default_n_threads

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_cross_validate_n_jobs_2_matches_serial():
    X, y = seq_data()
    cv = KFold(2, shuffle=True, random_state=0)
    est = tiny(n_threads=1)
    par = cross_validate(est, X, y, cv=cv, n_jobs=2)
    ser = cross_validate(est, X, y, cv=cv, n_jobs=None)
    np.testing.assert_array_equal(par["test_score"], ser["test_score"])
    assert np.all(np.isfinite(par["test_score"]))


def test_grid_search_n_jobs_2():
    X, y = seq_data()
    gs = GridSearchCV(tiny(), {"hidden_size": [3, 4]}, cv=2, n_jobs=2).fit(X, y)
    assert gs.best_params_["hidden_size"] in (3, 4)
    assert np.all(np.isfinite(gs.cv_results_["mean_test_score"]))
    assert gs.best_estimator_.predict(X).shape == y.shape


def test_torch_threads_capped_in_joblib_workers():
    """In a loky worker, fit runs with the cap: ``n_threads`` when set, else joblib's
    per-worker share ``cpu_count() // n_jobs`` (joblib sets OMP_NUM_THREADS in its workers,
    which torch reads at start-up)."""
    X, y = seq_data()
    share = max(1, joblib.cpu_count() // 2)
    for n_threads, expected in ((None, share), (1, 1)):
        res = cross_validate(ThreadRecordingRegressor(**TINY_PARAMS, n_threads=n_threads,
                                                      random_state=0),
                             X, y, cv=2, n_jobs=2, return_estimator=True)
        seen = [e.seen_threads_ for e in res["estimator"]]
        assert all(pid != os.getpid() for pid in (e.seen_pid_ for e in res["estimator"]))
        assert seen == [expected, expected], (n_threads, seen)


def test_n_threads_caps_serial_fit_and_is_restored():
    X, y = seq_data(n=8)
    before = torch.get_num_threads()  # 2 (tests/conftest.py)
    est = ThreadRecordingRegressor(**TINY_PARAMS, n_threads=1, random_state=0).fit(X, y)
    assert est.seen_threads_ == 1
    assert torch.get_num_threads() == before


def test_default_n_threads_splits_the_cores(monkeypatch):
    monkeypatch.setattr(joblib, "cpu_count", lambda *a, **k: 16)
    assert default_n_threads(None) is None
    assert default_n_threads(1) is None
    assert default_n_threads(4) == 4
    assert default_n_threads(32) == 1
    assert default_n_threads(scheduler="tcp://x:1") == 1
    with joblib.parallel_config(n_jobs=2):
        assert default_n_threads(None) == 8


def test_compare_n_jobs_2_matches_serial():
    kw = dict(tasks=TINY_TASK, cv=2, n_samples=12, random_state=3,
              estimator_params={**TINY_PARAMS, "n_threads": 1})
    par = compare(["rnn", "gru"], n_jobs=2, **kw)
    ser = compare(["rnn", "gru"], **kw)
    assert [(r["cell"], r["task"], r["fold"]) for r in par] == [
        (c, "memory_pro", k) for c in ("rnn", "gru") for k in (0, 1)]
    for a, b in zip(par, ser):
        assert (a["score"], a["collapse_dim"], a["n_iter"]) == (
            b["score"], b["collapse_dim"], b["n_iter"])


def test_readonly_memmap_from_joblib_workers():
    """joblib hands large arrays to workers as read-only memmaps (``max_nbytes``); fit,
    predict, transform, score and decompose take them as they are."""
    X, y = seq_data(n=12)
    with joblib.parallel_config(max_nbytes=1, mmap_mode="r"):
        out = joblib.Parallel(n_jobs=2)(
            joblib.delayed(fit_in_worker)(tiny(), X, y) for _ in range(2))
    for info in out:
        assert info["type"] == "memmap" and not info["writeable"]
        assert info["finite"] and np.isfinite(info["score"]) and info["collapse"] > 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_readonly_memmap_in_process(tmp_path, dtype):
    X, y = seq_data(n=10)
    paths = {}
    for name, a in (("X", X), ("y", y)):
        paths[name] = tmp_path / f"{name}.dat"
        m = np.memmap(paths[name], dtype=dtype, mode="w+", shape=a.shape)
        m[:] = a
        m.flush()
        del m
    Xm = np.memmap(paths["X"], dtype=dtype, mode="r", shape=X.shape)
    ym = np.memmap(paths["y"], dtype=dtype, mode="r", shape=y.shape)
    with warnings.catch_warnings():
        # torch warns when it wraps a non-writable array: the estimator must copy first
        warnings.filterwarnings("error", message=".*not writ")
        est = tiny(dtype="float32" if dtype == np.float32 else "float64").fit(Xm, ym)
        est.predict(Xm)
        est.transform(Xm)
        est.score(Xm, ym)
        assert est.decompose(Xm, ym).collapse_dim() > 0
    assert not Xm.flags.writeable  # untouched


def test_killed_loky_worker_raises_clear_error():
    killer = make_killer_cell(os.getpid())
    t0 = time.perf_counter()
    with pytest.raises(WorkerLostError, match="worker process died") as info:
        compare([killer], TINY_TASK, cv=2, n_samples=8, n_jobs=2,
                estimator_params=TINY_PARAMS)
    assert time.perf_counter() - t0 < 120
    assert "TerminatedWorkerError" in str(info.value)
