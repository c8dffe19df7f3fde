"""Cross-validated comparison of recurrent cells on tasks: serial, on local processes, or Dask.

One record per cell x task x fold, built on :func:`sklearn.model_selection.cross_validate`
(one call per fold, so that all cell x task x fold jobs run in parallel at once)::

    >>> from kpflow_sk.model_selection import compare, summarize
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
  cluster, through joblib's Dask backend (:func:`~kpflow_sk.model_selection.dask_backend`,
  which also makes a dead worker an error rather than a hang). See ``docs/scaling.md``.

The scores depend only on ``random_state`` (data, folds and weights all derive from it), not
on where the jobs run; with the same ``n_threads`` they are equal bit for bit on CPUs.
A worker that dies (killed, out of memory) raises :class:`WorkerLostError`, never a hang; on
Dask the scheduler first retries the fold on another worker (each job carries its own data,
so a retry does not depend on the dead worker's memory). Ctrl-C during a serial run raises
``KeyboardInterrupt`` and returns no records (an interrupted fold is never recorded).
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from numbers import Integral

import numpy as np

from kpflow_sk.interrupt import SigintRecord, record_sigint
from kpflow_sk.model_selection._dask import dask_backend
from kpflow_sk.model_selection._errors import WorkerLostError, _is_worker_loss
from kpflow_sk.model_selection._plan import plan_comparison

__all__ = ["compare", "summarize", "RECORD_FIELDS", "SUMMARY_FIELDS"]

#: keys of every record returned by :func:`compare`
RECORD_FIELDS = ("cell", "task", "fold", "score", "collapse_dim", "fit_time", "score_time",
                 "analysis_time", "n_iter", "n_train", "n_test", "device")
#: numeric record fields that :func:`summarize` reduces to mean and sd over folds
SUMMARY_FIELDS = ("score", "collapse_dim", "fit_time", "score_time", "analysis_time", "n_iter")
# SIGINTs seen during the serial compare() running in this process (never set in a worker)
_SERIAL_SIGINT = SigintRecord()


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
        :func:`~kpflow_sk.model_selection.default_n_threads` ``(n_jobs, scheduler)``.
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
    InvalidParameterError
        A bad argument (a ``ValueError``: sklearn's parameter error), before any fold runs:
        e.g. an unknown cell, estimator parameter or task parameter, more folds than trials.
    WorkerLostError
        A worker process died during the run.
    SchedulerUnreachableError
        ``scheduler`` could not be reached within ``connect_timeout``.
    """
    from sklearn.utils.parallel import Parallel, delayed

    cell_labels, task_labels, planned, keys = plan_comparison(
        cells, tasks, cv=cv, n_jobs=n_jobs, scheduler=scheduler, random_state=random_state,
        estimator_params=estimator_params, n_samples=n_samples,
        connect_timeout=connect_timeout, fold_timeout=fold_timeout)
    jobs = [delayed(_run_fold)(est, fold_data) for est, fold_data in planned]

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
                f"cells {cell_labels} x tasks {task_labels}); "
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
