"""Cross-validated comparison of recurrent cells on tasks: serial, on local processes, or Dask.

One record per cell x task x fold, built on :func:`sklearn.model_selection.cross_validate`
(one call per fold, so that all cell x task x fold jobs run in parallel at once)::

    >>> from kpflow_sk.compare import compare, summarize
    >>> recs = compare(["rnn", "gru"], {"memory_pro": dict(stimulus_steps=2, memory_steps=2,
    ...                                                     response_steps=2)},
    ...                cv=2, n_samples=8, estimator_params=dict(hidden_size=4, max_iter=2,
    ...                                                         kp_n_trials=4))
    >>> sorted(recs[0])  # doctest: +NORMALIZE_WHITESPACE
    ['analysis_time', 'cell', 'collapse_dim', 'device', 'fit_time', 'fold', 'n_iter',
     'n_test', 'n_train', 'score', 'score_time', 'task']
    >>> [(s["cell"], s["n_folds"]) for s in summarize(recs)]
    [('rnn', 2), ('gru', 2)]

Where the jobs run:

- ``n_jobs`` (no ``scheduler``): joblib's current backend (loky processes by default). Each
  worker gets ``n_threads = cpu_count() // n_jobs`` torch threads unless
  ``estimator_params`` sets ``n_threads``, so workers do not oversubscribe the cores.
- ``scheduler="local"``: a :class:`distributed.LocalCluster` of single-threaded worker
  processes, started and shut down here.
- ``scheduler="tcp://host:8786"`` (or a :class:`distributed.Client`): an existing Dask
  cluster, through joblib's Dask backend (:func:`dask_backend`, which also makes a dead
  worker an error rather than a hang). See ``docs/scaling.md``.

The scores depend only on ``random_state`` (data, folds and weights all derive from it), not
on where the jobs run; with the same ``n_threads`` they are equal bit for bit on CPUs.
A worker that dies (killed, out of memory) raises :class:`WorkerLostError`, never a hang; on
Dask the scheduler first retries the fold on another worker (each job carries its own data,
so a retry does not depend on the dead worker's memory). Ctrl-C during a serial run raises
``KeyboardInterrupt`` and returns no records (an interrupted fold is never recorded).
"""

from __future__ import annotations

import re
import threading
import time
from contextlib import contextmanager, nullcontext
from numbers import Integral, Real

import numpy as np

from kpflow_sk._interrupt import SigintRecord, record_sigint

__all__ = ["compare", "summarize", "dask_backend", "default_n_threads", "check_scheduler_address",
           "WorkerLostError", "SchedulerUnreachableError", "RECORD_FIELDS"]

#: keys of every record returned by :func:`compare`
RECORD_FIELDS = ("cell", "task", "fold", "score", "collapse_dim", "fit_time", "score_time",
                 "analysis_time", "n_iter", "n_train", "n_test", "device")
#: numeric record fields that :func:`summarize` reduces to mean and sd over folds
SUMMARY_FIELDS = ("score", "collapse_dim", "fit_time", "score_time", "analysis_time", "n_iter")
# retries of a task whose worker died, on a LocalCluster started by compare(scheduler="local")
_LOCAL_ALLOWED_FAILURES = 1
# SIGINTs seen during the serial compare() running in this process (never set in a worker)
_SERIAL_SIGINT = SigintRecord()


class WorkerLostError(RuntimeError):
    """A worker process died (killed by a signal, the OOM killer or a batch scheduler) while
    running a fold, and no retry was left; the comparison is abandoned.

    Attributes
    ----------
    workers : list of str
        Addresses of the Dask workers that were lost (empty when unknown, e.g. loky).
    """

    def __init__(self, message, workers=()):
        super().__init__(message)
        self.workers = list(workers)


class SchedulerUnreachableError(ConnectionError):
    """The Dask scheduler given to :func:`compare` could not be reached in time."""


