"""Effective rank of a PSD operator: participation ratio and var95 (docs/conventions.md s. 3)."""

from __future__ import annotations

import math
import warnings

import numpy as np

from kpflow_sk.linalg._accuracy import (
    DEFAULT_MAX_APPLICATIONS,
    check_accuracy,
    t_quantile,
)
from kpflow_sk.linalg._axis_measure import measure_on_axis
from kpflow_sk.linalg._checks import EXACT_MAX_DIM, check_choice, check_exact, check_int
from kpflow_sk.linalg._krylov import BlockKrylov, deflated_hutchinson, mean_sem
from kpflow_sk.linalg._random import check_generator
from kpflow_sk.linalg._reduce import REDUCTIONS
from kpflow_sk.linalg._results import EffectiveRank
from kpflow_sk.linalg._trace import (
    PR_FIRST_ROUND,
    adaptive_moments,
    auto_block_size,
    krylov_moments,
)
from kpflow_sk.linalg._views import SymmetricView

__all__ = ["effective_rank", "participation_ratio", "var95_rank", "RANK_METHODS",
           "DEFAULT_RANK_BUDGET"]

VAR_LEVEL = 0.95
#: First-round budget, in applications of G (x2 for A A*), of a randomized effective rank.
DEFAULT_RANK_BUDGET = 200
# Share of a var95 round spent on the Hutchinson probes of the trace outside the Krylov space.
_VAR95_RESIDUAL_SHARE = 0.1
# Fewest residual-trace probes of a var95 round (a spread needs a few samples).
_VAR95_MIN_PROBES = 6


def participation_ratio(values):
    """``tr(G)^2 / tr(G^2)`` from the eigenvalues (negative rounding clipped to 0); 0 for G=0.

    Examples
    --------
    >>> participation_ratio([1.0, 1.0, 0.0])
    2.0
    """
    lam = np.clip(np.asarray(values, dtype=np.float64), 0, None)
    sq = float(np.sum(lam**2))
    return float(np.sum(lam)) ** 2 / sq if sq > 0 else 0.0


def var95_rank(values, total=None, level=VAR_LEVEL):
    """Number of leading eigenvalues holding ``level`` of the trace, linearly interpolated.

    With eigenvalues sorted descending, ``c_r`` the fraction of ``total`` (default: their sum)
    held by the leading r (``c_0 = 0``), and r the first index with
    ``c_{r-1} < level <= c_r``: ``rank = (r - 1) + (level - c_{r-1}) / (c_r - c_{r-1})``.
    So one nonzero eigenvalue gives 0.95 and the n x n identity gives ``0.95 n``.

    If the given values hold less than ``level`` of ``total`` (the rest of the spectrum was
    not computed), the remaining eigenvalues are each at most the last one given, ``lam_k``,
    so ``rank >= k + (level - c_k) total / lam_k``: that lower bound is returned.

    Returns
    -------
    (rank, reached) : (float, bool)
        ``reached`` is False when ``rank`` is only the lower bound.

    Examples
    --------
    >>> var95_rank([1.0, 1.0, 0.0, 0.0])
    (1.9, True)
    """
    lam = np.clip(np.sort(np.asarray(values, dtype=np.float64))[::-1], 0, None)
    total = float(np.sum(lam)) if total is None else float(total)
    if total <= 0 or lam.size == 0:
        return 0.0, True
    c = np.concatenate([[0.0], np.cumsum(lam) / total])
    hits = np.nonzero(c[1:] >= level)[0]
    if hits.size:
        r = int(hits[0]) + 1
        return float((r - 1) + (level - c[r - 1]) / (c[r] - c[r - 1])), True
    k = lam.size
    bound = k + ((level - c[k]) * total / lam[-1] if lam[-1] > 0 else 0.0)
    return float(bound), False


# Definitions by name (each maps a full spectrum to a rank; var95_rank also says whether 95%
# was reached).
RANK_METHODS = {"pr": participation_ratio, "var95": var95_rank}


