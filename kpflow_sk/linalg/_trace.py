"""Traces: Hutch++ for ``tr(G)``, and ``tr(G^2) = ||G||_F^2`` (docs/conventions.md section 3).

``G`` is a self-adjoint operator, or ``A A*`` with ``gram=True`` (then ``tr(G) = ||A||_F^2``).
Each estimate reports a standard error and a ~95% interval, and adapts its budget to a
relative tolerance (see :mod:`kpflow_sk.linalg._accuracy`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from kpflow_sk.linalg._accuracy import check_accuracy, delta_stderr, jackknife_stderr, t_quantile
from kpflow_sk.linalg._checks import check_choice, check_exact, check_int
from kpflow_sk.linalg._krylov import BlockKrylov, deflated_hutchinson, mean_sem
from kpflow_sk.linalg._random import check_generator, gaussian
from kpflow_sk.linalg._results import Estimate
from kpflow_sk.linalg._views import SymmetricView

__all__ = ["hutchpp_trace", "trace_of_square", "frobenius_norm", "SKETCHES",
           "DEFAULT_TRACE_BUDGET"]

SKETCHES = ("krylov", "classic")

# Share of the budget spent on the Hutchinson probes of the deflated remainder. Tuned on
# decaying spectra (1/i^2, exp(-i/10)); the classic Hutch++ split is 1/3.
_RESIDUAL_SHARE = 0.2
#: First-round (or fixed, for the classic sketch) budget of a trace estimate.
DEFAULT_TRACE_BUDGET = 30
# Fewest probes a round of an adaptive estimate draws (a spread needs a few samples).
_MIN_PROBES = 6
# Fewest probes an adaptive estimate stops on: the spread of fewer is too noisy to trust,
# and stopping on a lucky small spread would make the intervals too narrow (measured: 88%
# coverage of the participation ratio on a 1/i spectrum with 6, 96% with 16).
MIN_STOP_PROBES = 32


@dataclass
class Moments:
    """``tr(G)`` and (optionally) ``tr(G^2)`` from a Krylov sketch plus deflated probes.

    ``trace = trace_sketch + mean(trace_samples)`` and likewise for ``square``; the samples
    are the per-probe Hutchinson values on the deflated remainder (empty when the sketch
    covers the space).
    """

    trace_sketch: torch.Tensor
    square_sketch: Optional[torch.Tensor]
    trace_samples: torch.Tensor
    square_samples: Optional[torch.Tensor]
    krylov: Optional[BlockKrylov]

    @property
    def n_probes(self):
        return int(self.trace_samples.shape[0])

    @property
    def trace(self):
        if self.n_probes:
            return self.trace_sketch + self.trace_samples.mean()
        return self.trace_sketch

    @property
    def square(self):
        if self.square_sketch is None:
            return None
        if self.n_probes:
            return self.square_sketch + self.square_samples.mean()
        return self.square_sketch

    def add_probes(self, G, n_probes, generator):
        """Draw ``n_probes`` more deflated probes (same basis, samples pooled)."""
        Q = self.krylov.basis() if self.krylov is not None else None
        t, s = deflated_hutchinson(G, Q, n_probes, generator,
                                   square=self.square_sketch is not None)
        self.trace_samples = torch.cat([self.trace_samples, t])
        if s is not None:
            self.square_samples = torch.cat([self.square_samples, s])

    def resketch(self, G, n_blocks, n_probes, generator):
        """Extend the Krylov basis by ``n_blocks``; the old probes (deflated by the old
        basis) are dropped and ``n_probes`` fresh ones drawn."""
        self.krylov.extend(n_blocks)
        self.trace_sketch = self.krylov.projected().diagonal().sum()
        if self.square_sketch is not None:
            self.square_sketch = self.krylov.gq_sqnorm
        self.trace_samples = self.trace_samples[:0]
        if self.square_samples is not None:
            self.square_samples = self.square_samples[:0]
        if self.krylov.dim < G.n:
            self.add_probes(G, n_probes, generator)

    def stats(self, quantity):
        """``(value, stderr, dof)`` of ``quantity``.

        ``"trace"``, ``"square"``: the sample standard error of the probe mean; the norms
        (square roots): delta method. ``"pr"`` (``tr(G)^2 / tr(G^2)``): jackknife over the
        probes, which share ``tr(G)`` and ``tr(G^2)`` samples.
        """
        p = self.n_probes
        t = self.trace_samples.double().cpu().numpy()
        s = None if self.square_samples is None else self.square_samples.double().cpu().numpy()
        T = float(self.trace)
        S = None if s is None else float(self.square)
        if quantity == "trace":
            value, grad, x = T, [1.0], t[:, None]
        elif quantity == "sqrt_trace":
            value = math.sqrt(max(T, 0.0))
            grad, x = [0.5 / value if value > 0 else 0.0], t[:, None]
        elif quantity == "square":
            value, grad, x = S, [1.0], s[:, None]
        elif quantity == "sqrt_square":
            value = math.sqrt(max(S, 0.0))
            grad, x = [0.5 / value if value > 0 else 0.0], s[:, None]
        else:  # "pr"
            value = T**2 / S if S > 0 else 0.0
            if p == 0:
                return value, 0.0, math.inf
            if p < 2 or S <= 0:
                return value, math.nan, p - 1
            # Jackknife over the probes (not the delta method): tr(G) and tr(G^2) come from
            # the same probes, and the leave-one-out ratios carry both their covariance and
            # the curvature of the ratio, which the linearisation misses at small p.
            t_loo = T - (t - t.mean()) / (p - 1)
            s_loo = S - (s - s.mean()) / (p - 1)
            return value, jackknife_stderr(t_loo**2 / np.maximum(s_loo, 1e-300)), p - 1
        if p == 0:
            return value, 0.0, math.inf
        return value, delta_stderr(grad, x), p - 1


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
    zero = torch.zeros((), dtype=G.dtype, device=G.device)
    empty = torch.zeros(0, dtype=G.dtype, device=G.device)
    m = Moments(zero, zero if square else None, empty, empty if square else None, krylov)
    if krylov is not None:
        m.trace_sketch = krylov.projected().diagonal().sum()
        if square:
            m.square_sketch = krylov.gq_sqnorm
    if n_probes:
        m.add_probes(G, n_probes, generator)
    return m


def adaptive_moments(G, acc, generator, quantity, *, block_size=None):
    """:func:`krylov_moments` on ``acc.initial``, then grown until ``quantity`` meets
    ``acc.target`` (interval half-width / |value|) or ``acc.cap`` applications are spent.

    Each round predicts, from the probe spread, the probes the tolerance needs
    (``p (hw / (rtol |value|))^2``). If those would cost more than the Krylov sketch so far,
    the sketch is extended instead (doubled, or what the cap allows): on decaying spectra
    that shrinks the remainder's variance faster than probes do (the balance of adaptive
    Hutch++, Persson, Cortinovis and Kressner 2022). Otherwise probes are added and pooled.

    Returns
    -------
    (Moments, value, stderr, dof, hit_cap)
    """
    square = quantity not in ("trace", "sqrt_trace")
    probe_cost = G.cost if square else 1
    m = krylov_moments(G, acc.initial, generator, square=square, block_size=block_size)
    hit = False
    while True:
        value, se, dof = m.stats(quantity)
        hw = t_quantile(dof) * se
        if m.n_probes == 0 or (np.isfinite(hw) and hw <= acc.target * abs(value)
                               and m.n_probes >= MIN_STOP_PROBES):
            break
        room = acc.cap - G.counter.n
        if room < probe_cost:
            hit = True
            break
        p = m.n_probes
        ratio = hw / (acc.target * abs(value)) if value != 0 and np.isfinite(hw) else 4.0
        need = max(math.ceil(p * min(ratio, 8.0) ** 2 * 1.2) - p, MIN_STOP_PROBES - p)
        kr = m.krylov
        sketch_cost = kr.dim * G.cost if kr is not None else 0
        fresh = max(_MIN_PROBES, p)
        if (kr is not None and not kr.exhausted and need * probe_cost > sketch_cost
                and room >= kr.b * G.cost + fresh * probe_cost):
            n_blocks = min(kr.n_blocks, (room - fresh * probe_cost) // (kr.b * G.cost))
            m.resketch(G, n_blocks, fresh, generator)
        else:
            m.add_probes(G, max(1, min(max(need, _MIN_PROBES), room // probe_cost)),
                         generator)
    return m, value, se, dof, hit


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
