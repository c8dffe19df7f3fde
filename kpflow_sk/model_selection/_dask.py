"""joblib's Dask backend, fixed so that a dead worker is an error and never a hang.

:func:`dask_backend` is ``joblib.parallel_config(backend="dask")`` plus a check of the
scheduler address, a connection timeout and a watch on the workers; ``compare(scheduler=...)``
runs its folds inside it, and any scikit-learn code can (``GridSearchCV(..., n_jobs=-1)``).
See ``docs/scaling.md``.
"""

from __future__ import annotations

import re
import threading
import time
from contextlib import contextmanager

from kpflow_sk.model_selection._errors import (
    SchedulerUnreachableError,
    WorkerLostError,
    _is_worker_loss,
)

__all__ = ["dask_backend", "check_scheduler_address"]

# retries of a task whose worker died, on a LocalCluster started by dask_backend("local")
_LOCAL_ALLOWED_FAILURES = 1


def _worker_addresses(client):
    try:
        return set(client.scheduler_info(n_workers=-1)["workers"])
    except Exception:  # the scheduler is gone too: nothing more to learn
        return set()


class _WorkerFailure:
    """Marks a Dask future that failed outside the function (its worker died)."""

    def __init__(self, exc):
        self.exc = exc


def _safe_dask_backend_class():
    """joblib's Dask backend, fixed so that a dead worker raises instead of hanging.

    joblib (1.6) hands results back through a callback that its Dask backend calls only for
    futures that finished; a future that errs outside the function (``KilledWorker``) sets
    the exception on joblib's future but never calls the callback, so ``Parallel`` waits
    forever. Here a done-callback on that future forwards the failure through the callback.
    """
    from joblib._dask import DaskDistributedBackend

    class SafeDaskBackend(DaskDistributedBackend):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            # joblib collects results through distributed.as_completed, which never yields a
            # future the scheduler cancelled (e.g. "already forgotten" after its worker died):
            # Parallel would wait forever. A done-callback on every Dask future reports those.
            track = self.waiting_futures.add

            def add(dask_future):
                dask_future.add_done_callback(self._forward_cancelled)
                return track(dask_future)

            self.waiting_futures.add = add

        def _forward_cancelled(self, dask_future):
            if dask_future.status != "cancelled":
                return
            from distributed.client import FutureCancelledError

            self._fail(dask_future, FutureCancelledError(
                dask_future.key, "cancelled by the scheduler (its worker died, or the "
                "cluster is shutting down)"))

        def _fail(self, dask_future, exc):
            """Complete a pending job with ``exc`` through joblib's own callback."""
            cf_future = self._results.pop(dask_future, None)
            callback = self._callbacks.pop(dask_future, None)
            if cf_future is None:  # already collected
                return
            exc._kpflow_forwarded = True  # the cf_future's own done-callback: not twice
            cf_future.set_exception(exc)
            if callback is not None:
                callback(_WorkerFailure(exc))

        def watch_workers(self, stop, grace):
            """Thread body: when the cluster has had no worker for ``grace`` seconds while
            jobs are pending (every worker died and none came back), fail those jobs with
            ``WorkerLostError`` instead of letting ``Parallel`` wait forever.
            Hand-written: Dask waits for new workers indefinitely by design."""
            seen, empty_since = set(), None
            while not stop.wait(1.0):
                now = _worker_addresses(self.client)
                seen |= now
                if now or not self._results:
                    empty_since = None
                    continue
                empty_since = empty_since or time.monotonic()
                if time.monotonic() - empty_since < grace:
                    continue
                for dask_future in list(self._results):
                    self._fail(dask_future, WorkerLostError(
                        f"every Dask worker is gone ({', '.join(sorted(seen))}) and none "
                        f"came back within {grace:g} s while the job waited",
                        workers=sorted(seen)))
                return

        def submit(self, func, callback=None):
            future = super().submit(func, callback=callback)
            if callback is not None and self.supports_retrieve_callback:
                def forward_failure(f):
                    try:
                        exc = f.exception()
                    except BaseException as cancelled:  # a cancelled future
                        exc = cancelled
                    if exc is not None and not getattr(exc, "_kpflow_forwarded", False):
                        callback(_WorkerFailure(exc))

                future.add_done_callback(forward_failure)
            return future

        def retrieve_result_callback(self, out):
            if isinstance(out, _WorkerFailure):
                if _is_worker_loss(out.exc):
                    raise self._worker_lost(out.exc) from out.exc
                raise out.exc
            return super().retrieve_result_callback(out)

        def _worker_lost(self, exc):
            # runs in the client's event-loop thread: no blocking calls to the scheduler here
            # (dask_backend adds the workers that disappeared, from the main thread)
            named = re.findall(r"last worker that attempt(?:ed)? to run the task was "
                               r"(\S+?)\.?(?:\s|$)", str(exc))
            named += list(getattr(exc, "workers", ()))
            return WorkerLostError(f"{type(exc).__name__}: {exc}", workers=named)

        def get_nested_backend(self):
            return SafeDaskBackend(client=self.client), -1

    return SafeDaskBackend


