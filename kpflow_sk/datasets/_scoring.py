"""Scoring: each task's own performance measure, on single- or multi-task Bunches."""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch

from ._base import get_task

__all__ = ["select_task", "score_task"]


def _as_array(y_pred):
    # Accept torch tensors (possibly on a GPU, possibly requiring grad) without importing torch.
    if hasattr(y_pred, "detach"):
        y_pred = y_pred.detach().cpu().numpy()
    return np.asarray(y_pred, dtype=np.float64)


def _task_index(bunch, name):
    get_task(name)  # unknown task -> ValueError listing the registered ones
    names = list(bunch.task_names)
    if name not in names:
        raise ValueError(f"task {name!r} is not in this Bunch; its tasks are {names}")
    return names.index(name)


def select_task(bunch, name, y_pred=None):
    """The trials of one task, in that task's own layout (as :func:`make_task` returns it).

    Parameters
    ----------
    bunch : sklearn.utils.Bunch
        From :func:`make_task` or :func:`make_multitask`.
    name : str
        One of ``bunch.task_names``.
    y_pred : array-like of shape (n_samples, n_timesteps, n_outputs), optional
        Predictions for all of ``bunch``; cut the same way when given.

    Returns
    -------
    view : sklearn.utils.Bunch
        ``X`` (m, T_task, d_in_task) without rule channels, ``y``, ``mask``, ``task_ids``
        (zeros), ``task_names`` ``[name]``, ``periods`` (in the task's own steps; periods the
        task does not have are dropped), ``meta``, ``params``, ``layout`` and ``index`` (the
        rows of ``bunch`` it came from).
    y_pred_view : ndarray of shape (m, T_task, d_out_task)
        Only when ``y_pred`` is given.
    """
    k = _task_index(bunch, name)
    index = np.flatnonzero(np.asarray(bunch.task_ids) == k)
    if index.size == 0:
        raise ValueError(f"the Bunch has no trials of task {name!r}")
    lay = bunch.layout[name]
    (a, b), (c, d), (t0, t1) = lay["input"], lay["output"], lay["steps"]
    periods = {}
    for p, value in bunch.periods.items():
        value = value[index]
        # Absent periods are [-1, -1]; the composer's context period lies before t0.
        if np.all(value >= t0):
            periods[p] = value - t0
    # The composer fills keys a task lacks with NaN / None; its layout lists the task's own.
    keys = lay.get("meta", list(bunch.meta))
    meta = {key: bunch.meta[key][index] for key in keys}
    params = bunch.params.get(name, {}) if "params" in bunch else {}
    view = Bunch(
        X=bunch.X[index, t0:t1, a:b],
        y=bunch.y[index, t0:t1, c:d],
        mask=bunch.mask[index, t0:t1],
        task_ids=np.zeros(index.size, dtype=np.int64),
        task_names=[name],
        periods=periods,
        meta=meta,
        params={name: params},
        layout={name: {"input": (0, b - a), "output": (0, d - c), "steps": (0, t1 - t0)}},
        index=index,
    )
    if y_pred is None:
        return view
    y_pred = _as_array(y_pred)
    if y_pred.shape != bunch.y.shape:
        raise ValueError(f"y_pred has shape {y_pred.shape}; expected {bunch.y.shape} like "
                         f"bunch.y")
    return view, y_pred[index, t0:t1, c:d]


def score_task(name, y_pred, bunch):
    """Score predictions with the performance measure of the task's source paper.

    Parameters
    ----------
    name : str
        Registered task name present in ``bunch.task_names``. For a multi-task Bunch only
        that task's trials (and its output channels and steps) are scored.
    y_pred : array-like or torch.Tensor of shape (n_samples, n_timesteps, n_outputs)
        Predictions for every trial of ``bunch`` (same shape as ``bunch.y``).
    bunch : sklearn.utils.Bunch
        From :func:`make_task`, :func:`make_multitask` or :func:`load_frozen`.

    Returns
    -------
    score : float in [0, 1]
        Usually the fraction of trials correct; see each task's docstring / dataset card.

    Examples
    --------
    >>> from kpflow_sk.datasets import make_task, score_task
    >>> b = make_task("flipflop", 4, random_state=0)
    >>> score_task("flipflop", b.y, b)
    1.0
    """
    view, pred = select_task(bunch, name, y_pred)
    return float(get_task(name).score(pred, view))
