"""The jobs of a comparison: arguments checked, data generated once per task, folds split.

Everything here runs before the first fold does, so that a bad argument fails at once (with
:class:`~sklearn.utils._param_validation.InvalidParameterError`, a ``ValueError``, naming
the argument), never after ``connect_timeout`` or on a remote worker.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import InvalidParameterError

from kpflow_sk.model_selection._dask import check_scheduler_address
from kpflow_sk.model_selection._threads import default_n_threads

__all__ = ["plan_comparison"]


def _label(obj):
    return obj if isinstance(obj, str) else getattr(obj, "__name__", repr(obj))


def _check_cells(cells):
    from kpflow_sk.cells import CELLS, Cell

    if isinstance(cells, (str, type)):
        cells = [cells]
    cells = list(cells)
    if not cells:
        raise InvalidParameterError("cells is empty: give at least one cell name")
    for c in cells:
        if not (isinstance(c, str) and c in CELLS) and not (
                isinstance(c, type) and issubclass(c, Cell)):
            raise InvalidParameterError(
                f"unknown cell {c!r}; valid names: {sorted(CELLS)} (or a kpflow_sk.cells.Cell "
                "subclass)")
    return cells


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
            raise InvalidParameterError(
                f"task parameters must be a dict, got {params!r} for task {key!r}")
        if isinstance(key, str):
            out.append((key, key, params))
        elif isinstance(key, (tuple, list)) and key and all(isinstance(k, str) for k in key):
            out.append(("+".join(key), tuple(key), params))
        else:
            raise InvalidParameterError(
                "each task must be a registered task name (str) or a tuple of names (a "
                f"multi-task composition); got {key!r}")
    if not out:
        raise InvalidParameterError("tasks is empty: give at least one task name")
    labels = [o[0] for o in out]
    if len(set(labels)) != len(labels):
        raise InvalidParameterError(f"tasks contains duplicates: {labels}")
    return out


def _folds(cv, bunch, random_state):
    """Train/test index pairs: stratified by task for multi-task data, shuffled K-fold else."""
    from sklearn.model_selection import KFold, StratifiedKFold, check_cv

    task_ids = bunch.task_ids
    n_tasks = len(np.unique(task_ids))
    if isinstance(cv, Integral) and not isinstance(cv, bool):
        if cv < 2:
            raise InvalidParameterError(f"cv must be at least 2 folds, got {cv}")
        if cv > len(task_ids):
            raise InvalidParameterError(
                f"cv={cv} folds but only n_samples={len(task_ids)} trials")
        if n_tasks > 1:
            splitter = StratifiedKFold(cv, shuffle=True, random_state=random_state)
        else:
            splitter = KFold(cv, shuffle=True, random_state=random_state)
    else:
        splitter = check_cv(cv)
    try:
        return [(np.asarray(tr), np.asarray(te))
                for tr, te in splitter.split(bunch.X, task_ids, None)]
    except ValueError as exc:  # e.g. more folds than trials of one task
        raise InvalidParameterError(f"cv: {exc}") from exc


def _estimators(cells, params, random_state, n_jobs, scheduler):
    """One unfitted ``RecurrentRegressor`` per cell, its parameters validated here."""
    from kpflow_sk.estimators import RecurrentRegressor

    params = dict(params or {})
    for bad in ("cell", "random_state"):
        if bad in params:
            raise InvalidParameterError(
                f"estimator_params must not set {bad!r}: compare() sets it")
    unknown = sorted(set(params) - set(RecurrentRegressor().get_params()))
    if unknown:
        raise InvalidParameterError(
            f"estimator_params: unknown RecurrentRegressor parameter(s) {unknown}")
    params.setdefault("n_threads", default_n_threads(n_jobs, scheduler))
    ests = [RecurrentRegressor(cell=cell, random_state=random_state, **params)
            for cell in cells]
    for est in ests:
        # scikit-learn's own parameter check (as fit runs it): fail here, not in a worker
        est._validate_params()
    return ests


def plan_comparison(cells, tasks, *, cv, n_jobs, scheduler, random_state, estimator_params,
                    n_samples, connect_timeout, fold_timeout):
    """Check every argument of :func:`~kpflow_sk.model_selection.compare` and build its jobs.

    Returns
    -------
    cell_labels, task_labels : list of str
        Names of the cells and tasks (a composition is ``"a+b"``), as the records give them.
    jobs : list of (estimator, fold_data)
        ``fold_data`` is ``(X, y, fit_params, train, test)`` (see ``_run_fold``).
    keys : list of (cell label, task label, fold)
        One per job, in the same order (cell x task x fold).

    Raises
    ------
    InvalidParameterError
        A bad argument (a ``ValueError`` naming it), including task parameters the task's
        generator refuses.
    """
    from kpflow_sk.datasets import make_dataset

    cells = _check_cells(cells)
    task_items = _task_items(tasks)
    if not isinstance(n_samples, Integral) or n_samples < 2:
        raise InvalidParameterError(f"n_samples must be an int >= 2, got {n_samples!r}")
    if not isinstance(random_state, Integral):
        raise InvalidParameterError(
            f"random_state must be an int (it seeds every job), got {random_state!r}")
    if n_jobs is not None and (not isinstance(n_jobs, Integral) or n_jobs == 0):
        raise InvalidParameterError(
            f"n_jobs must be None or a nonzero int (-1: all cores), got {n_jobs!r}")
    for name, val in (("connect_timeout", connect_timeout), ("fold_timeout", fold_timeout)):
        if val is not None and (not isinstance(val, Real) or val <= 0):
            raise InvalidParameterError(f"{name} must be a positive number, got {val!r}")
    if isinstance(scheduler, str):
        try:
            check_scheduler_address(scheduler)  # fail now, not after connect_timeout
        except ValueError as exc:
            raise InvalidParameterError(str(exc)) from None
    ests = _estimators(cells, estimator_params, random_state, n_jobs, scheduler)

    data = []  # per task: (label, X, y, fit params, folds); generated once, shared by cells
    for label, names, tparams in task_items:
        tparams = dict(tparams)
        # a tuple is a composition, even of one task (one rule channel)
        rule_inputs = tparams.pop("rule_inputs", "onehot" if isinstance(names, tuple) else "auto")
        try:
            bunch = make_dataset(names, n_samples, rule_inputs=rule_inputs,
                                 random_state=random_state, **tparams)
        except (ValueError, TypeError) as exc:
            raise InvalidParameterError(f"task {label!r}: {exc}") from exc
        fit_params = {"mask": bunch.mask}
        if len(bunch.task_names) > 1:
            fit_params["task_ids"] = bunch.task_ids
        data.append((label, bunch.X, bunch.y, fit_params, _folds(cv, bunch, random_state)))
    jobs, keys = [], []
    for cell, est in zip(cells, ests):
        for label, X, y, fit_params, folds in data:
            for k, (train, test) in enumerate(folds):
                jobs.append((est, (X, y, fit_params, train, test)))
                keys.append((_label(cell), label, k))
    return [_label(c) for c in cells], [t[0] for t in task_items], jobs, keys
