"""Scorers that apply a task's own performance measure (``score_task``) to a CV split.

``score_task`` needs the trials' metadata (periods, angles, masks, the multi-task layout),
which a scikit-learn scorer does not receive: it is called as ``scorer(estimator, X, y)`` on
the split's arrays only. A :class:`TaskScorer` therefore holds the whole task Bunch and finds
the split's trials in it by the content of their input sequences (one hash per trial), so it
works on the plain arrays ``bunch.X, bunch.y`` of a task (for example a frozen one) passed
to ``cross_validate`` or ``GridSearchCV``.
"""

from __future__ import annotations

import hashlib

import numpy as np
from sklearn.utils import Bunch

__all__ = ["TaskScorer", "task_scorer", "task_scorers", "subset_task"]

_AGGREGATES = {"mean": np.mean, "min": np.min}


def subset_task(bunch, index):
    """The trials ``index`` of a task Bunch, with every per-trial field cut alike.

    Parameters
    ----------
    bunch : sklearn.utils.Bunch
        From ``make_task``, ``make_multitask`` or ``load_frozen``.
    index : array-like of int

    Returns
    -------
    sklearn.utils.Bunch
        Same keys; ``X``, ``y``, ``mask``, ``task_ids`` and every array in ``periods`` and
        ``meta`` restricted to ``index``; ``task_names``, ``params``, ``layout`` unchanged.
    """
    index = np.asarray(index, dtype=np.intp)
    n = len(bunch.X)
    out = Bunch(**bunch)
    for key in ("X", "y", "mask", "task_ids"):
        if key in bunch and bunch[key] is not None:
            out[key] = np.asarray(bunch[key])[index]
    for key in ("periods", "meta"):
        if key in bunch:
            out[key] = {k: (np.asarray(v)[index] if np.ndim(v) and len(v) == n else v)
                        for k, v in bunch[key].items()}
    return out


def _row_keys(X):
    """One digest per trial of ``X`` (n, ...), from its float32 bytes (so float32 data read
    back as float64 still matches)."""
    X = np.ascontiguousarray(np.asarray(X, dtype=np.float32))
    X = X.reshape(len(X), -1)
    return [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in X]


def _load_task(task):
    if isinstance(task, str):
        from kpflow_sk.datasets import load_frozen

        return load_frozen(task)
    if not isinstance(task, Bunch) or not {"X", "y", "task_names"} <= set(task):
        raise TypeError("task must be a task Bunch (from make_task, make_multitask or "
                        "load_frozen) or the name of a frozen task; got "
                        f"{type(task).__name__}")
    return task


class TaskScorer:
    """``scorer(estimator, X, y=None)`` -> the task's own score of ``estimator`` on ``X``.

    Build it with :func:`task_scorer`. Usable wherever scikit-learn takes a scorer
    (``cross_validate(..., scoring=...)``, ``GridSearchCV(scoring=...)``), including with
    ``n_jobs`` (it pickles).

    Parameters
    ----------
    task : sklearn.utils.Bunch or str
        The task Bunch whose arrays are being split, or the name of a frozen task
        (``load_frozen(name)``).
    name : str or None, default=None
        The task to score (one of ``task.task_names``); None scores every task present in
        the split and combines them with ``aggregate``.
    aggregate : {"mean", "min"}, default="mean"
        How per-task scores are combined when ``name`` is None.
    """

    def __init__(self, task, name=None, aggregate="mean"):
        self.task = _load_task(task)
        names = list(self.task.task_names)
        if name is not None and name not in names:
            raise ValueError(f"name={name!r} is not a task of this Bunch; its tasks are "
                             f"{names}")
        if aggregate not in _AGGREGATES:
            raise ValueError(f"aggregate must be one of {sorted(_AGGREGATES)}; got "
                             f"{aggregate!r}")
        self.name = name
        self.aggregate = aggregate
        self._index = None

    def _locate(self, X):
        if self._index is None:
            index = {}
            for i, k in enumerate(_row_keys(self.task.X)):
                index.setdefault(k, i)  # identical inputs: the first such trial stands in
            self._index = index
        keys = _row_keys(X)
        rows = [self._index.get(k, -1) for k in keys]
        missing = sum(r < 0 for r in rows)
        if missing:
            raise ValueError(
                f"{missing} of the {len(rows)} trials passed to the task scorer are not in "
                "its task Bunch; score the Bunch's own X (e.g. cross_validate(est, bunch.X, "
                "bunch.y, scoring=task_scorer(bunch)))")
        return np.asarray(rows, dtype=np.intp)

    def __call__(self, estimator, X, y=None, **kwargs):
        from kpflow_sk.datasets import score_task

        rows = self._locate(X)
        part = subset_task(self.task, rows)
        y_pred = np.asarray(estimator.predict(X))
        if self.name is not None:
            return score_task(self.name, y_pred, part)
        present = set(np.unique(part.task_ids).tolist())
        scores = [score_task(t, y_pred, part) for k, t in enumerate(self.task.task_names)
                  if k in present]
        return float(_AGGREGATES[self.aggregate](scores))

    def __repr__(self):
        tasks = self.name or "+".join(self.task.task_names)
        return f"task_scorer({tasks!r}, aggregate={self.aggregate!r})"


def task_scorer(task, name=None, *, aggregate="mean"):
    """A scikit-learn scorer that applies ``score_task`` to the split it is given.

    Parameters
    ----------
    task : sklearn.utils.Bunch or str
        The task Bunch whose ``X`` is split (from ``make_task``, ``make_multitask`` or
        ``load_frozen``), or a frozen task's name.
    name : str or None, default=None
        Score this task only; None: every task of the split, combined by ``aggregate``.
    aggregate : {"mean", "min"}, default="mean"

    Returns
    -------
    TaskScorer
        ``scorer(estimator, X, y=None) -> float`` (higher is better).

    Examples
    --------
    >>> from sklearn.model_selection import cross_validate
    >>> from kpflow_sk import RecurrentRegressor
    >>> from kpflow_sk.datasets import make_task
    >>> from kpflow_sk.model_selection import task_scorer
    >>> b = make_task("memory_pro", 12, stimulus_steps=2, memory_steps=2, response_steps=2,
    ...               random_state=0)
    >>> cv = cross_validate(RecurrentRegressor(hidden_size=4, max_iter=2), b.X, b.y, cv=2,
    ...                     scoring=task_scorer(b))
    >>> cv["test_score"].shape
    (2,)
    """
    return TaskScorer(task, name, aggregate)


def task_scorers(task):
    """``{task_name: scorer}`` for every task of a Bunch, for multi-metric
    ``cross_validate(scoring=...)`` (``GridSearchCV`` then needs ``refit=`` one name)."""
    bunch = _load_task(task)
    return {t: TaskScorer(bunch, t) for t in bunch.task_names}