def effective_rank(op, *, method="pr", axis=None, reduce="trace", gram=False, exact=None,
                   n_applications=None, max_applications=None, n_probes=None, block_size=None,
                   random_state=None, rtol=None):
    """Effective rank of a self-adjoint PSD operator G, or of ``A A*`` (docs/conventions.md s. 3).

    Parameters
    ----------
    op : operator, torch.Tensor or ndarray
        Self-adjoint PSD (``in_shape == out_shape``), or any A with ``gram=True``; for a
        non-symmetric operator (P, J) the rank is that of its Gram ``A A*``.
    method : {"pr", "var95"}, default="pr"
        ``"pr"``: participation ratio ``tr(G)^2 / tr(G^2)``. ``"var95"``: the interpolated
        number of leading eigenvalues holding 95% of the trace (see :func:`var95_rank`).
    axis : None, {"trial", "time", "hidden"} or int
        None: G on its whole space. Otherwise G is first reduced to that axis with
        :func:`reduce_to_axis` and the rank of the small matrix is computed exactly.
    reduce : {"trace", "mean"}, default="trace"
    gram : bool, default=False
    exact : None or bool
        Whole space: True diagonalises the dense G, False estimates; None is dense when the
        dimension is at most 4096. With ``axis``: passed to :func:`reduce_to_axis`.
    n_applications : int, optional
        Whole-space budget of the first round, in G-applications (x2 with ``gram``):
        default 64 for ``"pr"`` (``PR_FIRST_ROUND``), 200 for ``"var95"``.
        Given without ``rtol``: a fixed budget (``"var95"`` still grows up to
        ``max_applications`` when 95% is not reached, as it always did). ``"pr"``: Hutch++
        with a block Krylov basis for both ``tr(G)`` and ``tr(G^2)`` from the same probes.
        ``"var95"``: rounds of block Lanczos (Ritz values) plus Hutchinson probes of the
        trace outside the Krylov space.
    max_applications : int, optional
        Cap of all applications (whole space: default ``max(DEFAULT_MAX_APPLICATIONS,
        4 x n_applications)``; with ``axis``: default 256 probes).
    n_probes : int, optional
        Partial-trace probes with ``axis`` (see :func:`reduce_to_axis`); given without
        ``rtol``, a fixed budget.
    block_size : int, optional
        Krylov block width, default about a twelfth of the first round, at most 32.
    random_state : None, int, numpy or torch generator
    rtol : float, optional
        Relative tolerance on the rank: the budget grows until the ~95% interval half-width
        is at most ``rtol * value`` (default ``DEFAULT_RTOL`` = 0.02 unless a budget is
        given). Uncertainty: ``"pr"`` on the whole space by the delta method on the joint
        per-probe samples of ``tr(G)`` and ``tr(G^2)``; ``"var95"`` on the whole space from
        the trace interval and the Ritz-value error bounds; on an axis with a randomized
        partial trace by a jackknife over 16 probe groups.

    Returns
    -------
    EffectiveRank
        With ``stderr``, ``interval``, ``converged``, ``hit_cap`` and ``bound`` (``"lower"``
        for a var95 whose leading eigenvalues did not reach 95% of the trace).
    """
    check_choice("method", method, RANK_METHODS)
    check_choice("reduce", reduce, REDUCTIONS)
    exact = check_exact(exact)
    check_int("block_size", block_size, allow_none=True)
    if axis is not None:
        return _axis_rank(op, method, axis, reduce, gram, exact, n_probes, rtol,
                          max_applications, random_state)
    G = SymmetricView(op, gram)
    budget = check_int("n_applications", n_applications, minimum=2, allow_none=True)
    initial = budget or (PR_FIRST_ROUND if method == "pr" else DEFAULT_RANK_BUDGET) * G.cost
    var95_cap = 4 * initial if method == "var95" else None
    acc = check_accuracy(budget, rtol, max_applications, initial,
                         default_cap=max(DEFAULT_MAX_APPLICATIONS, var95_cap or 0))
    if exact if exact is not None else G.dense_cost <= EXACT_MAX_DIM:
        lam = G.dense_spectrum().cpu().numpy()
        return EffectiveRank(_dense_rank(lam, method), method, G.counter.n, True,
                             trace=float(np.clip(lam, 0, None).sum()))
    gen = check_generator(random_state, G.device)
    if method == "pr":
        if acc.fixed:
            m = krylov_moments(G, acc.initial, gen, square=True, block_size=block_size)
            value, se, dof = m.stats("pr")
            hit = False
        else:
            m, value, se, dof, hit = adaptive_moments(G, acc, gen, "pr", block_size=block_size)
        hw = t_quantile(dof) * se if se > 0 else 0.0
        converged = bool(np.isfinite(hw) and hw <= acc.target * value)
        return EffectiveRank(value, method, G.counter.n, False, trace=float(m.trace),
                             stderr=se, interval=(value - hw, value + hw), rtol=acc.rtol,
                             converged=converged, hit_cap=bool(hit and not converged))
    cap = max_applications if acc.fixed else acc.cap
    cap = check_int("max_applications", cap, allow_none=True) or var95_cap
    return _var95_krylov(G, acc, cap, gen, block_size)


