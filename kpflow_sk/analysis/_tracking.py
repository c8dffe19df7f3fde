"""Tracking during fit: the analysis batch, the snapshot, and the record schema.

The estimators call these functions; plotting, the CLI and the report read the records
through :data:`HISTORY_FIELDS` instead of retyping their keys. Every rank in a record is
computed by :class:`~kpflow_sk.analysis.KPDecomposition` with its own seed and default budget,
and ``collapse_dim`` by :func:`~kpflow_sk.analysis.collapse_dim`, so a record of the final
weights equals ``collapse_dim_`` and ``kp_decompose_.summary()``.
"""

from __future__ import annotations

import numpy as np

from kpflow_sk import linalg
from kpflow_sk.analysis._collapse import collapse_dim

__all__ = ["HISTORY_FIELDS", "HISTORY_LABELS", "TABLE_FIELDS", "SUMMARY_FIELDS", "RANK_FIELDS",
           "select_analysis_trials", "analysis_batch", "measures_record", "snapshot"]

#: Rank fields of a record: field -> (operator, axis, reduce, method, convention)
#: (docs/conventions.md section 3.1; ``"figure"`` with its default ``ncomp``, 20 for K, 60 for P).
RANK_FIELDS = {
    "rank_K": ("K", None, None, "pr", "default"),
    "rank_P": ("P", None, None, "pr", "default"),
    "rank_Theta": ("Theta", None, None, "pr", "default"),
    "rank_K_time": ("K", "time", "mean", "pr", "default"),
    "rank_P_time": ("P", "time", "mean", "pr", "default"),
    "rank_Theta_time": ("Theta", "time", "mean", "pr", "default"),
    "rank_K_time_figure": ("K", "time", "mean", None, "figure"),
    "rank_P_time_figure": ("P", "time", "mean", None, "figure"),
}

#: The ``kp_history_`` record schema: field -> what it holds. Every record has every field.
HISTORY_FIELDS = {
    "iteration": "epochs completed when the snapshot was taken (0: at initialisation)",
    "loss": "training loss on the analysis batch (the loss KPDecomposition computes err from)",
    "train_loss": "mean training loss of the last epoch (None at iteration 0)",
    "rank_K": "effective rank (pr) of K on the whole trajectory space",
    "rank_P": "effective rank (pr) of P P* on the whole trajectory space",
    "rank_Theta": "effective rank (pr) of Theta on the whole trajectory space",
    "rank_K_time": "effective rank (pr) of K on the time axis, reduce='mean'",
    "rank_P_time": "effective rank (pr) of P P* on the time axis, reduce='mean'",
    "rank_Theta_time": "effective rank (pr) of Theta on the time axis, reduce='mean'",
    "rank_K_time_figure": "the paper's figure rank of K on the time axis (convention "
                          "'figure', ncomp 20)",
    "rank_P_time_figure": "the paper's figure rank of P P* on the time axis (convention "
                          "'figure', ncomp 60)",
    "collapse_dim": "collapse dimension (kpflow_sk.analysis.collapse_dim; = rank_Theta)",
    "collapse_dim_estimate": "collapse_dim with its uncertainty and applications "
                             "(linalg.format_estimate), e.g. '38.5 ± 0.4 (1%, 400 "
                             "applications)'",
    "task_alignment": "(n_tasks, n_tasks) cosines of the per-task updates, nested list; None "
                      "without task labels",
    "convention": "effective-rank convention of the rank fields without a '_figure' suffix "
                  "(docs/conventions.md section 3.1)",
}

#: Short label of each field, for table headers and figure legends.
HISTORY_LABELS = {
    "iteration": "iteration", "loss": "loss", "train_loss": "train loss",
    "rank_K": "rank K", "rank_P": "rank P P*", "rank_Theta": "rank Theta",
    "rank_K_time": "rank K (time)", "rank_P_time": "rank P P* (time)",
    "rank_Theta_time": "rank Theta (time)", "rank_K_time_figure": "rank K (time, figure)",
    "rank_P_time_figure": "rank P P* (time, figure)", "collapse_dim": "collapse dim",
    "collapse_dim_estimate": "collapse dim (estimate)",
    "task_alignment": "task alignment", "convention": "convention",
}
#: Fields of the printed training table (CLI, report).
TABLE_FIELDS = ("iteration", "loss", "rank_K", "rank_P", "collapse_dim", "rank_K_time",
                "rank_Theta_time", "rank_P_time_figure")
