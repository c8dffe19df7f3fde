"""compare() and cross_validate on a Dask LocalCluster: same scores as serial, a killed worker
is a clear error, the cluster shuts down cleanly, an unreachable scheduler times out."""

import os
import socket
import time

import joblib
import numpy as np
import pytest
from _scale_helpers import TINY_PARAMS, TINY_TASK, make_killer_cell, seq_data, tiny
from sklearn.model_selection import GridSearchCV, KFold, cross_validate

from kpflow_sk.model_selection import (
    SchedulerUnreachableError,
    WorkerLostError,
    compare,
    dask_backend,
)

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning",
    # the Nanny logs and warns when the killed worker's process disappears
    "ignore::UserWarning:distributed.*",
    "ignore:.*[Pp]ort.*:UserWarning",
)

COMPARE = dict(tasks=TINY_TASK, cv=2, n_samples=12, random_state=5,
               estimator_params={**TINY_PARAMS, "n_threads": 1})


@pytest.fixture(scope="module")
def cluster():
    # no retries: a task whose worker dies fails at once (KilledWorker)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cl = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None)
    yield cl
    cl.close()  # no-op when test_cluster_shuts_down_cleanly ran


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_cross_validate_under_dask_matches_serial(cluster):
    X, y = seq_data()
    cv = KFold(2, shuffle=True, random_state=0)
    est = tiny(n_threads=1)
    with distributed.Client(cluster) as client:
        with joblib.parallel_config(backend="dask", client=client):
            par = cross_validate(est, X, y, cv=cv, n_jobs=-1)
    ser = cross_validate(est, X, y, cv=cv)
    np.testing.assert_array_equal(par["test_score"], ser["test_score"])


def test_compare_on_scheduler_address_matches_serial(cluster):
    # the address string is what `kpflow-sk compare --scheduler ADDRESS` passes
    par = compare(["rnn", "gru"], scheduler=cluster.scheduler_address, **COMPARE)
    ser = compare(["rnn", "gru"], **COMPARE)
    assert len(par) == len(ser) == 4
    for a, b in zip(par, ser):
        assert (a["cell"], a["task"], a["fold"]) == (b["cell"], b["task"], b["fold"])
        assert (a["score"], a["collapse_dim"], a["n_iter"]) == (
            b["score"], b["collapse_dim"], b["n_iter"])


def test_grid_search_on_dask_backend(cluster):
    X, y = seq_data()
    with distributed.Client(cluster) as client, dask_backend(client):
        gs = GridSearchCV(tiny(), {"hidden_size": [3, 4]}, cv=2, n_jobs=-1).fit(X, y)
    assert np.all(np.isfinite(gs.cv_results_["mean_test_score"]))


def test_killed_dask_worker_raises_clear_error(cluster):
    killer = make_killer_cell(os.getpid())
    t0 = time.perf_counter()
    with pytest.raises(WorkerLostError, match="worker process died") as info:
        compare([killer], TINY_TASK, cv=2, n_samples=8, scheduler=cluster.scheduler_address,
                estimator_params=TINY_PARAMS)
    assert time.perf_counter() - t0 < 120
    assert "KilledWorker" in str(info.value)


def test_cluster_shuts_down_cleanly(cluster):
    with distributed.Client(cluster) as client:
        client.wait_for_workers(2, timeout=120)  # the Nanny restarted the killed worker
        pids = list(client.run(os.getpid).values())
    assert len(pids) == 2 and all(_alive(p) for p in pids)
    cluster.close()
    assert cluster.status.name == "closed"
    deadline = time.time() + 30
    while any(_alive(p) for p in pids) and time.time() < deadline:
        time.sleep(0.2)
    assert not any(_alive(p) for p in pids)


def test_unreachable_scheduler_times_out():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    with pytest.raises(SchedulerUnreachableError, match="could not reach the Dask scheduler"):
        compare(["rnn"], TINY_TASK, cv=2, n_samples=8, scheduler=f"tcp://127.0.0.1:{port}",
                connect_timeout=2, estimator_params=TINY_PARAMS)
    assert time.perf_counter() - t0 < 30


def test_compare_on_local_cluster_matches_serial():
    """scheduler="local" starts (and stops) its own LocalCluster of n_jobs workers."""
    par = compare(["rnn"], scheduler="local", n_jobs=1, **COMPARE)
    ser = compare(["rnn"], **COMPARE)
    assert [r["score"] for r in par] == [r["score"] for r in ser]
