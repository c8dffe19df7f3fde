"""Dask: a worker SIGKILLed mid-run is retried by the scheduler (each job carries its own
data, so nothing it needs died with the worker), or, with no retry left, reported as one
WorkerLostError naming the lost worker: never `FutureCancelledError ... already forgotten`.
"""

import os
import signal
import threading
import time

import numpy as np
import pytest

from kpflow_sk.compare import WorkerLostError, compare
from kpflow_sk.model_selection._errors import _is_worker_loss

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning",
    "ignore::UserWarning:distributed.*",
    "ignore:.*[Pp]ort.*:UserWarning",
)

TASK = {"memory_pro": dict(stimulus_steps=2, memory_steps=2, response_steps=2)}
# 64 trials: X is 4.6 kB, above the 1 kB over which joblib's Dask backend scatters an
# argument to one worker (the data that used to die with it)
RUN = dict(tasks=TASK, cv=2, n_samples=64, random_state=3,
           estimator_params=dict(hidden_size=4, max_iter=60, kp_n_trials=4, n_threads=1))


@pytest.fixture(scope="module")
def cluster():
    cl = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None)
    client = distributed.Client(cl)
    yield cl, client
    client.close()
    cl.close()


def _set_retries(client, n):
    client.wait_for_workers(2, timeout=120)
    client.run_on_scheduler(lambda dask_scheduler, n=n: setattr(dask_scheduler,
                                                                "allowed_failures", n))


def _kill_all_workers_mid_run(client, report):
    """Thread body: once a fold is running, SIGKILL every worker process."""
    pids = client.run(os.getpid)  # {address: pid}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if any(client.processing().values()):
            time.sleep(0.3)
            report["running"] = {a: list(k) for a, k in client.processing().items() if k}
            for pid in pids.values():
                os.kill(pid, signal.SIGKILL)
            report["killed"] = pids
            return
        time.sleep(0.02)


def _run_with_killer(client, report=None, **kw):
    report = {} if report is None else report
    killer = threading.Thread(target=_kill_all_workers_mid_run, args=(client, report),
                              daemon=True)
    killer.start()
    try:
        return compare(["rnn"], scheduler=client.scheduler.address, **RUN, **kw), report
    finally:
        killer.join(5)


@pytest.mark.slow  # ~70 s on a loaded 2-core machine (a cluster run plus the serial one)
def test_dask_worker_killed_mid_run_is_retried(cluster):
    _, client = cluster
    _set_retries(client, 3)
    X_bytes = 64 * 6 * 3 * 4
    assert X_bytes > 1e3
    # connect_timeout also bounds how long the cluster may have no worker: leave restarts time
    records, report = _run_with_killer(client, connect_timeout=120)
    assert report.get("running"), "the workers were not killed while a fold ran"
    serial = compare(["rnn"], **RUN)
    assert [r["score"] for r in records] == [r["score"] for r in serial]
    assert np.all(np.isfinite([r["score"] for r in records]))


def test_dask_worker_loss_without_retries_names_the_worker(cluster):
    _, client = cluster
    _set_retries(client, 0)
    report = {}
    t0 = time.perf_counter()
    with pytest.raises(WorkerLostError) as info:
        _run_with_killer(client, report)
    assert time.perf_counter() - t0 < 120
    err, killed = info.value, set(report["killed"])
    assert err.workers and set(err.workers) <= killed, (err.workers, killed)
    message = str(err)
    assert "allowed-failures=0" in message and "died while running a job" in message
    assert all(address in message for address in err.workers)
    assert "already forgotten" not in message


def test_dask_cancelled_future_counts_as_worker_loss():
    from distributed.client import FutureCancelledError

    assert _is_worker_loss(FutureCancelledError("batch-1", "already forgotten"))
    assert not _is_worker_loss(ValueError("a bug in a fold"))