#: Fields of the printed end-of-training table (CLI, report).
SUMMARY_FIELDS = ("collapse_dim", "rank_K", "rank_P", "rank_Theta_time")


def select_analysis_trials(n_samples, n_trials, task_ids, rng):
    """Indices of the analysis batch: ``n_trials`` trials, stratified by task.

    Each task gets a share proportional to its size (largest remainder), at least one trial
    when ``n_trials >= n_tasks``; trials within a task are drawn at random.

    Parameters
    ----------
    n_samples : int
    n_trials : int
    task_ids : ndarray of shape (n_samples,) or None
    rng : numpy.random.RandomState

    Returns
    -------
    idx : ndarray of int, sorted
    """
    if n_trials >= n_samples:
        return np.arange(n_samples)
    if task_ids is None:
        return np.sort(rng.choice(n_samples, size=n_trials, replace=False))
    labels, inverse, counts = np.unique(task_ids, return_inverse=True, return_counts=True)
    quota = counts * n_trials / n_samples
    take = np.floor(quota).astype(int)
    if n_trials >= len(labels):
        take = np.maximum(take, 1)
    # hand out what is left by largest remainder, never more than a task has
    while take.sum() < n_trials:
        room = np.where(take < counts, quota - take, -np.inf)
        take[int(np.argmax(room))] += 1
    while take.sum() > n_trials:
        take[int(np.argmax(take - quota))] -= 1
    idx = [rng.choice(np.flatnonzero(inverse == k), size=t, replace=False)
           for k, t in enumerate(take) if t > 0]
    return np.sort(np.concatenate(idx))


def analysis_batch(X3, targets, weight, task_ids, train_idx, n_trials, rng):
    """The analysis batch of a fit: ``n_trials`` training trials, stratified by task.

    Parameters
    ----------
    X3 : ndarray of shape (n, T, d)
    targets : ndarray
        Targets in the estimator's loss form (first axis: trials).
    weight : ndarray of shape (n,) or (n, T), or None
    task_ids : ndarray of shape (n,) or None
    train_idx : ndarray of int
        Indices of the training trials (the batch is drawn from these).
    n_trials : int
    rng : numpy.random.RandomState

    Returns
    -------
    batch : dict
        ``X``, ``target``, ``weight``, ``task_ids`` of the selected trials.
    seed : int
        Seed of every randomized measure on this batch (drawn from ``rng`` after the trials).
    """
    pick = select_analysis_trials(len(train_idx), n_trials,
                                  None if task_ids is None else task_ids[train_idx], rng)
    sel = train_idx[pick]
    batch = dict(X=X3[sel], target=targets[sel],
                 weight=None if weight is None else weight[sel],
                 task_ids=None if task_ids is None else task_ids[sel])
    return batch, int(rng.randint(np.iinfo(np.int32).max))


def measures_record(D):
    """The measured fields of a record (every field of :data:`HISTORY_FIELDS` except
    ``iteration``, ``loss`` and ``train_loss``)."""
    # rank_Theta is the collapse dimension by definition: the same call (D caches it)
    res = collapse_dim(D, return_result=True)
    rec = {"collapse_dim": float(res.value),
           "collapse_dim_estimate": linalg.format_estimate(res)}
    for field, (name, axis, reduce, method, convention) in RANK_FIELDS.items():
        rec[field] = D.effective_rank(name, axis=axis, reduce=reduce, method=method,
                                      convention=convention)
    ta = D.task_alignment()
    rec["task_alignment"] = None if ta is None else ta.tolist()
    rec["convention"] = "default"
    return rec


def snapshot(D, iteration, train_loss=None):
    """One ``kp_history_`` record of a decomposition, with every field of HISTORY_FIELDS.

    Parameters
    ----------
    D : KPDecomposition
        Built with the training loss (``loss_fn``); its ``loss`` is the record's ``loss``.
    iteration : int
    train_loss : float or None

    Returns
    -------
    dict
    """
    rec = {"iteration": int(iteration), "loss": D.loss,
           "train_loss": None if train_loss is None else float(train_loss)}
    rec.update(measures_record(D))
    return {k: rec[k] for k in HISTORY_FIELDS}
