"""Traces: Hutch++ for ``tr(G)``, and ``tr(G^2) = ||G||_F^2`` (docs/conventions.md section 3).

``G`` is a self-adjoint operator, or ``A A*`` with ``gram=True`` (then ``tr(G) = ||A||_F^2``).
Each estimate reports a standard error and a ~95% interval, and adapts its budget to a
relative tolerance (see :mod:`kpflow_sk.linalg._accuracy`).
"""

from __future__ import annotations

import numpy as np
import torch

from kpflow_sk.linalg._accuracy import check_accuracy, t_quantile
from kpflow_sk.linalg._checks import check_choice, check_exact, check_int
from kpflow_sk.linalg._krylov import deflated_hutchinson, mean_sem
from kpflow_sk.linalg._moments import (  # noqa: F401  (re-exported for _rank, _alignment)
    MIN_STOP_PROBES,
    PR_FIRST_ROUND,
    adaptive_moments,
    auto_block_size,
    krylov_moments,
)
from kpflow_sk.linalg._random import check_generator, gaussian
from kpflow_sk.linalg._results import Estimate
from kpflow_sk.linalg._views import SymmetricView

__all__ = ["hutchpp_trace", "trace_of_square", "frobenius_norm", "SKETCHES",
           "DEFAULT_TRACE_BUDGET"]

SKETCHES = ("krylov", "classic")

#: First-round (or fixed, for the classic sketch) budget of a trace estimate.
DEFAULT_TRACE_BUDGET = 30


def classic_hutchpp(G, budget, generator):
    """Hutch++ as published (Meyer, Musco, Musco, Woodruff 2021, Alg. 1).

    ``Q = orth(G S)`` with ``s = budget // (G.cost + 2)`` Gaussian columns, ``tr(Q^T G Q)``
    exactly, and Hutchinson on ``(I-QQ^T) G (I-QQ^T)`` with the rest of the budget.

    Returns
    -------
    (trace, stderr, n_probes)
    """
    s = budget // (G.cost + 2)
    trace = torch.zeros((), dtype=G.dtype, device=G.device)
    Q = None
    if s:
        Q, _ = torch.linalg.qr(G.mm(gaussian((G.n, s), generator, G.dtype, G.device)))
        trace = G.quad(Q).sum()
    n_probes = budget - s * (G.cost + 1)
    samples, _ = deflated_hutchinson(G, Q, n_probes, generator)
    t, sem = mean_sem(samples)
    return trace + t, sem, n_probes


def _use_dense(exact, G, budget):
    exact = check_exact(exact)
    return exact if exact is not None else G.dense_cost <= budget


def _estimate(value, se, dof, n, acc, hit, method="hutch++"):
    """An :class:`Estimate` with a Student-t interval and the tolerance verdict."""
    q = t_quantile(dof)
    hw = q * se if se > 0 else 0.0
    converged = bool(np.isfinite(hw) and hw <= acc.target * abs(value))
    return Estimate(value, n, False, se, method, (value - hw, value + hw), acc.rtol,
                    converged, bool(hit and not converged))


def _moments_estimate(op, n_applications, rtol, max_applications, random_state, gram, exact,
                      block_size, quantity, dense_fn):
    budget = check_int("n_applications", n_applications, allow_none=True)
    acc = check_accuracy(budget, rtol, max_applications, DEFAULT_TRACE_BUDGET)
    check_int("block_size", block_size, allow_none=True)
    G = SymmetricView(op, gram)
    if _use_dense(exact, G, acc.initial):
        return Estimate(dense_fn(G.dense()), G.counter.n, True)
    gen = check_generator(random_state, G.device)
    if acc.fixed:
        m = krylov_moments(G, acc.initial, gen, square=quantity not in ("trace", "sqrt_trace"),
                           block_size=block_size)
        value, se, dof = m.stats(quantity)
        hit = False
    else:
        _, value, se, dof, hit = adaptive_moments(G, acc, gen, quantity,
                                                  block_size=block_size)
    return _estimate(value, se, dof, G.counter.n, acc, hit)


_ACCURACY_DOC = """rtol : float, optional
        Relative tolerance: the budget grows (more Krylov blocks, more probes) until the
        ~95% interval half-width is at most ``rtol * |value|``. Default ``DEFAULT_RTOL``
        (0.02) unless ``n_applications`` is given, which then is a fixed budget.
    max_applications : int, optional
        Cap of an adaptive estimate (default ``DEFAULT_MAX_APPLICATIONS`` = 2000); the
        result says ``hit_cap=True`` when it stopped there short of ``rtol``."""


