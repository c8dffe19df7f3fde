"""Traces: Hutch++ for ``tr(G)``, and ``tr(G^2) = ||G||_F^2`` (DESIGN.md section 3).

``G`` is a self-adjoint operator, or ``A A*`` with ``gram=True`` (then ``tr(G) = ||A||_F^2``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from kpflow_sk.linalg._checks import check_choice, check_exact, check_int
from kpflow_sk.linalg._krylov import BlockKrylov, deflated_hutchinson
from kpflow_sk.linalg._random import check_generator, gaussian
from kpflow_sk.linalg._results import Estimate
from kpflow_sk.linalg._views import SymmetricView

__all__ = ["hutchpp_trace", "trace_of_square", "frobenius_norm", "SKETCHES"]

SKETCHES = ("krylov", "classic")

# Share of the budget spent on the Hutchinson probes of the deflated remainder. Tuned on
# decaying spectra (1/i^2, exp(-i/10)); the classic Hutch++ split is 1/3.
_RESIDUAL_SHARE = 0.2


@dataclass
class Moments:
    """``tr(G)`` and (optionally) ``tr(G^2)`` from a Krylov sketch plus deflated probes."""

    trace: torch.Tensor
    trace_sem: torch.Tensor
    square: Optional[torch.Tensor]
    square_sem: Optional[torch.Tensor]
    krylov: Optional[BlockKrylov]
    n_probes: int


def auto_block_size(n_vectors):
    """Block size for a Krylov space of ``n_vectors``: about 12 steps, blocks of 1 to 32.

    Deeper Krylov spaces converge faster per application (blocks of 1-2 beat 4 on decaying
    spectra at a budget of 30); wider blocks use the device better. Twelve steps is the
    compromise.
    """
    return max(1, min(32, n_vectors // 12))


def krylov_moments(G, budget, generator, *, square=False, block_size=None,
                   residual_share=_RESIDUAL_SHARE):
    """Hutch++ with a block-Krylov sketch, within ``budget`` applications.

    ``tr(G) = tr(Q^T G Q) + tr((I-QQ^T) G (I-QQ^T))`` and
    ``||G||_F^2 = ||G Q||_F^2 + ||G (I-QQ^T)||_F^2``: the first terms exactly on a block
    Krylov basis Q (which contains the classic Hutch++ sketch ``G S`` and more, for the same
    cost), the remainders by Hutchinson with Rademacher probes deflated by Q (unbiased).
    """
    probe_cost = G.cost if square else 1
    n_probes = max(1, round(residual_share * budget / probe_cost))
    n_vectors = (budget - n_probes * probe_cost) // G.cost
    full = budget // G.cost >= G.n  # the budget covers the space: take all of it, no probes
    if full:
        n_vectors = G.n
    krylov = None
    if n_vectors >= 1:
        b = min(block_size or auto_block_size(n_vectors), n_vectors)
        if full:  # blocks must tile the space
            b = max(d for d in range(1, b + 1) if G.n % d == 0)
        krylov = BlockKrylov(G, b, generator).extend(n_vectors // b)
        spent = krylov.dim * G.cost
        n_probes = max(1, (budget - spent) // probe_cost)
        if krylov.dim == G.n:
            n_probes = 0
    Q = krylov.basis() if krylov is not None else None
    zero = torch.zeros((), dtype=G.dtype, device=G.device)
    trace, square_sum = zero, (zero if square else None)
    if krylov is not None:
        trace = krylov.projected().diagonal().sum()
        if square:
            square_sum = krylov.gq_sqnorm
    trace_sem = square_sem = zero
    if n_probes:
        t, trace_sem, s, square_sem = deflated_hutchinson(G, Q, n_probes, generator,
                                                          square=square)
        trace = trace + t
        if square:
            square_sum = square_sum + s
    return Moments(trace, trace_sem, square_sum, square_sem, krylov, n_probes)


def classic_hutchpp(G, budget, generator):
    """Hutch++ as published (Meyer, Musco, Musco, Woodruff 2021, Alg. 1).

    ``Q = orth(G S)`` with ``s = budget // (G.cost + 2)`` Gaussian columns, ``tr(Q^T G Q)``
    exactly, and Hutchinson on ``(I-QQ^T) G (I-QQ^T)`` with the rest of the budget.
    """
    s = budget // (G.cost + 2)
    trace = torch.zeros((), dtype=G.dtype, device=G.device)
    Q = None
    if s:
        Q, _ = torch.linalg.qr(G.mm(gaussian((G.n, s), generator, G.dtype, G.device)))
        trace = G.quad(Q).sum()
    n_probes = budget - s * (G.cost + 1)
    t, sem, _, _ = deflated_hutchinson(G, Q, n_probes, generator)
    return trace + t, sem


def _use_dense(exact, G, budget):
    exact = check_exact(exact)
    return exact if exact is not None else G.dense_cost <= budget


def hutchpp_trace(op, n_applications=30, *, random_state=None, gram=False, exact=None,
                  sketch="krylov", block_size=None):
    """Trace of a self-adjoint operator (or of ``A A*``) by Hutch++.

    Parameters
    ----------
    op : operator (see :mod:`kpflow_sk.linalg`), torch.Tensor or ndarray
        Self-adjoint, ``in_shape == out_shape`` (symmetry is the caller's promise); with
        ``gram=True`` any operator A, and the trace is that of ``A A*``, i.e. ``||A||_F^2``.
    n_applications : int, default=30
        Budget of probe vectors through ``op`` or its adjoint. With ``gram=True`` one
        application of ``A A*`` counts 2, a Hutchinson probe ``||A* z||^2`` counts 1.
    random_state : None, int, numpy or torch generator
        See :func:`check_generator`.
    gram : bool, default=False
    exact : None or bool
        True: dense trace from ``op`` applied to every basis vector. None: dense when that
        costs no more than ``n_applications`` (it is then both cheaper and exact).
    sketch : {"krylov", "classic"}, default="krylov"
        ``"classic"``: Hutch++ as published, sketch ``Q = orth(G S)``, budget split in
        thirds. ``"krylov"``: the low-rank part is taken on a block Krylov basis
        ``[S, G S, G^2 S, ...]`` (Lanczos, full reorthogonalisation), which contains the
        classic sketch at the same cost, then 20% of the budget goes to deflated
        Hutchinson probes. Both unbiased; the Krylov sketch is far more accurate on
        decaying spectra.
    block_size : int, optional
        Krylov block width (probes per operator call); default about budget / 15, at most 32.

    Returns
    -------
    Estimate
        ``value`` = the trace; ``n_applications`` actually used.

    Examples
    --------
    >>> import torch
    >>> D = torch.diag(torch.arange(1.0, 11.0, dtype=torch.float64))
    >>> hutchpp_trace(D, n_applications=10).value  # 10 probes cover R^10: exact
    55.0
    """
    check_choice("sketch", sketch, SKETCHES)
    budget = check_int("n_applications", n_applications)
    check_int("block_size", block_size, allow_none=True)
    G = SymmetricView(op, gram)
    if _use_dense(exact, G, budget):
        return Estimate(float(G.dense().diagonal().sum()), G.counter.n, True)
    gen = check_generator(random_state, G.device)
    if sketch == "classic":
        trace, sem = classic_hutchpp(G, budget, gen)
        return Estimate(float(trace), G.counter.n, False, float(sem), "hutch++-classic")
    m = krylov_moments(G, budget, gen, block_size=block_size)
    return Estimate(float(m.trace), G.counter.n, False, float(m.trace_sem), "hutch++")


def trace_of_square(op, n_applications=30, *, random_state=None, gram=False, exact=None,
                    block_size=None):
    """``tr(G^2) = ||G||_F^2`` of a self-adjoint G, or ``tr((A A*)^2)`` with ``gram=True``.

    Randomized: Hutch++ on ``||G||_F^2 = ||G Q||_F^2 + ||G (I-QQ^T)||_F^2`` with a block
    Krylov basis Q of G (one application of G per basis vector and per probe; twice that
    with ``gram=True``). Parameters as in :func:`hutchpp_trace`.

    Returns
    -------
    Estimate
    """
    budget = check_int("n_applications", n_applications)
    check_int("block_size", block_size, allow_none=True)
    G = SymmetricView(op, gram)
    if _use_dense(exact, G, budget):
        D = G.dense()
        return Estimate(float(D.square().sum()), G.counter.n, True)
    gen = check_generator(random_state, G.device)
    m = krylov_moments(G, budget, gen, square=True, block_size=block_size)
    return Estimate(float(m.square), G.counter.n, False, float(m.square_sem), "hutch++")


def frobenius_norm(op, n_applications=30, *, random_state=None, gram=False, exact=None,
                   block_size=None):
    """Frobenius norm ``||A||_F = sqrt(tr(A A*))`` of any operator A.

    With ``gram=True`` the norm of ``A A*``: ``sqrt(tr((A A*)^2))``. Randomized via
    :func:`hutchpp_trace` / :func:`trace_of_square` (same parameters); ``stderr`` is
    propagated to the norm (delta method).

    Returns
    -------
    Estimate
    """
    if gram:
        sq = trace_of_square(op, n_applications, random_state=random_state, gram=True,
                             exact=exact, block_size=block_size)
    else:
        sq = hutchpp_trace(op, n_applications, random_state=random_state, gram=True,
                           exact=exact, block_size=block_size)
    norm = max(sq.value, 0.0) ** 0.5
    stderr = sq.stderr / (2 * norm) if norm > 0 else 0.0
    return Estimate(norm, sq.n_applications, sq.exact, stderr, sq.method)
