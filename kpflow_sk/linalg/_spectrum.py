"""Leading eigenvalues of a PSD operator (or of ``A A*``): Lanczos, randomized, dense."""

from __future__ import annotations

import torch

from kpflow_sk.linalg._checks import EXACT_MAX_DIM, check_choice, check_exact, check_int
from kpflow_sk.linalg._krylov import BlockKrylov, nystrom_eigenvalues, rsvd_eigenvalues
from kpflow_sk.linalg._random import check_generator
from kpflow_sk.linalg._reduce import REDUCTIONS, reduce_to_axis
from kpflow_sk.linalg._results import Spectrum, frozen_array
from kpflow_sk.linalg._views import SymmetricView

__all__ = ["top_eigenvalues", "spectrum", "EIGEN_METHODS", "dense_eigenvalues"]


def dense_eigenvalues(D):
    """Eigenvalues of a dense symmetric matrix, descending, float64."""
    return torch.linalg.eigvalsh(D.double()).flip(0)


def _lanczos(G, k, budget, generator, block_size, n_oversamples, n_power_iter):
    n_vectors = min(budget // G.cost, G.n)
    b = block_size or max(1, min(k, 32))
    b = min(b, n_vectors)
    krylov = BlockKrylov(G, b, generator).extend(n_vectors // b)
    if krylov.dim < k:
        raise ValueError(f"n_applications={budget} gives a Krylov space of dimension "
                         f"{krylov.dim} < k={k}; raise n_applications")
    return krylov.ritz_values()[:k]


def _randomized(G, k, budget, generator, block_size, n_oversamples, n_power_iter):
    rank = min(k + n_oversamples, G.A.n_in if G.gram else G.n, G.n)
    per_pass = rank * 2 if G.gram else rank  # one pass = (A A*) or G on every column
    first = rank * (2 if G.gram else 1)  # (A Omega then A* Q) or G X
    if n_power_iter is None:
        n_power_iter = 2 if budget is None else (budget - first) // per_pass
    if n_power_iter < 0 or (budget is not None and first + n_power_iter * per_pass > budget):
        raise ValueError(f"n_applications={budget} is too small for the randomized method "
                         f"with k + n_oversamples = {rank} (needs at least {first})")
    if G.gram:
        values = rsvd_eigenvalues(G.A, rank, n_power_iter, generator)
    else:
        values = nystrom_eigenvalues(G, rank, n_power_iter, generator)
    return values[:k]


EIGEN_METHODS = {"lanczos": _lanczos, "randomized": _randomized}


def default_budget(k, method, gram):
    """Default ``n_applications`` of :func:`top_eigenvalues` for ``k`` eigenvalues."""
    cost = 2 if gram else 1
    if method == "randomized":
        return None
    return cost * max(6 * k, k + 60)


def top_eigenvalues(op, k, *, method="lanczos", gram=False, n_applications=None,
                    block_size=None, n_oversamples=10, n_power_iter=None, exact=None,
                    random_state=None):
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
    block_size : int, optional
        Lanczos block width; default ``min(k, 32)``.
    n_oversamples : int, default=10
    n_power_iter : int, optional
    exact : None or bool
        True: eigenvalues of the dense matrix. None: dense when building it costs no more
        than the budget.
    random_state : None, int, numpy or torch generator

    Returns
    -------
    Spectrum
        ``values`` of shape (k,), descending.
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
        values = dense_eigenvalues(G.dense())[:k]
        return Spectrum(frozen_array(values.cpu()), G.counter.n, True, "dense")
    gen = check_generator(random_state, G.device)
    if method == "lanczos" and budget is None:
        budget = default
    values = EIGEN_METHODS[method](G, k, budget, gen, block_size, n_oversamples, n_power_iter)
    return Spectrum(frozen_array(values.cpu()), G.counter.n, False, method)


def spectrum(op, k=20, *, axis=None, reduce="trace", gram=False, method="lanczos",
             exact=None, n_applications=None, n_probes=None, random_state=None):
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
        Partial-trace probes (see :func:`reduce_to_axis`).
    random_state : None, int, numpy or torch generator

    Returns
    -------
    Spectrum
    """
    check_choice("reduce", reduce, REDUCTIONS)
    check_choice("method", method, EIGEN_METHODS)
    k = check_int("k", k)
    exact = check_exact(exact)
    if axis is not None:
        red = reduce_to_axis(op, axis, reduce, gram=gram, exact=exact, n_probes=n_probes,
                             random_state=random_state)
        values = dense_eigenvalues(red.matrix)[:k]
        return Spectrum(frozen_array(values.cpu()), red.n_applications, red.exact, "dense",
                        red.axis, reduce)
    G = SymmetricView(op, gram)
    k = min(k, G.n)
    if exact is None:
        exact = G.dense_cost <= EXACT_MAX_DIM or None
    return top_eigenvalues(op, k, method=method, gram=gram, n_applications=n_applications,
                           exact=exact, random_state=random_state)
