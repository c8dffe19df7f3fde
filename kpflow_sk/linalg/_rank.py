"""Effective rank of a PSD operator: participation ratio and var95 (DESIGN.md section 3)."""

from __future__ import annotations

import warnings

import numpy as np

from kpflow_sk.linalg._checks import EXACT_MAX_DIM, check_choice, check_exact, check_int
from kpflow_sk.linalg._krylov import BlockKrylov, deflated_hutchinson
from kpflow_sk.linalg._random import check_generator
from kpflow_sk.linalg._reduce import REDUCTIONS, reduce_to_axis
from kpflow_sk.linalg._results import EffectiveRank
from kpflow_sk.linalg._spectrum import dense_eigenvalues
from kpflow_sk.linalg._trace import auto_block_size, krylov_moments
from kpflow_sk.linalg._views import SymmetricView

__all__ = ["effective_rank", "participation_ratio", "var95_rank", "RANK_METHODS"]

VAR_LEVEL = 0.95
# Default budget, in applications of G (x2 for A A*), of a randomized effective rank.
DEFAULT_RANK_BUDGET = 200
# Share of a var95 round spent on the Hutchinson probes of the trace outside the Krylov space.
_VAR95_RESIDUAL_SHARE = 0.1


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
                   random_state=None):
    """Effective rank of a self-adjoint PSD operator G, or of ``A A*`` (DESIGN.md s. 3).

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
        Whole-space estimate budget, default ``200`` G-applications (x2 with ``gram``).
        ``"pr"``: Hutch++ with a block Krylov basis for both ``tr(G)`` and ``tr(G^2)`` from
        the same probes. ``"var95"``: a first round of block Lanczos (Ritz values) plus
        Hutchinson probes of the trace outside the Krylov space.
    max_applications : int, optional
        ``"var95"`` only: if the trusted half of the Ritz values holds less than 95% of the
        trace, the Krylov space is doubled, up to this many applications in all (default
        4 x ``n_applications``). If still short, a lower bound is returned with a
        RuntimeWarning and ``lower_bound=True``.
    n_probes : int, optional
        Partial-trace probes with ``axis`` (see :func:`reduce_to_axis`).
    block_size : int, optional
        Krylov block width, default about a sixth of the first round, at most 32.
    random_state : None, int, numpy or torch generator

    Returns
    -------
    EffectiveRank
    """
    check_choice("method", method, RANK_METHODS)
    check_choice("reduce", reduce, REDUCTIONS)
    exact = check_exact(exact)
    check_int("block_size", block_size, allow_none=True)
    if axis is not None:
        red = reduce_to_axis(op, axis, reduce, gram=gram, exact=exact, n_probes=n_probes,
                             random_state=random_state)
        lam = dense_eigenvalues(red.matrix).cpu().numpy()
        return EffectiveRank(_dense_rank(lam, method), method, red.n_applications, red.exact,
                             red.axis, reduce, float(np.clip(lam, 0, None).sum()))
    G = SymmetricView(op, gram)
    budget = check_int("n_applications", n_applications, minimum=2, allow_none=True)
    budget = budget or DEFAULT_RANK_BUDGET * G.cost
    cap = check_int("max_applications", max_applications, allow_none=True) or 4 * budget
    if exact if exact is not None else G.dense_cost <= EXACT_MAX_DIM:
        lam = dense_eigenvalues(G.dense()).cpu().numpy()
        return EffectiveRank(_dense_rank(lam, method), method, G.counter.n, True,
                             trace=float(np.clip(lam, 0, None).sum()))
    gen = check_generator(random_state, G.device)
    if method == "pr":
        m = krylov_moments(G, budget, gen, square=True, block_size=block_size)
        trace, square = float(m.trace), float(m.square)
        value = trace**2 / square if square > 0 else 0.0
        return EffectiveRank(value, method, G.counter.n, False, trace=trace)
    return _var95_krylov(G, budget, cap, gen, block_size)


def _dense_rank(lam, method):
    """Rank from the full spectrum (var95 is then always reached)."""
    return participation_ratio(lam) if method == "pr" else var95_rank(lam)[0]


def _var95_krylov(G, budget, cap, gen, block_size):
    """var95 from Ritz values of a growing block Krylov space and a deflated trace."""
    n_res = max(1, round(_VAR95_RESIDUAL_SHARE * budget))
    n_vectors = max(1, (budget - n_res) // G.cost)
    b = min(block_size or auto_block_size(n_vectors), n_vectors)
    krylov = BlockKrylov(G, b, gen)
    target = n_vectors
    while True:
        krylov.extend(max(1, target // b - krylov.n_blocks))
        theta = krylov.ritz_values().cpu().numpy()
        total = float(krylov.projected().diagonal().sum())
        if not krylov.exhausted:
            t, _, _, _ = deflated_hutchinson(G, krylov.basis(), n_res, gen)
            total += float(t)
        # Ritz values converge from the top: trust the leading half unless the space is full.
        trusted = theta if krylov.exhausted else theta[:max(1, theta.size // 2)]
        value, reached = var95_rank(trusted, total)
        room = cap - G.counter.n - n_res
        if reached or krylov.exhausted or room < b * G.cost:
            break
        target = krylov.dim + min(krylov.dim, room // G.cost)
    if not reached:
        warnings.warn(
            f"var95 effective rank: the leading {trusted.size} eigenvalues hold only "
            f"{trusted.clip(0).sum() / total:.1%} of the trace after {G.counter.n} "
            f"applications (max_applications={cap}); returning the lower bound {value:.3g}",
            RuntimeWarning, stacklevel=3)
    return EffectiveRank(value, "var95", G.counter.n, False, trace=total,
                         lower_bound=not reached)
