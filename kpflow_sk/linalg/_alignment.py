"""Alignment: Frobenius cosine of two operators, cosine of two tensors (docs/conventions.md)."""

from __future__ import annotations

import math

import numpy as np
import torch

from kpflow_sk.linalg._accuracy import check_accuracy, delta_stderr, t_quantile
from kpflow_sk.linalg._checks import check_exact, check_int
from kpflow_sk.linalg._random import check_generator, gaussian, rademacher
from kpflow_sk.linalg._results import Alignment
from kpflow_sk.linalg._trace import MIN_STOP_PROBES
from kpflow_sk.linalg._views import Counter, FlatView

__all__ = ["alignment", "cosine", "DEFAULT_ALIGNMENT_BUDGET", "ALIGNMENT_FLOOR"]

#: First-round (or fixed) budget of a randomized alignment.
DEFAULT_ALIGNMENT_BUDGET = 60
#: The tolerance of a cosine is relative to ``max(|cos|, ALIGNMENT_FLOOR)`` (a cosine near 0
#: has no relative accuracy).
ALIGNMENT_FLOOR = 0.1
_MIN_PROBES = 6


class _Sketch:
    """Hutch++ state of the alignment: the sketch Q of both row spaces and the probes."""

    def __init__(self, fa, fb, gen):
        self.fa, self.fb, self.gen = fa, fb, gen
        zero = torch.zeros((), dtype=torch.float64, device=fa.device)
        self.exact = [zero, zero, zero]  # <AQ, BQ>, ||AQ||^2, ||BQ||^2
        self.Q = None
        self.samples = np.zeros((0, 3))

    @property
    def dim(self):
        return 0 if self.Q is None else self.Q.shape[1]

    def grow(self, s):
        """Add ``orth([A* S, B* S])`` for s more Gaussian columns S (probes are dropped)."""
        fa, fb = self.fa, self.fb
        S = gaussian((fa.n_out, s), self.gen, fa.dtype, fa.device)
        W = torch.cat([fa.rmm(S), fb.rmm(S)], dim=1)
        if self.Q is not None:
            W = W - self.Q @ (self.Q.mT @ W)
            W = W - self.Q @ (self.Q.mT @ W)
        Qn, _ = torch.linalg.qr(W)
        if self.Q is not None:
            Qn = Qn - self.Q @ (self.Q.mT @ Qn)
            Qn, _ = torch.linalg.qr(Qn)
        AQ, BQ = fa.mm(Qn).double(), fb.mm(Qn).double()
        self.exact = [self.exact[0] + (AQ * BQ).sum(), self.exact[1] + AQ.square().sum(),
                      self.exact[2] + BQ.square().sum()]
        self.Q = Qn if self.Q is None else torch.cat([self.Q, Qn], dim=1)
        self.samples = np.zeros((0, 3))

    def probe(self, n):
        """n more deflated Rademacher probes; per probe (<Az, Bz>, ||Az||^2, ||Bz||^2)."""
        fa = self.fa
        Z = rademacher((fa.n_in, n), self.gen, fa.dtype, fa.device)
        if self.Q is not None:
            Z = Z - self.Q @ (self.Q.mT @ Z)
        AZ, BZ = fa.mm(Z).double(), self.fb.mm(Z).double()
        new = torch.stack([(AZ * BZ).sum(0), AZ.square().sum(0), BZ.square().sum(0)], dim=1)
        self.samples = np.concatenate([self.samples, new.cpu().numpy()])

    @property
    def full(self):
        return self.dim >= self.fa.n_in

    def stats(self):
        """``(cos, inner, naa, nbb, stderr, dof)``; stderr by the delta method on the joint
        per-probe samples (the three traces share probes: their covariance enters)."""
        ex = np.array([float(x) for x in self.exact])
        p = self.samples.shape[0]
        mean = self.samples.mean(0) if p else np.zeros(3)
        inner, naa, nbb = ex + (mean if not self.full else 0.0)
        denom = math.sqrt(naa * nbb) if naa > 0 and nbb > 0 else 0.0
        if denom == 0:
            return float("nan"), inner, naa, nbb, float("nan"), 0
        cos = inner / denom
        if self.full or p == 0:
            return cos, inner, naa, nbb, 0.0, math.inf
        grad = [1 / denom, -cos / (2 * naa), -cos / (2 * nbb)]
        return cos, inner, naa, nbb, delta_stderr(grad, self.samples), p - 1