def hutchpp_trace(op, n_applications=None, *, random_state=None, gram=False, exact=None,
                  sketch="krylov", block_size=None, rtol=None, max_applications=None):
    """Trace of a self-adjoint operator (or of ``A A*``) by Hutch++.

    Parameters
    ----------
    op : operator (see :mod:`kpflow_sk.linalg`), torch.Tensor or ndarray
        Self-adjoint, ``in_shape == out_shape`` (symmetry is the caller's promise); with
        ``gram=True`` any operator A, and the trace is that of ``A A*``, i.e. ``||A||_F^2``.
    n_applications : int, optional
        Budget of probe vectors through ``op`` or its adjoint. With ``gram=True`` one
        application of ``A A*`` counts 2, a Hutchinson probe ``||A* z||^2`` counts 1.
        Given without ``rtol``: a fixed budget. Otherwise the first round of an adaptive
        estimate (default 30).
    random_state : None, int, numpy or torch generator
        See :func:`check_generator`.
    gram : bool, default=False
    exact : None or bool
        True: dense trace from ``op`` applied to every basis vector. None: dense when that
        costs no more than the (first-round) budget (it is then both cheaper and exact).
    sketch : {"krylov", "classic"}, default="krylov"
        ``"classic"``: Hutch++ as published, sketch ``Q = orth(G S)``, budget split in
        thirds, always a fixed budget (``rtol`` is refused). ``"krylov"``: the low-rank part
        is taken on a block Krylov basis ``[S, G S, G^2 S, ...]`` (Lanczos, full
        reorthogonalisation), which contains the classic sketch at the same cost, then 20%
        of the budget goes to deflated Hutchinson probes. Both unbiased; the Krylov sketch
        is far more accurate on decaying spectra.
    block_size : int, optional
        Krylov block width (probes per operator call); default about budget / 15, at most 32.
    {accuracy}

    Returns
    -------
    Estimate
        ``value`` = the trace; ``n_applications`` actually used; ``stderr`` and
        ``interval`` (Student t on the probe spread).

    Examples
    --------
    >>> import torch
    >>> D = torch.diag(torch.arange(1.0, 11.0, dtype=torch.float64))
    >>> hutchpp_trace(D, n_applications=10).value  # 10 probes cover R^10: exact
    55.0
    """
    check_choice("sketch", sketch, SKETCHES)
    if sketch == "classic":
        if rtol is not None:
            raise ValueError("rtol needs sketch='krylov' (the classic sketch has a fixed "
                             "budget)")
        budget = check_int("n_applications", n_applications, allow_none=True)
        budget = budget if budget is not None else DEFAULT_TRACE_BUDGET
        G = SymmetricView(op, gram)
        if _use_dense(exact, G, budget):
            return Estimate(float(G.dense().diagonal().sum()), G.counter.n, True)
        gen = check_generator(random_state, G.device)
        trace, sem, n_probes = classic_hutchpp(G, budget, gen)
        acc = check_accuracy(budget, None, None, budget)
        return _estimate(float(trace), float(sem), n_probes - 1, G.counter.n, acc, False,
                         "hutch++-classic")
    return _moments_estimate(op, n_applications, rtol, max_applications, random_state, gram,
                             exact, block_size, "trace",
                             lambda D: float(D.diagonal().sum()))


def trace_of_square(op, n_applications=None, *, random_state=None, gram=False, exact=None,
                    block_size=None, rtol=None, max_applications=None):
    """``tr(G^2) = ||G||_F^2`` of a self-adjoint G, or ``tr((A A*)^2)`` with ``gram=True``.

    Randomized: Hutch++ on ``||G||_F^2 = ||G Q||_F^2 + ||G (I-QQ^T)||_F^2`` with a block
    Krylov basis Q of G (one application of G per basis vector and per probe; twice that
    with ``gram=True``). Parameters as in :func:`hutchpp_trace` (``rtol``,
    ``max_applications`` included).

    Returns
    -------
    Estimate
    """
    return _moments_estimate(op, n_applications, rtol, max_applications, random_state, gram,
                             exact, block_size, "square", lambda D: float(D.square().sum()))


def frobenius_norm(op, n_applications=None, *, random_state=None, gram=False, exact=None,
                   block_size=None, rtol=None, max_applications=None):
    """Frobenius norm ``||A||_F = sqrt(tr(A A*))`` of any operator A.

    With ``gram=True`` the norm of ``A A*``: ``sqrt(tr((A A*)^2))``. Randomized via the
    estimators of :func:`hutchpp_trace` / :func:`trace_of_square` (same parameters); the
    standard error is propagated to the norm (delta method) and ``rtol`` applies to the norm.

    Returns
    -------
    Estimate
    """
    if gram:
        return _moments_estimate(op, n_applications, rtol, max_applications, random_state,
                                 True, exact, block_size, "sqrt_square",
                                 lambda D: float(D.square().sum()) ** 0.5)
    return _moments_estimate(op, n_applications, rtol, max_applications, random_state, True,
                             exact, block_size, "sqrt_trace",
                             lambda D: max(float(D.diagonal().sum()), 0.0) ** 0.5)


hutchpp_trace.__doc__ = hutchpp_trace.__doc__.replace("{accuracy}", _ACCURACY_DOC)
