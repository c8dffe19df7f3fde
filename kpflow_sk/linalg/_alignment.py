"""Alignment: Frobenius cosine of two operators, plain cosine of two tensors (DESIGN.md s. 3)."""

from __future__ import annotations

import math

import numpy as np
import torch

from kpflow_sk.linalg._checks import check_exact, check_int
from kpflow_sk.linalg._random import check_generator, gaussian, rademacher
from kpflow_sk.linalg._results import Alignment
from kpflow_sk.linalg._views import Counter, FlatView

__all__ = ["alignment", "cosine"]


def alignment(A, B, n_applications=60, *, random_state=None, exact=None):
    """Frobenius cosine ``tr(A B*) / sqrt(tr(A A*) tr(B B*))`` of two operators.

    Parameters
    ----------
    A, B : operators, torch.Tensors or ndarrays
        Same ``in_shape``, ``out_shape``, dtype and device.
    n_applications : int, default=60
        Budget of probe vectors through A, B and their adjoints, all together.
    random_state : None, int, numpy or torch generator
    exact : None or bool
        True: from the dense matrices of A and B (``min(n_in, n_out)`` applications each).
        None: dense when that fits in ``n_applications``.

    Returns
    -------
    Alignment
        The cosine and its three traces.

    Notes
    -----
    The estimate shares every probe between the three traces, so their errors are
    correlated and largely cancel in the ratio. It is Hutch++ on the input space: a sketch
    ``Q = orth([A* S, B* S])`` of both row spaces, the exact part ``tr(B* A Q Q^T) =
    <A Q, B Q>``, and Hutchinson probes ``z' = (I - QQ^T) z`` for the remainder
    ``E <A z', B z'>`` (likewise ``||A z'||^2``, ``||B z'||^2``). Budget: about 1/10 of it to
    S (per operator), 4/10 to ``A Q, B Q``, the rest to probes.
    """
    counter = Counter()
    fa, fb = FlatView(A, counter, "A"), FlatView(B, counter, "B")
    if (fa.in_shape, fa.out_shape) != (fb.in_shape, fb.out_shape):
        raise ValueError(f"A maps {fa.in_shape} -> {fa.out_shape} but B maps {fb.in_shape} -> "
                         f"{fb.out_shape}; alignment needs the same shapes")
    if fa.dtype != fb.dtype or fa.device != fb.device:
        raise ValueError(f"A is {fa.dtype} on {fa.device} but B is {fb.dtype} on {fb.device}; "
                         "alignment needs both on the same dtype and device")
    budget = check_int("n_applications", n_applications, minimum=2)
    exact = check_exact(exact)
    if exact if exact is not None else 2 * fa.dense_cost <= budget:
        Da, Db = fa.dense(), fb.dense()
        inner, naa, nbb = (Da * Db).sum(), Da.square().sum(), Db.square().sum()
        return _result(inner, naa, nbb, counter.n, True)

    gen = check_generator(random_state, fa.device)
    s = min(budget // 10, fa.n_in // 2, fa.n_out)
    inner = naa = nbb = torch.zeros((), dtype=fa.dtype, device=fa.device)
    Q = None
    if s:
        S = gaussian((fa.n_out, s), gen, fa.dtype, fa.device)
        Q, _ = torch.linalg.qr(torch.cat([fa.rmm(S), fb.rmm(S)], dim=1))
        AQ, BQ = fa.mm(Q), fb.mm(Q)
        inner, naa, nbb = (AQ * BQ).sum(), AQ.square().sum(), BQ.square().sum()
    n_probes = max(1, (budget - counter.n) // 2)
    if Q is None or Q.shape[1] < fa.n_in:
        Z = rademacher((fa.n_in, n_probes), gen, fa.dtype, fa.device)
        if Q is not None:
            Z = Z - Q @ (Q.mT @ Z)
        AZ, BZ = fa.mm(Z), fb.mm(Z)
        inner = inner + (AZ * BZ).sum() / n_probes
        naa = naa + AZ.square().sum() / n_probes
        nbb = nbb + BZ.square().sum() / n_probes
    return _result(inner, naa, nbb, counter.n, False)


def _result(inner, naa, nbb, n_applications, exact):
    inner, naa, nbb = float(inner), float(naa), float(nbb)
    denom = math.sqrt(naa * nbb) if naa > 0 and nbb > 0 else 0.0
    value = inner / denom if denom > 0 else float("nan")
    if not exact and denom > 0:  # the estimated traces can push the ratio slightly past 1
        value = min(1.0, max(-1.0, value))
    return Alignment(value, inner, naa, nbb, n_applications, exact)


def cosine(x, y):
    """Plain cosine ``<x, y> / (||x|| ||y||)`` of two tensors of the same shape.

    Parameters
    ----------
    x, y : torch.Tensor or array-like
        Flattened; accumulated in float64.

    Returns
    -------
    float
        NaN when either is zero.

    Examples
    --------
    >>> cosine([1.0, 0.0], [1.0, 1.0])  # doctest: +ELLIPSIS
    0.7071...
    """
    x = x if torch.is_tensor(x) else torch.as_tensor(np.asarray(x))
    y = y if torch.is_tensor(y) else torch.as_tensor(np.asarray(y))
    if x.shape != y.shape:
        raise ValueError(f"cosine needs tensors of the same shape, got {tuple(x.shape)} and "
                         f"{tuple(y.shape)}")
    x = x.detach().reshape(-1).double()
    y = y.detach().to(x.device).reshape(-1).double()
    nx, ny = x.norm(), y.norm()
    if float(nx) == 0.0 or float(ny) == 0.0:
        return float("nan")
    return float((x @ y) / (nx * ny))