def alignment(A, B, n_applications=None, *, random_state=None, exact=None, rtol=None,
              max_applications=None):
    """Frobenius cosine ``tr(A B*) / sqrt(tr(A A*) tr(B B*))`` of two operators.

    Parameters
    ----------
    A, B : operators, torch.Tensors or ndarrays
        Same ``in_shape``, ``out_shape``, dtype and device.
    n_applications : int, optional
        Budget of probe vectors through A, B and their adjoints, all together. Given without
        ``rtol``: a fixed budget. Otherwise the first round (default 60) of an adaptive
        estimate.
    random_state : None, int, numpy or torch generator
    exact : None or bool
        True: from the dense matrices of A and B (``min(n_in, n_out)`` applications each).
        None: dense when that fits in the (first-round) budget.
    rtol : float, optional
        Tolerance: the budget grows until the ~95% half-width of the cosine is at most
        ``rtol * max(|cos|, 0.1)``. Default ``DEFAULT_RTOL`` (0.02) unless
        ``n_applications`` is given.
    max_applications : int, optional
        Cap of an adaptive estimate (default ``DEFAULT_MAX_APPLICATIONS`` = 2000).

    Returns
    -------
    Alignment
        The cosine, its three traces, ``stderr`` (delta method) and ``interval``.

    Notes
    -----
    The estimate shares every probe between the three traces, so their errors are
    correlated and largely cancel in the ratio. It is Hutch++ on the input space: a sketch
    ``Q = orth([A* S, B* S])`` of both row spaces, the exact part ``tr(B* A Q Q^T) =
    <A Q, B Q>``, and Hutchinson probes ``z' = (I - QQ^T) z`` for the remainder
    ``E <A z', B z'>`` (likewise ``||A z'||^2``, ``||B z'||^2``). First round: about 1/10
    of it to S (per operator), 4/10 to ``A Q, B Q``, the rest to probes. Adaptive rounds
    double the sketch when the probes the tolerance needs would cost more than the sketch
    (the balance of adaptive Hutch++), else add probes.
    """
    counter = Counter()
    fa, fb = FlatView(A, counter, "A"), FlatView(B, counter, "B")
    if (fa.in_shape, fa.out_shape) != (fb.in_shape, fb.out_shape):
        raise ValueError(f"A maps {fa.in_shape} -> {fa.out_shape} but B maps {fb.in_shape} -> "
                         f"{fb.out_shape}; alignment needs the same shapes")
    if fa.dtype != fb.dtype or fa.device != fb.device:
        raise ValueError(f"A is {fa.dtype} on {fa.device} but B is {fb.dtype} on {fb.device}; "
                         "alignment needs both on the same dtype and device")
    budget = check_int("n_applications", n_applications, minimum=2, allow_none=True)
    acc = check_accuracy(budget, rtol, max_applications, DEFAULT_ALIGNMENT_BUDGET, minimum=2)
    exact = check_exact(exact)
    if exact if exact is not None else 2 * fa.dense_cost <= acc.initial:
        Da, Db = fa.dense(), fb.dense()
        inner, naa, nbb = (Da * Db).sum(), Da.square().sum(), Db.square().sum()
        return _result(float(inner), float(naa), float(nbb), counter.n, True, 0.0, math.inf,
                       acc, False)

    sk = _Sketch(fa, fb, check_generator(random_state, fa.device))
    s = min(acc.initial // 10, fa.n_in // 2, fa.n_out)
    if s:
        sk.grow(s)
    if not sk.full:
        sk.probe(max(1, (acc.initial - counter.n) // 2))
    hit = False
    while not acc.fixed:
        cos, *_, se, dof = sk.stats()
        hw = t_quantile(dof) * se
        scale = max(abs(cos), ALIGNMENT_FLOOR) if np.isfinite(cos) else 1.0
        p = sk.samples.shape[0]
        if sk.full or not np.isfinite(cos) or (np.isfinite(hw) and hw <= acc.target * scale
                                               and p >= MIN_STOP_PROBES):
            break
        room = acc.cap - counter.n
        if room < 2:
            hit = True
            break
        ratio = hw / (acc.target * scale) if np.isfinite(hw) else 4.0
        need = max(math.ceil(p * min(ratio, 8.0) ** 2 * 1.2) - p, MIN_STOP_PROBES - p)
        fresh = max(_MIN_PROBES, p)
        s_new = min(max(1, sk.dim // 2), (fa.n_in - sk.dim) // 2, fa.n_out)
        if (s_new >= 1 and 2 * need > 3 * sk.dim and room >= 6 * s_new + 2 * fresh):
            sk.grow(s_new)  # 2 s_new through the adjoints, 4 s_new for A Q, B Q
            if not sk.full:
                sk.probe(fresh)
        else:
            sk.probe(max(1, min(max(need, _MIN_PROBES), room // 2)))
    cos, inner, naa, nbb, se, dof = sk.stats()
    return _result(inner, naa, nbb, counter.n, False, se, dof, acc, hit)


def _result(inner, naa, nbb, n_applications, exact, se, dof, acc, hit):
    denom = math.sqrt(naa * nbb) if naa > 0 and nbb > 0 else 0.0
    value = inner / denom if denom > 0 else float("nan")
    if exact:
        return Alignment(value, inner, naa, nbb, n_applications, True)
    hw = t_quantile(dof) * se if se > 0 else 0.0
    lo, hi = value - hw, value + hw
    if denom > 0:  # the estimated traces can push the ratio slightly past 1
        value = min(1.0, max(-1.0, value))
        lo, hi = max(-1.0, lo), min(1.0, hi)
    scale = max(abs(value), ALIGNMENT_FLOOR) if np.isfinite(value) else 1.0
    converged = bool(np.isfinite(hw) and hw <= acc.target * scale)
    return Alignment(value, inner, naa, nbb, n_applications, False, float(se), (lo, hi),
                     acc.rtol, converged, bool(hit and not converged))


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