_PROTOCOLS = ("tcp", "tls", "ws", "wss", "ucx", "inproc")


def check_scheduler_address(address):
    """Check the form of a scheduler address: ``"local"`` or ``[PROTOCOL://]HOST:PORT``.

    Returns
    -------
    str
        ``address`` unchanged.

    Raises
    ------
    ValueError
        Naming the address, e.g. ``"not-an-address"`` (which Dask would otherwise try to
        reach until ``connect_timeout``).

    Examples
    --------
    >>> check_scheduler_address("tcp://10.0.0.5:8786")
    'tcp://10.0.0.5:8786'
    """
    from urllib.parse import urlsplit

    if address == "local":
        return address
    parts = port = None
    if isinstance(address, str):
        try:
            parts = urlsplit(address if "://" in address else f"tcp://{address}")
            port = parts.port
        except ValueError:
            parts = None
    if (parts is None or parts.scheme not in _PROTOCOLS or not parts.hostname or port is None
            or parts.path not in ("", "/") or parts.query or parts.fragment):
        raise ValueError(
            f"not a Dask scheduler address: {address!r}; expected 'local' or "
            f"[PROTOCOL://]HOST:PORT, e.g. tcp://10.0.0.5:8786 (PROTOCOL one of "
            f"{', '.join(_PROTOCOLS)}), or a distributed.Client")
    return address


def _allowed_failures(client):
    try:
        return client.run_on_scheduler(
            lambda dask_scheduler: dask_scheduler.allowed_failures)
    except Exception:
        return "unknown"


@contextmanager
def dask_backend(scheduler="local", *, n_workers=None, connect_timeout=30.0):
    """Run joblib (hence scikit-learn's ``n_jobs``) on a Dask cluster.

    Like ``joblib.parallel_config(backend="dask")``, with two fixes: the scheduler must
    answer within ``connect_timeout``, and a worker that dies, once the scheduler has no
    retry left for its task, makes ``Parallel`` raise :class:`WorkerLostError` (naming the
    lost workers; ``distributed.KilledWorker`` is its cause) instead of waiting forever (a
    joblib bug).

    Parameters
    ----------
    scheduler : "local", str or distributed.Client, default="local"
        ``"local"`` starts a LocalCluster of ``n_workers`` single-threaded processes
        (default: one per core; a task whose worker dies is retried once) and shuts it down
        on exit; an address (``"tcp://host:8786"``) connects to a running scheduler; a
        ``Client`` is used as is and not closed.
    n_workers : int, optional
        Workers of the local cluster.
    connect_timeout : float, default=30
        Seconds allowed to reach the scheduler, and for it to have a worker.

    Yields
    ------
    distributed.Client

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> with dask_backend("tcp://10.0.0.5:8786"):  # doctest: +SKIP
    ...     GridSearchCV(RecurrentRegressor(), grid, n_jobs=-1).fit(X, y)
    """
    try:
        import dask
        import distributed
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            "scheduler=... runs on Dask and needs dask.distributed: "
            "pip install 'kpflow_sk[distributed]'") from exc
    from joblib import cpu_count, parallel_config

    cluster = client = None
    own_client = not isinstance(scheduler, distributed.Client)
    try:
        if not own_client:
            client = scheduler
        else:
            address = check_scheduler_address(scheduler)
            if scheduler == "local":
                with dask.config.set({"distributed.scheduler.allowed-failures":
                                      _LOCAL_ALLOWED_FAILURES}):
                    cluster = distributed.LocalCluster(
                        n_workers=n_workers or cpu_count(), threads_per_worker=1,
                        processes=True, dashboard_address=None)
                address = cluster
            try:
                client = distributed.Client(address, timeout=connect_timeout,
                                            set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise SchedulerUnreachableError(
                    f"could not reach the Dask scheduler at {scheduler!r} within "
                    f"connect_timeout={connect_timeout:g} s ({type(exc).__name__}: {exc}). "
                    "Check the address (tcp://HOST:PORT, as printed by `dask scheduler`), "
                    "that the scheduler is running and that its port is open from here; "
                    "scheduler='local' starts a cluster on this machine.") from None
        backend = _safe_dask_backend_class()(client=client,
                                             wait_for_workers_timeout=connect_timeout)
        before = _worker_addresses(client)
        stop = threading.Event()
        threading.Thread(target=backend.watch_workers, args=(stop, connect_timeout),
                         name="kpflow-dask-watch", daemon=True).start()
        try:
            with parallel_config(backend=backend):
                yield client
        except WorkerLostError as exc:
            # the workers present at the start that are gone now (a restarted worker comes
            # back under another address), and the one the scheduler named
            lost = sorted(set(exc.workers) | (before - _worker_addresses(client)))
            raise WorkerLostError(
                f"Dask worker(s) {', '.join(lost) or '(address unknown)'} died while running a "
                f"job and the scheduler gave up on it (allowed-failures="
                f"{_allowed_failures(client)}: a job whose worker dies is retried on another "
                f"worker that many times). Original error: {exc}", workers=lost) from exc
        finally:
            stop.set()
    finally:
        if own_client and client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