# ====================================================================== helpers
def default_n_threads(n_jobs=None, scheduler=None):
    """Torch threads per fit so that parallel workers do not oversubscribe the CPU cores.

    Parameters
    ----------
    n_jobs : int or None
        joblib's ``n_jobs`` (None: the active ``joblib.parallel_config``, else 1).
    scheduler : str, Client or None
        With a Dask scheduler each worker thread runs one fit: 1 thread.

    Returns
    -------
    int or None
        ``max(1, cpu_count() // n_workers)``; None (torch's own setting) when serial.

    Examples
    --------
    >>> default_n_threads(None) is None
    True
    >>> default_n_threads(scheduler="local")
    1
    """
    if scheduler is not None:
        return 1
    from joblib import cpu_count, effective_n_jobs

    n = effective_n_jobs(n_jobs)
    if n <= 1:
        return None
    return max(1, cpu_count() // n)


def _label(obj):
    return obj if isinstance(obj, str) else getattr(obj, "__name__", repr(obj))


def _task_items(tasks):
    """Normalise ``tasks`` to a list of ``(label, names, params)``."""
    if isinstance(tasks, (str, tuple)):
        tasks = [tasks]
    if isinstance(tasks, dict):
        items = list(tasks.items())
    else:
        items = [(t, {}) for t in tasks]
    out = []
    for key, params in items:
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise ValueError(f"task parameters must be a dict, got {params!r} for task {key!r}")
        if isinstance(key, str):
            out.append((key, key, params))
        elif isinstance(key, (tuple, list)) and key and all(isinstance(k, str) for k in key):
            out.append(("+".join(key), tuple(key), params))
        else:
            raise ValueError(
                "each task must be a registered task name (str) or a tuple of names (a "
                f"multi-task composition); got {key!r}")
    if not out:
        raise ValueError("tasks is empty: give at least one task name")
    labels = [o[0] for o in out]
    if len(set(labels)) != len(labels):
        raise ValueError(f"tasks contains duplicates: {labels}")
    return out


def _make_data(names, params, n_samples, random_state):
    from kpflow_sk.datasets import make_multitask, make_task

    if isinstance(names, str):
        return make_task(names, n_samples, random_state=random_state, **params)
    return make_multitask(list(names), n_samples, random_state=random_state, **params)


def _folds(cv, bunch, random_state):
    """Train/test index pairs: stratified by task for multi-task data, shuffled K-fold else."""
    from sklearn.model_selection import KFold, StratifiedKFold, check_cv

    task_ids = bunch.task_ids
    n_tasks = len(np.unique(task_ids))
    if isinstance(cv, Integral) and not isinstance(cv, bool):
        if cv < 2:
            raise ValueError(f"cv must be at least 2 folds, got {cv}")
        if cv > len(task_ids):
            raise ValueError(f"cv={cv} folds but only n_samples={len(task_ids)} trials")
        if n_tasks > 1:
            splitter = StratifiedKFold(cv, shuffle=True, random_state=random_state)
        else:
            splitter = KFold(cv, shuffle=True, random_state=random_state)
    else:
        splitter = check_cv(cv)
    return [(np.asarray(tr), np.asarray(te))
            for tr, te in splitter.split(bunch.X, task_ids, None)]


def _run_fold(estimator, fold_data):
    """Fit and score one fold with ``cross_validate``; runs inside a worker.

    ``fold_data`` is ``(X, y, fit_params, train, test)`` in one tuple: joblib's Dask backend
    scatters each large array argument to a single worker, and a task whose scattered input
    died with that worker is cancelled ("already forgotten") instead of retried. Inside a
    tuple the arrays travel with the task, so the scheduler can rerun it anywhere.

    Metadata routing sends ``mask`` and ``task_ids`` to ``fit`` and ``mask`` to ``score``
    (masked R^2 on the held-out trials). ``collapse_dim_`` is computed here, in the worker,
    so that only a small record travels back.
    """
    import sklearn
    from sklearn.base import clone
    from sklearn.model_selection import cross_validate

    X, y, fit_params, train, test = fold_data
    with sklearn.config_context(enable_metadata_routing=True):
        est = clone(estimator)
        est.set_fit_request(**{k: True for k in fit_params})
        if "mask" in fit_params:
            est.set_score_request(mask=True)
        res = cross_validate(est, X, y, cv=[(train, test)], params=fit_params,
                             return_estimator=True, error_score="raise", n_jobs=1)
    # a serial run in this process: a Ctrl-C that fit swallowed stops the comparison here
    _SERIAL_SIGINT.check("compare()")
    fitted = res["estimator"][0]
    t0 = time.perf_counter()
    # the analysis runs lazily, outside fit's thread cap: cap it too (same threads, same bits)
    from kpflow_sk.estimators import torch_threads  # one implementation

    with torch_threads(fitted.n_threads):
        collapse = float(fitted.collapse_dim_)
    return {"score": float(res["test_score"][0]), "collapse_dim": collapse,
            "fit_time": float(res["fit_time"][0]), "score_time": float(res["score_time"][0]),
            "analysis_time": time.perf_counter() - t0, "n_iter": int(fitted.n_iter_),
            "n_train": int(len(train)), "n_test": int(len(test)),
            "device": str(fitted.device_)}


def _is_worker_loss(exc):
    from concurrent.futures.process import BrokenProcessPool

    # loky: TerminatedWorkerError (a BrokenProcessPool); Dask: distributed.KilledWorker, or a
    # task cancelled because the scheduler forgot it (FutureCancelledError)
    return (isinstance(exc, (BrokenProcessPool, WorkerLostError))
            or type(exc).__name__ in ("KilledWorker", "FutureCancelledError"))


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


# ====================================================================== public API
def compare(cells, tasks, *, cv=3, n_jobs=None, scheduler=None, random_state=0,
            estimator_params=None, n_samples=256, connect_timeout=30.0, fold_timeout=None,
            verbose=0):
    """Cross-validate ``RecurrentRegressor`` for every cell on every task.

    Parameters
    ----------
    cells : str, Cell subclass, or sequence of them
        Cell names (``"rnn"``, ``"leaky_rnn"``, ``"gru"``, ``"node"``) or user cell classes.
    tasks : str, sequence, or dict
        Registered task names (see :func:`kpflow_sk.datasets.list_tasks`); a tuple of names is
        one multi-task data set (:func:`~kpflow_sk.datasets.make_multitask`, labelled
        ``"a+b"``, folds stratified by task). A dict maps each such task to its generator
        parameters, e.g. ``{"memory_pro": {"memory_steps": 10}}``.
    cv : int or cross-validation splitter, default=3
        An int is a shuffled K-fold seeded by ``random_state`` (stratified by task for
        multi-task data); a splitter is used as given (``split(X, task_ids)``).
    n_jobs : int or None, default=None
        Parallel jobs (cell x task x fold). None is serial unless a ``joblib.parallel_config``
        is active; with ``scheduler``, None uses every Dask worker.
    scheduler : None, "local", str or distributed.Client, default=None
        Run the jobs on Dask: ``"local"`` starts a LocalCluster of single-threaded processes
        (``n_jobs`` of them, default one per core; a task whose worker dies is retried once);
        an address such as ``"tcp://10.0.0.5:8786"`` connects to a running scheduler; a
        ``Client`` is used as is (and not closed).
    random_state : int, default=0
        Seeds the data, the folds and every estimator: results do not depend on the
        scheduling.
    estimator_params : dict, optional
        Parameters of :class:`~kpflow_sk.RecurrentRegressor` (``hidden_size``,
        ``max_iter``, ``device``, ...). ``n_threads`` defaults to
        :func:`default_n_threads` ``(n_jobs, scheduler)``.
    n_samples : int, default=256
        Trials generated per task.
    connect_timeout : float, default=30
        Seconds allowed to connect to the scheduler and for it to have a worker.
    fold_timeout : float or None, default=None
        Seconds allowed per fold when running in parallel (``TimeoutError`` after).
    verbose : int, default=0
        1 or more: a tqdm progress bar over the folds (on stderr); 2 or more also passes
        ``verbose - 1`` to joblib.

    Returns
    -------
    records : list of dict
        One per cell x task x fold, in that order, with keys ``RECORD_FIELDS``: ``cell``,
        ``task``, ``fold``, ``score`` (R^2 on the held-out trials, masked by the task's loss
        mask), ``collapse_dim`` (the fitted estimator's ``collapse_dim_``), ``fit_time``,
        ``score_time``, ``analysis_time`` (seconds for ``collapse_dim``), ``n_iter``,
        ``n_train``, ``n_test``, ``device``.

    Raises
    ------
    WorkerLostError
        A worker process died during the run.
    SchedulerUnreachableError
        ``scheduler`` could not be reached within ``connect_timeout``.
    """
    from sklearn.utils.parallel import Parallel, delayed

    from kpflow_sk.cells import CELLS, Cell
    from kpflow_sk.estimators import RecurrentRegressor

    if isinstance(cells, (str, type)):
        cells = [cells]
    cells = list(cells)
    if not cells:
        raise ValueError("cells is empty: give at least one cell name")
    for c in cells:
        if not (isinstance(c, str) and c in CELLS) and not (
                isinstance(c, type) and issubclass(c, Cell)):
            raise ValueError(f"unknown cell {c!r}; valid names: {sorted(CELLS)} (or a "
                             "kpflow_sk.cells.Cell subclass)")
    task_items = _task_items(tasks)
    if not isinstance(n_samples, Integral) or n_samples < 2:
        raise ValueError(f"n_samples must be an int >= 2, got {n_samples!r}")
    if not isinstance(random_state, Integral):
        raise ValueError(f"random_state must be an int (it seeds every job), got "
                         f"{random_state!r}")
    for name, val in (("connect_timeout", connect_timeout), ("fold_timeout", fold_timeout)):
        if val is not None and (not isinstance(val, Real) or val <= 0):
            raise ValueError(f"{name} must be a positive number, got {val!r}")
    if isinstance(scheduler, str):
        check_scheduler_address(scheduler)  # fail now, not after connect_timeout
    params = dict(estimator_params or {})
    for bad in ("cell", "random_state"):
        if bad in params:
            raise ValueError(f"estimator_params must not set {bad!r}: compare() sets it")
    params.setdefault("n_threads", default_n_threads(n_jobs, scheduler))

    data = []  # per task: (label, X, y, fit params, folds); generated once, shared by cells
    for label, names, tparams in task_items:
        bunch = _make_data(names, tparams, n_samples, random_state)
        fit_params = {"mask": bunch.mask}
        if len(bunch.task_names) > 1:
            fit_params["task_ids"] = bunch.task_ids
        data.append((label, bunch.X, bunch.y, fit_params, _folds(cv, bunch, random_state)))
    jobs, keys = [], []
    for cell in cells:
        est = RecurrentRegressor(cell=cell, random_state=random_state, **params)
        for label, X, y, fit_params, folds in data:
            for k, (train, test) in enumerate(folds):
                jobs.append(delayed(_run_fold)(est, (X, y, fit_params, train, test)))
                keys.append((_label(cell), label, k))

    if scheduler is not None:
        n_workers = n_jobs if isinstance(n_jobs, Integral) and n_jobs > 0 else None
        backend = dask_backend(scheduler, n_workers=n_workers, connect_timeout=connect_timeout)
        n_jobs = -1 if n_jobs is None else n_jobs
    else:
        backend = nullcontext()
    global _SERIAL_SIGINT
    outer = _SERIAL_SIGINT
    try:
        with backend, record_sigint() as interrupted:
            _SERIAL_SIGINT = interrupted
            par = Parallel(n_jobs=n_jobs, timeout=fold_timeout, verbose=max(0, verbose - 1),
                           return_as="generator" if verbose else "list")
            results = par(jobs)
            if verbose:
                from tqdm.auto import tqdm

                results = list(tqdm(results, total=len(jobs), desc="compare", unit="fold"))
            # a Ctrl-C that a fit swallowed (serial): no records from an interrupted fold
            interrupted.check("compare()")
    except Exception as exc:
        if _is_worker_loss(exc):
            raise WorkerLostError(
                f"a worker process died while running the comparison ({len(jobs)} folds: "
                f"cells {[_label(c) for c in cells]} x tasks {[t[0] for t in task_items]}); "
                "no result was kept. It was killed by a signal, by the out-of-memory killer or "
                "by a batch scheduler's time/memory limit, or it crashed. Lower n_jobs, "
                "hidden_size or n_samples, or read the worker's log. Original error: "
                f"{type(exc).__name__}: {exc}", workers=getattr(exc, "workers", ())) from exc
        if isinstance(exc, TimeoutError) and fold_timeout is not None:
            raise TimeoutError(
                f"a fold ran longer than fold_timeout={fold_timeout:g} s; the comparison was "
                "abandoned") from exc
        raise
    finally:
        _SERIAL_SIGINT = outer
    return [{"cell": cell, "task": task, "fold": fold, **res}
            for (cell, task, fold), res in zip(keys, results)]


def summarize(records):
    """Mean and standard deviation over folds for every cell x task.

    Parameters
    ----------
    records : list of dict
        As returned by :func:`compare` (a ``pandas.DataFrame(...).to_dict("records")`` works
        too).

    Returns
    -------
    list of dict
        One per cell x task, in order of first appearance: ``cell``, ``task``, ``n_folds``
        and ``<field>_mean``, ``<field>_sd`` for each numeric field (score, collapse_dim,
        fit_time, score_time, analysis_time, n_iter) present. ``sd`` is the sample standard
        deviation (ddof=1; 0.0 for a single fold).

    Examples
    --------
    >>> recs = [{"cell": "gru", "task": "t", "fold": k, "score": s} for k, s in
    ...         enumerate([0.5, 0.7])]
    >>> s = summarize(recs)[0]
    >>> s["n_folds"], round(s["score_mean"], 6), round(s["score_sd"], 6)
    (2, 0.6, 0.141421)
    """
    groups = {}
    for r in records:
        try:
            key = (r["cell"], r["task"])
        except KeyError as exc:
            raise ValueError(f"every record needs 'cell' and 'task' keys; got {sorted(r)}") \
                from exc
        groups.setdefault(key, []).append(r)
    out = []
    for (cell, task), rows in groups.items():
        s = {"cell": cell, "task": task, "n_folds": len(rows)}
        for field in SUMMARY_FIELDS:
            vals = [r[field] for r in rows if field in r and r[field] is not None]
            if not vals:
                continue
            v = np.asarray(vals, dtype=np.float64)
            s[f"{field}_mean"] = float(v.mean())
            s[f"{field}_sd"] = float(v.std(ddof=1)) if v.size > 1 else 0.0
        out.append(s)
    return out
