"""How many torch threads each parallel fit gets, so that workers do not oversubscribe the
CPU cores (the threads are then set and restored by
:func:`kpflow_sk.estimators.torch_threads`, through the estimator's ``n_threads``)."""

from __future__ import annotations

__all__ = ["default_n_threads"]


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
