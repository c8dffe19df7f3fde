"""Measures of a decomposition beyond one rank: per-task updates and their alignment, and the
table of effective ranks (docs/conventions.md section 3)."""

from __future__ import annotations

import numpy as np
import torch

from kpflow_sk import linalg
from kpflow_sk.analysis._conventions import (
    CONVENTIONS,
    check_convention,
    figure_rank,
    resolve_ncomp,
)

__all__ = ["compute_rank", "kernel_mean", "linalg_keywords", "mean_spectrum", "task_updates",
           "task_alignment", "rank_table", "AXES", "REDUCTIONS", "METHODS"]

#: Where a rank is measured: the whole trajectory space (None) or one of linalg's axes.
AXES = (None, *linalg.AXES)
#: linalg's axis reductions and rank definitions, as the table iterates them.
REDUCTIONS = tuple(linalg.REDUCTIONS)
METHODS = tuple(linalg.RANK_METHODS)


def linalg_keywords(D, n_applications, block_size=None, rtol=None, max_applications=None):
    """Keywords of a randomized linalg call: seed, budget or tolerance, cap.

    A budget (``n_applications``, else the decomposition's ``n_probes``) without ``rtol``
    is a fixed budget; otherwise the estimate adapts to ``rtol`` (default
    ``linalg.DEFAULT_RTOL``, 2%) up to ``max_applications``.
    """
    kw = {"random_state": D.random_state, "rtol": rtol, "max_applications": max_applications}
    n = n_applications if n_applications is not None else D.n_probes
    if n is not None:
        kw["n_applications"] = n
    if block_size is not None:
        kw["block_size"] = block_size
    return kw


def kernel_mean(K, axis, square):
    """K's (``square``: K^2's) exact closed-form mean compression onto ``axis`` for the
    structured cells, as an AxisReduction: one K probe or one GEMM instead of an application
    per axis index (:meth:`~kpflow_sk.operators.ParameterOperator.axis_mean`); None when
    the cell has no closed form."""
    a = linalg.AXES[axis] if isinstance(axis, str) else axis
    R = K.axis_mean(a, square)
    return None if R is None else linalg.AxisReduction((R + R.mT) / 2, a, "mean", 1, True, 1)


def compute_rank(D, name, axis, reduce, method, convention, ncomp, n_applications, exact,
                 block_size, rtol, max_applications):
    """The :class:`~kpflow_sk.linalg.EffectiveRank` behind :meth:`KPDecomposition.effective_rank`
    (arguments resolved by :func:`~kpflow_sk.analysis._conventions.resolve_measure`)."""
    if axis is not None and reduce == "mean":
        # exact: one reduction serves every convention and method of this operator
        lam, red = D.mean_gram_eigenvalues(name, axis, convention)
        if method == "figure":
            value = figure_rank(lam, resolve_ncomp(ncomp, name, lam.size))
        else:
            value = (linalg.participation_ratio(lam) if method == "pr" else
                     linalg.var95_rank(lam)[0])
        return linalg.EffectiveRank(value, method, red.n_applications, red.exact, red.axis,
                                    "mean", float(np.clip(lam, 0, None).sum()))
    A = D.factor(name, convention, smaller_side=axis is None)
    return linalg.effective_rank(A, method=method, axis=axis, reduce=reduce, gram=True,
                                 exact=exact, **linalg_keywords(D, n_applications, block_size, rtol,
                                                          max_applications))


def mean_spectrum(D, name, k, axis):
    """The top-k eigenvalues of the mean-compressed Gram of ``name`` (the ``"reference"`` and
    ``"figure"`` conventions), as a :class:`~kpflow_sk.linalg.Spectrum`."""
    lam, red = D.mean_gram_eigenvalues(name, axis)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= lam.size:
        raise ValueError(f"k must be an int in [1, {lam.size}], got {k!r}")
    values = np.array(lam[:k], dtype=np.float64)
    values.setflags(write=False)
    return linalg.Spectrum(values, red.n_applications, red.exact, "dense", red.axis, "mean")


def task_updates(D):
    """Per-task hidden-trajectory updates ``dz_j = - Theta err_j`` (DESIGN.md section 2).

    Parameters
    ----------
    D : KPDecomposition

    Returns
    -------
    labels : ndarray of shape (n_tasks,) or None
        Sorted task labels (None without task labels or without ``err``).
    dz : Tensor of shape (n_tasks, B, T, H) or None
    """
    if D.task_ids is None or D.err is None:
        return None, None
    labels = np.unique(D.task_ids)
    masks = torch.as_tensor(D.task_ids[None, :] == labels[:, None], device=D.err.device)
    E = D.err.unsqueeze(0) * masks[:, :, None, None].to(D.err.dtype)
    dz = -(D.Theta @ E.movedim(0, -1)).movedim(-1, 0)
    return labels, dz


def task_alignment(D):
    """``(n_tasks, n_tasks)`` cosines of the per-task updates ``dz_i`` and ``dz_j``.

    Ordered by sorted task label; None without task labels or without ``err``.
    """
    labels, dz = task_updates(D)
    if labels is None:
        return None
    flat = dz.reshape(len(labels), -1)
    norms = flat.norm(dim=1).clamp_min(torch.finfo(flat.dtype).tiny)
    cos = (flat @ flat.T) / (norms[:, None] * norms[None, :])
    cos = 0.5 * (cos + cos.T)
    cos.fill_diagonal_(1.0)
    return cos.detach().cpu().numpy()


def _combos(conv, axis, reductions, methods):
    """``(reduce, method)`` pairs a convention measures on ``axis``."""
    if conv == "default":
        return [(r, m) for r in ((None,) if axis is None else reductions) for m in methods]
    if conv == "reference":
        return [(None if axis is None else "mean", "pr")]
    return [("mean", "figure")] if axis == "time" else []


def rank_table(D, names=("K", "P", "Theta"), axes=AXES, reductions=REDUCTIONS,
               methods=METHODS, *, convention="default", ncomp=None, rtol=None):
    """The table of effective ranks of ``D``: see :meth:`KPDecomposition.table`."""
    if isinstance(convention, str):
        conventions = tuple(CONVENTIONS) if convention == "all" else (convention,)
    else:
        conventions = tuple(convention)
    T = D.trajectory.shape[1]
    rows = []
    for conv in conventions:
        check_convention(conv)
        nc = ncomp if conv == "figure" else None
        for name in names:
            for axis in axes:
                for reduce, method in _combos(conv, axis, reductions, methods):
                    res = D.effective_rank(
                        name, axis=axis,
                        reduce=reduce or ("trace" if conv == "default" else None),
                        method=method, convention=conv, ncomp=nc,
                        rtol=None if conv != "default" else rtol, return_result=True)
                    rows.append({
                        "convention": conv, "operator": name, "axis": axis or "all",
                        "reduce": reduce, "method": method, "rank": float(res.value),
                        "stderr": float(res.stderr), "interval": tuple(res.interval),
                        "n_applications": int(res.n_applications), "exact": res.exact,
                        "converged": bool(res.converged), "hit_cap": bool(res.hit_cap),
                        "bound": res.bound, "estimate": linalg.format_estimate(res),
                        "ncomp": resolve_ncomp(nc, name, T) if conv == "figure" else None})
    return rows
