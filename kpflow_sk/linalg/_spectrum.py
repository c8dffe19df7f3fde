"""Leading eigenvalues of a PSD operator (or of ``A A*``): Lanczos, randomized, dense.

Every estimate comes with per-eigenvalue error bounds from the Rayleigh-Ritz residuals and
can adapt its budget to a relative tolerance (see :mod:`kpflow_sk.linalg._accuracy`).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from kpflow_sk.linalg._accuracy import DEFAULT_MAX_APPLICATIONS, check_accuracy
from kpflow_sk.linalg._axis_measure import dense_eigenvalues, measure_on_axis
from kpflow_sk.linalg._checks import EXACT_MAX_DIM, check_choice, check_exact, check_int
from kpflow_sk.linalg._krylov import BlockKrylov, ritz_bounds
from kpflow_sk.linalg._random import check_generator, gaussian
from kpflow_sk.linalg._reduce import REDUCTIONS
from kpflow_sk.linalg._results import Spectrum, frozen_array
from kpflow_sk.linalg._views import SymmetricView

__all__ = ["top_eigenvalues", "spectrum", "EIGEN_METHODS", "dense_eigenvalues",
           "SPECTRUM_FLOOR"]

#: Eigenvalues below this fraction of the largest are judged, for the tolerance, against
#: this fraction of the largest (their relative error would otherwise never settle).
SPECTRUM_FLOOR = 1e-3


def _ratio(values, half_width, rtol):
    """Worst ``half_width / (rtol * max(value, floor * top))`` over the eigenvalues."""
    v = np.abs(np.asarray(values, dtype=np.float64))
    hw = np.asarray(half_width, dtype=np.float64)
    if v.size == 0:
        return 0.0
    scale = np.maximum(v, SPECTRUM_FLOOR * v.max())
    if np.any(~np.isfinite(hw)):
        return math.inf
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(scale > 0, hw / (rtol * scale), np.where(hw > 0, np.inf, 0.0))
    return float(r.max())


def _lanczos(G, k, acc, generator, block_size, n_oversamples, n_power_iter):
    """Block Lanczos Ritz values with residual error bounds; grows the space when adaptive.

    Returns ``(values, lo, hi, hit_cap)``: Ritz values are lower bounds of the eigenvalues
    (Cauchy interlacing), ``hi = values + bound``.
    """
    n_vectors = min(acc.initial // G.cost, G.n)
    b = block_size or max(1, min(k, 32))
    b = min(b, n_vectors)
    krylov = BlockKrylov(G, b, generator).extend(n_vectors // b)
    if krylov.dim < k:
        raise ValueError(f"n_applications={acc.initial} gives a Krylov space of dimension "
                         f"{krylov.dim} < k={k}; raise n_applications")
    hit = False
    while True:
        theta, err = (x.cpu().numpy()[:k] for x in krylov.ritz_errors())
        # the Ritz value sits at the bottom of [theta, theta + err]: its error is up to err
        if acc.fixed or krylov.exhausted or _ratio(theta, err, acc.target) <= 1:
            break
        room = (acc.cap - G.counter.n) // (G.cost * krylov.b)
        if room < 1:
            hit = True
            break
        krylov.extend(min(room, max(1, krylov.n_blocks // 2)))
    return theta, theta, theta + err, hit


def _randomized(G, k, acc, generator, block_size, n_oversamples, n_power_iter):
    """Range finder + Nystrom (PSD G) or randomized SVD (``A A*``), with residual bounds.

    Subspace iteration continues (one more pass per round) while adaptive and short of the
    tolerance. The error bound of each value is the Rayleigh-Ritz residual bound on the same
    subspace plus the gap between the Nystrom / SVD value and the Ritz value.
    """
    rank = min(k + n_oversamples, G.A.n_in if G.gram else G.n, G.n)
    per_pass = rank * (2 if G.gram else 1)
    budget = acc.initial
    if n_power_iter is None:
        n_power_iter = (budget - per_pass) // per_pass
    if n_power_iter < 0 or (acc.fixed and (n_power_iter + 1) * per_pass > budget):
        raise ValueError(f"n_applications={budget} is too small for the randomized method "
                         f"with k + n_oversamples = {rank} (needs at least {per_pass})")
    if G.gram:
        values, lo, hi, hit = _rsvd(G, k, rank, n_power_iter, acc, generator)
    else:
        values, lo, hi, hit = _nystrom(G, k, rank, n_power_iter, acc, generator)
    return values, lo, hi, hit


def _ritz_bounds(theta, resid):
    """:func:`ritz_bounds` on numpy arrays."""
    out = ritz_bounds(torch.as_tensor(theta, dtype=torch.float64),
                      torch.as_tensor(resid, dtype=torch.float64))
    return out.numpy()


def _nystrom(G, k, rank, n_power_iter, acc, generator):
    """Nystrom (Tropp, Yurtsever, Udell, Cevher 2017, Alg. 3) on ``X = orth(G^q Omega)``."""
    X, _ = torch.linalg.qr(gaussian((G.n, rank), generator, G.dtype, G.device))
    for _ in range(n_power_iter):
        X, _ = torch.linalg.qr(G.mm(X))
    hit = False
    while True:
        Y = G.mm(X)
        Xd, Yd = X.double(), Y.double()
        nu = torch.finfo(G.dtype).eps * Yd.norm() * G.n**0.5
        core = Xd.mT @ Yd
        core = (core + core.mT) / 2
        L, info = torch.linalg.cholesky_ex(core + nu * torch.eye(rank, dtype=core.dtype,
                                                                 device=core.device))
        if int(info) == 0:
            Bm = torch.linalg.solve_triangular(L, (Yd + nu * Xd).mT, upper=False).mT
            values = (torch.linalg.svdvals(Bm).square() - nu).clamp_min(0)
        else:  # not PSD to working precision: Rayleigh-Ritz values
            values = torch.linalg.eigvalsh(core).flip(0).clamp_min(0)
        theta, S = torch.linalg.eigh(core)
        theta, S = theta.flip(0), S.flip(1)
        resid = (Yd @ S - Xd @ (S * theta)).norm(dim=0)
        values = values.cpu().numpy()[:k]
        th = theta.cpu().numpy()
        err = _ritz_bounds(th, resid.cpu().numpy())[:k] + np.abs(values - th[:k])
        if acc.fixed or _ratio(values, err, acc.target) <= 1:
            break
        if acc.cap - G.counter.n < rank:
            hit = True
            break
        X, _ = torch.linalg.qr(Y)
    return values, np.maximum(values - err, 0), values + err, hit


def _rsvd(G, k, rank, n_power_iter, acc, generator):
    """Randomized SVD of A (Halko, Martinsson, Tropp 2011, Alg. 4.4 + 5.1): ``A A*``'s values.

    Each round: ``B = A* Q`` gives the values ``svd(B)^2`` (Rayleigh-Ritz of ``A A*`` on Q);
    ``Y = A orth(B)`` is both the next subspace-iteration step and, as ``A B = Y R``, the
    residual ``A A* Q s - theta Q s`` of the values just found.
    """
    A = G.A
    Y = A.mm(gaussian((A.n_in, rank), generator, A.dtype, A.device))
    for _ in range(n_power_iter):
        Q, _ = torch.linalg.qr(Y)
        Z, _ = torch.linalg.qr(A.rmm(Q))
        Y = A.mm(Z)
    Q, _ = torch.linalg.qr(Y)
    Bm = A.rmm(Q)
    hit = False
    while True:
        Bd = Bm.double()
        U, sv, Vh = torch.linalg.svd(Bd, full_matrices=False)
        values = sv.square().cpu().numpy()[:k]
        if acc.fixed and acc.cap - G.counter.n < rank:
            # the fixed budget leaves no room for the residual pass: no error bound (NaN)
            return values, values * np.nan, values * np.nan, False
        Z, Rz = torch.linalg.qr(Bd)
        Y = A.mm(Z.to(A.dtype)).double()
        # G Q V = A B V = Y Rz V; Ritz vectors Q V (V from B = U S Vh: right side in Q coords)
        V = Vh.mT
        resid = (Y @ (Rz @ V) - Q.double() @ (V * sv.square())).norm(dim=0)
        th = sv.square().cpu().numpy()
        err = _ritz_bounds(th, resid.cpu().numpy())[:k]
        if acc.fixed or _ratio(values, err, acc.target) <= 1:
            break
        if acc.cap - G.counter.n < rank:
            hit = True
            break
        Q, _ = torch.linalg.qr(Y.to(A.dtype))
        Bm = A.rmm(Q)
    return values, values, values + err, hit


EIGEN_METHODS = {"lanczos": _lanczos, "randomized": _randomized}


def default_budget(k, method, gram):
    """Default first-round ``n_applications`` of :func:`top_eigenvalues` for ``k`` values."""
    cost = 2 if gram else 1
    if method == "randomized":
        return None
    return cost * max(6 * k, k + 60)


def top_eigenvalues(op, k, *, method="lanczos", gram=False, n_applications=None,
                    block_size=None, n_oversamples=10, n_power_iter=None, exact=None,
                    random_state=None, rtol=None, max_applications=None):
    """The k largest eigenvalues of a self-adjoint PSD operator, or of ``A A*``.

    Parameters
    ----------
    op : operator, torch.Tensor or ndarray
        Self-adjoint PSD with ``in_shape == out_shape``; any A with ``gram=True`` (the
        eigenvalues of ``A A*`` are the squared singular values of A).
    k : int
        Number of eigenvalues, ``1 <= k <= dim``.
    method : {"lanczos", "randomized"}, default="lanczos"
        ``"lanczos"``: block Lanczos with full reorthogonalisation (blocks of
        ``block_size`` probes), Rayleigh-Ritz values of the whole Krylov space.
        ``"randomized"``: a range finder with ``k + n_oversamples`` probes and
        ``n_power_iter`` power iterations, then Nystrom (PSD G) or a randomized SVD of A
        (``gram=True``); eigenvalues are clipped at 0.
    gram : bool, default=False
    n_applications : int, optional
        Budget of probe vectors through ``op`` and its adjoint. Lanczos default:
        ``max(6 k, k + 60)`` G-applications (each costs 2 with ``gram``). Randomized: sets
        ``n_power_iter`` to the most the budget allows when that is not given; default
        cost ``(n_power_iter + 1) (k + n_oversamples)`` (x2 with ``gram``), 2 iterations.
        Given without ``rtol`` (or, for ``"randomized"``, an explicit ``n_power_iter``): a
        fixed budget; otherwise the first round. A fixed ``"randomized"`` budget with
        ``gram=True`` leaves no room for the residual pass: its errors are NaN.
    block_size : int, optional
        Lanczos block width; default ``min(k, 32)``.
    n_oversamples : int, default=10
    n_power_iter : int, optional
    exact : None or bool
        True: eigenvalues of the dense matrix. None: dense when building it costs no more
        than the budget.
    random_state : None, int, numpy or torch generator
    rtol : float, optional
        Relative tolerance: the Krylov space grows (Lanczos) or subspace iteration continues
        (randomized) until every value's error half-width is at most ``rtol`` times the
        value (values below ``SPECTRUM_FLOOR`` = 1e-3 of the largest: times that floor).
        Default ``DEFAULT_RTOL`` (0.02) unless ``n_applications`` is given.
    max_applications : int, optional
        Cap of an adaptive estimate (default ``DEFAULT_MAX_APPLICATIONS`` = 2000).

    Returns
    -------
    Spectrum
        ``values`` of shape (k,), descending; ``errors`` and ``interval`` from the
        Rayleigh-Ritz residuals (Lanczos: ``interval[0] = values``, Ritz values being lower
        bounds).
    """
    method = check_choice("method", method, EIGEN_METHODS)
    G = SymmetricView(op, gram)
    k = check_int("k", k)
    if k > G.n:
        raise ValueError(f"k={k} exceeds the dimension {G.n} of the operator's space")
    budget = check_int("n_applications", n_applications, allow_none=True)
    check_int("block_size", block_size, allow_none=True)
    check_int("n_oversamples", n_oversamples, minimum=0)
    check_int("n_power_iter", n_power_iter, minimum=0, allow_none=True)
    exact = check_exact(exact)
    default = default_budget(k, method, gram)
    limit = budget if budget is not None else default
    if exact if exact is not None else (limit is not None and G.dense_cost <= limit):
        values = G.dense_spectrum()[:k]
        return Spectrum(frozen_array(values.cpu()), G.counter.n, True, "dense")
    gen = check_generator(random_state, G.device)
    if method == "randomized" and budget is None:
        # default: n_power_iter (2) sets the first round
        rank = min(k + n_oversamples, G.A.n_in if G.gram else G.n, G.n)
        q = 2 if n_power_iter is None else n_power_iter
        first = (q + 1) * rank * G.cost
        # an explicit n_power_iter without rtol fixes the cost, as a budget does
        fixed = first if n_power_iter is not None and rtol is None else None
        acc = check_accuracy(fixed, rtol, max_applications, first,
                             default_cap=max(DEFAULT_MAX_APPLICATIONS, first))
        n_power_iter = q
    else:
        acc = check_accuracy(budget, rtol, max_applications, limit,
                             default_cap=max(DEFAULT_MAX_APPLICATIONS, limit or 0))
    values, lo, hi, hit = EIGEN_METHODS[method](G, k, acc, gen, block_size, n_oversamples,
                                                n_power_iter)
    return _spectrum_result(values, lo, hi, G.counter.n, method, acc, hit)


def _spectrum_result(values, lo, hi, n, method, acc, hit, axis=None, reduce=None,
                     errors=None):
    values = np.asarray(values, dtype=np.float64)
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    errors = (hi - lo) / 2 if errors is None else np.asarray(errors, dtype=np.float64)
    # the largest distance from the value to an end of its interval (all of it for a Ritz
    # value, which is the interval's lower end)
    converged = bool(_ratio(values, np.maximum(values - lo, hi - values), acc.target) <= 1)
    stderr = float(np.max(errors)) if errors.size else 0.0
    return Spectrum(frozen_array(values), n, False, method, axis, reduce, frozen_array(errors),
                    stderr, (frozen_array(lo), frozen_array(hi)), acc.rtol, converged,
                    bool(hit and not converged))


def spectrum(op, k=20, *, axis=None, reduce="trace", gram=False, method="lanczos",
             exact=None, n_applications=None, n_probes=None, random_state=None, rtol=None,
             max_applications=None):
    """Top-k eigenvalues of a PSD operator on its whole space or reduced to one axis.

    Parameters
    ----------
    op : operator, torch.Tensor or ndarray
        Self-adjoint PSD, or any A with ``gram=True`` (spectrum of ``A A*``).
    k : int, default=20
        Capped at the dimension (of the axis, when ``axis`` is given).
    axis : None, {"trial", "time", "hidden"} or int
        None: the whole space. Otherwise the operator is first reduced with
        :func:`reduce_to_axis` and the small matrix diagonalised exactly.
    reduce : {"trace", "mean"}, default="trace"
    gram : bool, default=False
    method : {"lanczos", "randomized"}
        Whole-space estimator (see :func:`top_eigenvalues`).
    exact : None or bool
        Whole space: None means dense when the dimension is at most 4096. With ``axis``:
        passed to :func:`reduce_to_axis`.
    n_applications : int, optional
        Whole-space budget (see :func:`top_eigenvalues`).
    n_probes : int, optional
        Partial-trace probes (see :func:`reduce_to_axis`); given without ``rtol``, fixed.
    random_state : None, int, numpy or torch generator
    rtol : float, optional
        Relative tolerance on every value (see :func:`top_eigenvalues`); with a randomized
        partial trace the errors are a jackknife over 16 probe groups and probes are added
        until they meet it. Default ``DEFAULT_RTOL`` unless a budget is given.
    max_applications : int, optional
        Cap (whole space: default 2000; axis: 256 probes).

    Returns
    -------
    Spectrum
    """
    check_choice("reduce", reduce, REDUCTIONS)
    check_choice("method", method, EIGEN_METHODS)
    k = check_int("k", k)
    exact = check_exact(exact)
    if axis is not None:
        m = measure_on_axis(op, axis, reduce, lambda lam: lam[:k], gram=gram, exact=exact,
                            n_probes=n_probes, rtol=rtol, max_applications=max_applications,
                            random_state=random_state, floor=SPECTRUM_FLOOR,
                            bias_correct=False)
        red, values = m.reduction, m.value
        if m.exact:
            return Spectrum(frozen_array(values), red.n_applications, True, "dense", red.axis,
                            reduce)
        acc = check_accuracy(n_probes, rtol, None, 1)
        acc.rtol = red.rtol
        return _spectrum_result(values, values - m.half_width, values + m.half_width,
                                red.n_applications, "partial-trace", acc, m.hit_cap, red.axis,
                                reduce, errors=m.stderr)
    G = SymmetricView(op, gram)
    k = min(k, G.n)
    if exact is None:
        exact = G.dense_cost <= EXACT_MAX_DIM or None
    return top_eigenvalues(op, k, method=method, gram=gram, n_applications=n_applications,
                           exact=exact, random_state=random_state, rtol=rtol,
                           max_applications=max_applications)