def _axis_rank(op, method, axis, reduce, gram, exact, n_probes, rtol, max_applications,
               random_state):
    m = measure_on_axis(op, axis, reduce, lambda lam: _dense_rank(lam, method), gram=gram,
                        exact=exact, n_probes=n_probes, rtol=rtol,
                        max_applications=max_applications, random_state=random_state)
    red, value = m.reduction, float(m.value)
    trace = float(np.clip(m.eigenvalues, 0, None).sum())
    if m.exact:
        return EffectiveRank(value, method, red.n_applications, True, red.axis, reduce, trace)
    se, hw = float(m.stderr), float(m.half_width)
    converged = bool(np.isfinite(hw) and hw <= m.target * value)
    return EffectiveRank(value, method, red.n_applications, False, red.axis, reduce, trace,
                         se, (value - hw, value + hw), red.rtol, converged,
                         bool(m.hit_cap and not converged))


def _dense_rank(lam, method):
    """Rank from the full spectrum (var95 is then always reached)."""
    return participation_ratio(lam) if method == "pr" else var95_rank(lam)[0]


def _var95_interval(theta, err, total, total_hw):
    """var95 and its interval from Ritz values (+ error bounds) and the trace interval.

    var95 falls when eigenvalues grow and rises with the total, so the low end takes
    ``theta + err`` against ``total - hw`` and the high end ``theta`` against ``total + hw``.
    """
    value, reached = var95_rank(theta, total)
    lo = var95_rank(theta + err, max(total - total_hw, 0.0))[0] if total_hw < total else 0.0
    hi, hi_reached = var95_rank(theta, total + total_hw)
    return value, reached, min(lo, value), (max(hi, value) if hi_reached else math.inf)


def _var95_krylov(G, acc, cap, gen, block_size):
    """var95 from Ritz values of a growing block Krylov space and a deflated trace.

    Fixed budget (``acc.fixed``): grows only while 95% is not reached, up to ``cap``.
    Adaptive: grows until the interval half-width is within ``acc.rtol`` of the value.
    """
    budget = acc.initial
    n_res = max(_VAR95_MIN_PROBES, round(_VAR95_RESIDUAL_SHARE * budget))
    n_vectors = max(1, (budget - n_res) // G.cost)
    b = min(block_size or auto_block_size(n_vectors), n_vectors)
    krylov = BlockKrylov(G, b, gen)
    target = n_vectors
    while True:
        krylov.extend(max(1, target // b - krylov.n_blocks))
        theta, err = (x.cpu().numpy() for x in krylov.ritz_errors())
        total = float(krylov.projected().diagonal().sum())
        total_se, dof = 0.0, math.inf
        if not krylov.exhausted:
            samples, _ = deflated_hutchinson(G, krylov.basis(), n_res, gen)
            t, sem = mean_sem(samples)
            total += float(t)
            total_se, dof = float(sem), n_res - 1
        # Ritz values converge from the top: trust the leading half unless the space is full.
        keep = theta.size if krylov.exhausted else max(1, theta.size // 2)
        trusted, trusted_err = theta[:keep], err[:keep]
        total_hw = t_quantile(dof) * total_se
        value, reached, lo, hi = _var95_interval(trusted, trusted_err, total, total_hw)
        hw = (hi - lo) / 2
        converged = reached and np.isfinite(hw) and hw <= acc.target * value
        done = reached if acc.fixed else converged
        room = cap - G.counter.n - n_res
        if done or krylov.exhausted or room < b * G.cost:
            break
        target = krylov.dim + min(krylov.dim, room // G.cost)
    hit_cap = not (reached if acc.fixed else converged) and not krylov.exhausted
    if not reached:
        warnings.warn(
            f"var95 effective rank: the leading {trusted.size} eigenvalues hold only "
            f"{trusted.clip(0).sum() / total:.1%} of the trace after {G.counter.n} "
            f"applications (max_applications={cap}); returning the lower bound {value:.3g}",
            RuntimeWarning, stacklevel=3)
        return EffectiveRank(value, "var95", G.counter.n, False, trace=total,
                             stderr=math.inf, interval=(value, math.inf), rtol=acc.rtol,
                             converged=False, hit_cap=hit_cap, bound="lower")
    se = hw / t_quantile(dof) if np.isfinite(hw) else math.inf
    return EffectiveRank(value, "var95", G.counter.n, False, trace=total, stderr=float(se),
                         interval=(lo, hi), rtol=acc.rtol, converged=bool(converged),
                         hit_cap=bool(hit_cap and not converged))
