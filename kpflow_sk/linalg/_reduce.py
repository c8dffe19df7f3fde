"""Reduce an operator on ``(B, T, H)`` to one axis: partial trace or mean (docs/conventions.md)."""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from kpflow_sk.linalg._accuracy import check_accuracy, jackknife_stderr, t_quantile
from kpflow_sk.linalg._checks import EXACT_MAX_DIM, check_choice, check_exact, check_int
from kpflow_sk.linalg._operator import basis_block
from kpflow_sk.linalg._random import check_generator, rademacher
from kpflow_sk.linalg._results import AxisReduction
from kpflow_sk.linalg._views import SymmetricView, block_columns

__all__ = ["reduce_to_axis", "resolve_axis", "PartialTrace", "AXES", "REDUCTIONS",
           "DEFAULT_N_PROBES", "DEFAULT_MAX_PROBES", "axis_setup", "grow", "exact_cost",
           "exact_partial_trace", "axis_result", "fallback"]

AXES = {"trial": 0, "time": 1, "hidden": 2}
REDUCTIONS = ("trace", "mean")

# Rademacher vectors over the other axes in the first round of a randomized partial trace
# (each costs n_axis applications).
DEFAULT_N_PROBES = 32
#: Default cap of an adaptive randomized partial trace, in probes (x n_axis applications).
DEFAULT_MAX_PROBES = 256
# Disjoint probe groups kept for jackknife errors (probe j goes to group j mod this).
N_GROUPS = 16


def resolve_axis(axis, shape):
    """Axis name (``"trial"``, ``"time"``, ``"hidden"`` of a (B, T, H) space) or int -> int."""
    if isinstance(axis, str):
        check_choice("axis", axis, AXES)
        if len(shape) != 3:
            raise ValueError(f"axis {axis!r} names an axis of a (B, T, H) space; this operator's "
                             f"space has shape {tuple(shape)} (pass an int axis)")
        return AXES[axis]
    if isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
        if not -len(shape) <= axis < len(shape):
            raise ValueError(f"axis {axis} is out of range for a space of shape {tuple(shape)}")
        return int(axis) % len(shape)
    raise ValueError(f"unknown axis {axis!r}; valid choices are {sorted(AXES)} or an int")


class PartialTrace:
    """Randomized partial trace that grows by probe blocks and keeps jackknife groups.

    Each Rademacher vector z over the other axes gives the unbiased sample
    ``(z (x) I)^T G (z (x) I)`` of the partial trace; samples are summed into
    ``N_GROUPS`` disjoint groups (probe j into group j mod N_GROUPS) so that any function of
    the matrix gets a jackknife standard error from the leave-one-group-out means.

    Parameters
    ----------
    G : SymmetricView
    a : int
        The kept axis.
    generator : torch.Generator
    width : int, optional
        Probes per operator call (default :func:`block_columns` of ``N n_axis``).
    """

    def __init__(self, G, a, generator, width=None):
        self.G, self.a, self.gen = G, a, generator
        self.n_axis = G.shape[a]
        self.M = G.n // self.n_axis
        self.width = width or block_columns(G.n * self.n_axis)
        self.sums = torch.zeros(N_GROUPS, self.n_axis, self.n_axis, dtype=G.dtype,
                                device=G.device)
        self.counts = np.zeros(N_GROUPS, dtype=np.int64)
        self.n_probes = 0

    @property
    def cost(self):
        """Applications per probe."""
        return self.n_axis

    def add(self, n_probes):
        """Draw and apply ``n_probes`` more probes, ``width`` per operator call."""
        G, a = self.G, self.a
        done = 0
        while done < n_probes:
            w = min(self.width, n_probes - done)
            Z = rademacher((self.M, w), self.gen, G.dtype, G.device)
            samples = compress_each(G, a, Z)  # (w, n, n), one unbiased sample per probe
            idx = (self.n_probes + torch.arange(w)) % N_GROUPS
            self.sums.index_add_(0, idx.to(G.device), samples)
            np.add.at(self.counts, idx.numpy(), 1)
            self.n_probes += w
            done += w
        return self

    def matrix(self):
        """Mean over all probes, symmetrised."""
        R = self.sums.sum(0) / self.n_probes
        return (R + R.mT) / 2

    def leave_one_out(self):
        """``(g, n, n)`` means leaving out each non-empty group (g = min(probes, 16))."""
        used = np.nonzero(self.counts)[0]
        total = self.sums.sum(0)
        keep = torch.as_tensor(used, device=self.sums.device)
        counts = torch.as_tensor(self.n_probes - self.counts[used], dtype=self.sums.dtype,
                                 device=self.sums.device)
        L = (total[None] - self.sums[keep]) / counts[:, None, None]
        return (L + L.mT) / 2

    def group_means(self):
        """``(g, n, n)`` mean of each non-empty group."""
        used = np.nonzero(self.counts)[0]
        counts = torch.as_tensor(self.counts[used], dtype=self.sums.dtype,
                                 device=self.sums.device)
        S = self.sums[torch.as_tensor(used, device=self.sums.device)] / counts[:, None, None]
        return (S + S.mT) / 2

    @property
    def n_groups(self):
        return int(np.count_nonzero(self.counts))


def grow(pt, acc, ratio_fn, exact_cost=None):
    """Add probes to ``pt`` until ``ratio_fn(pt) <= 1`` or the cap.

    ``ratio_fn`` returns the interval half-width over ``rtol * scale`` of the quantity of
    interest; the next round aims at the probe count that the 1/sqrt(p) law predicts.
    With ``exact_cost`` (applications of the exact partial trace, when within the cap), the
    estimate gives up as soon as the probes it predicts it still needs would cost more than
    the exact answer.

    Returns
    -------
    {"met", "cap", "exact"}
    """
    cap_probes = max(1, acc.cap // pt.cost)
    while True:
        ratio = ratio_fn(pt)
        if ratio <= 1:
            return "met"
        p = pt.n_probes
        predicted = math.ceil(p * ratio**2 * 1.1) if np.isfinite(ratio) else math.inf
        if exact_cost is not None and (predicted - p) * pt.cost >= exact_cost:
            return "exact"
        room = cap_probes - p
        if room <= 0:
            return "cap"
        want = min(predicted, 4 * p)
        pt.add(min(room, max(want - p, max(1, p // 4))))


def reduce_to_axis(op, axis, reduce="trace", *, gram=False, exact=None, n_probes=None,
                   rtol=None, max_applications=None, random_state=None, block_width=None):
    """Reduce a self-adjoint operator G on a space of shape ``(B, T, H)`` to one axis.

    With ``N = B T H``, ``n = shape[axis]`` and ``M = N / n`` (the size of the other axes),
    index the space by ``(m, i)``, i along ``axis`` and m over the other axes.

    - ``reduce="trace"``: the partial trace over the other axes, the sum of the diagonal
      blocks, ``G_ax[i, j] = sum_m G[(m, i), (m, j)]``. Exact with probes ``e_m (x) e_j`` for
      all (m, j) (N applications; with ``gram=True`` and a factor A of fewer input
      dimensions, ``sum_m A_m A_m^T`` over A's input basis instead), or unbiased with
      Rademacher vectors z over the other axes, ``G_ax ~ mean_z (z (x) e_i)^T G (z (x) e_j)``
      (``n * n_probes`` applications).
    - ``reduce="mean"``: the compression onto inputs constant along the other axes, outputs
      averaged over them: ``G_ax = E^T G E / M`` with E the ``(N, n)`` embedding that
      broadcasts an axis vector along the other axes. Always exact, n applications.

    Parameters
    ----------
    op : operator, torch.Tensor or ndarray
        Self-adjoint on its space (``in_shape == out_shape``), or any A with ``gram=True``,
        when ``G = A A*`` acts on A's output space; then ``G_ax`` is assembled as
        ``(A* V)^T (A* V)`` (PSD by construction).
    axis : {"trial", "time", "hidden"} or int
        Names need a 3-D space (0, 1, 2 of ``(B, T, H)``); an int works on any space.
    reduce : {"trace", "mean"}, default="trace"
    gram : bool, default=False
    exact : None or bool
        For ``"trace"``: True uses a basis, False Rademacher probes; None is exact when that
        costs no more than the first randomized round or ``N <= 4096``. Ignored for
        ``"mean"``.
    n_probes : int, optional
        Rademacher vectors for the randomized partial trace. Given without ``rtol``: a fixed
        budget. Otherwise the first round (default 32) of an adaptive estimate.
    rtol : float, optional
        Adaptive estimate: probes are added until the ~95% half-width of ``||G_ax||_F``,
        ``t * ||sem||_F``, is at most ``rtol ||G_ax||_F`` (default ``DEFAULT_RTOL`` = 0.02
        when ``n_probes`` is not given). When the probes still needed are predicted to cost
        more than the exact partial trace (and that fits in the cap), the exact one is
        computed instead (unless ``exact=False``).
    max_applications : int, optional
        Cap of the adaptive estimate, default ``256 n`` (256 probes).
    random_state : None, int, numpy or torch generator
    block_width : int, optional
        Probes per operator call (default: as many as fit in ``2**24`` entries).

    Returns
    -------
    AxisReduction
        ``matrix`` of shape ``(n, n)`` on the operator's device, symmetric; randomized:
        ``sem``, ``stderr``, ``interval`` and ``groups`` (see :class:`AxisReduction`).
    """
    check_choice("reduce", reduce, REDUCTIONS)
    n_probes = check_int("n_probes", n_probes, allow_none=True)
    check_int("block_width", block_width, allow_none=True)
    exact = check_exact(exact)
    G, a, n_axis, M, acc = axis_setup(op, axis, gram, n_probes, rtol, max_applications)
    if reduce == "mean":
        R = mean_compression(G, a) / M
        return AxisReduction((R + R.mT) / 2, a, reduce, G.counter.n, True, 1)
    auto = exact is None  # exact=False forbids the exact fallback too
    if exact is None:
        exact = exact_cost(G) <= acc.initial or G.n <= EXACT_MAX_DIM
    if exact:
        R = exact_partial_trace(G, a, block_width)
        return AxisReduction(R, a, reduce, G.counter.n, True, M)
    pt = PartialTrace(G, a, check_generator(random_state, G.device), block_width)
    pt.add(max(1, acc.initial // n_axis))
    outcome = "met"
    if not acc.fixed:
        outcome = grow(pt, acc, lambda p: _frobenius_ratio(p, acc.target),
                       fallback(G, acc) if auto else None)
    if outcome == "exact":
        R = exact_partial_trace(G, a, block_width)
        return AxisReduction(R, a, reduce, G.counter.n, True, M)
    return axis_result(pt, reduce, acc, outcome == "cap")


def fallback(G, acc):
    """Exact cost when the exact partial trace fits in the remaining cap, else None."""
    cost = exact_cost(G)
    return cost if G.counter.n + cost <= acc.cap else None


def _frobenius_ratio(pt, rtol):
    R = pt.matrix()
    se = _frobenius_sem(pt)
    norm = float(torch.linalg.norm(R))
    hw = t_quantile(pt.n_groups - 1) * se
    return hw / (rtol * norm) if norm > 0 else (0.0 if hw == 0 else float("inf"))


def _frobenius_sem(pt):
    loo = pt.leave_one_out().double().cpu().numpy()
    return float(np.linalg.norm(jackknife_stderr(loo)))


def axis_result(pt, reduce, acc, hit_cap):
    """The :class:`AxisReduction` of a randomized :class:`PartialTrace`."""
    R = pt.matrix()
    loo = pt.leave_one_out()
    sem = torch.as_tensor(jackknife_stderr(loo.double().cpu().numpy()), dtype=R.dtype,
                          device=R.device)
    q = t_quantile(pt.n_groups - 1)
    stderr = float(torch.linalg.norm(sem.double()))
    norm = float(torch.linalg.norm(R.double()))
    converged = bool(norm > 0 and np.isfinite(q) and q * stderr <= acc.target * norm)
    return AxisReduction(R, pt.a, reduce, pt.G.counter.n, False, pt.n_probes, sem, stderr,
                         (R - q * sem, R + q * sem), acc.rtol, converged, bool(hit_cap),
                         None, pt.group_means())


def exact_cost(G):
    """Applications of the exact partial trace: N, or A's input dimension for a Gram."""
    return min(G.n, G.A.n_in) if G.gram else G.n


def exact_partial_trace(G, a, width=None):
    """The exact partial trace, by the cheaper basis (see :func:`reduce_to_axis`)."""
    n_axis = G.shape[a]
    M = G.n // n_axis
    dt, dev = G.dtype, G.device
    R = torch.zeros(n_axis, n_axis, dtype=dt, device=dev)
    if G.gram and G.A.n_in < G.n:
        # G_ax = sum_m A_m A_m^T = sum_p (A e_p)_m (A e_p)_m^T over A's input basis
        w_max = width or block_columns(max(G.A.n_in, G.n))
        for start in range(0, G.A.n_in, w_max):
            w = min(w_max, G.A.n_in - start)
            Y = G.A.mm(basis_block(G.A.n_in, start, w, dt, dev))
            Y = Y.reshape(*G.shape, w).movedim(a, len(G.shape) - 1).reshape(M, n_axis, w)
            R = R + torch.einsum("miw,mjw->ij", Y, Y)
        return (R + R.mT) / 2
    w_max = width or block_columns(G.n * n_axis)
    for start in range(0, M, w_max):
        block = basis_block(M, start, min(w_max, M - start), dt, dev)
        R = R + compress_each(G, a, block).sum(0)
    return (R + R.mT) / 2


def mean_compression(G, a):
    """``E^T G E`` (not yet divided by M), E the embedding that broadcasts an axis vector
    along the other axes: n applications. Operators that accept broadcast probes get E as
    an expanded view (no memory); a Gram ``A A*`` is assembled as ``(A* E)^T (A* E)`` by
    ``A.rmatmat_gram(E)``."""
    shape, n = G.shape, G.shape[a]
    op = G.A.op
    if not op.broadcast_probes:
        return compress_each(G, a, torch.ones(G.n // n, 1, dtype=G.dtype, device=G.device))[0]
    view = [1] * (len(shape) + 1)
    view[a] = view[-1] = n
    E = torch.eye(n, dtype=G.dtype, device=G.device).reshape(view).expand(*shape, n)
    if G.gram:
        return op.rmatmat_gram(E)
    W = op.matmat(E)                                   # (*shape, n): column j is G E e_j
    return W.sum(dim=[d for d in range(len(shape)) if d != a])


def compress_each(G, a, Z):
    """``V_s^T G V_s`` for each ``V_s = z_s (x) I_n``, z_s a column of Z (M, s): (s, n, n)."""
    shape, n_axis = G.shape, G.shape[a]
    M, s = Z.shape
    eye = torch.eye(n_axis, dtype=Z.dtype, device=Z.device)
    # V[m, i, s, j] = Z[m, s] * eye[i, j], laid out with `axis` last, then moved into place
    V = Z[:, None, :, None] * eye[None, :, None, :]
    other = shape[:a] + shape[a + 1:]
    V = V.reshape(*other, n_axis, s * n_axis).movedim(len(shape) - 1, a).reshape(G.n, -1)
    if G.gram:
        C = G.A.rmm(V).reshape(-1, s, n_axis)
        return torch.einsum("psi,psj->sij", C, C)
    W = G.mm(V).reshape(*shape, s * n_axis).movedim(a, len(shape) - 1)
    W = W.reshape(M, n_axis, s, n_axis)
    return torch.einsum("ms,misj->sij", Z, W)


def axis_setup(op, axis, gram, n_probes, rtol, max_applications):
    """The view, axis index, axis size, size of the other axes and accuracy of an axis measure."""
    G = SymmetricView(op, gram)
    a = resolve_axis(axis, G.shape)
    n_axis = G.shape[a]
    M = G.n // n_axis
    acc = check_accuracy(None if n_probes is None else n_probes * n_axis, rtol,
                         max_applications, DEFAULT_N_PROBES * n_axis,
                         default_cap=DEFAULT_MAX_PROBES * n_axis, minimum=n_axis)
    return G, a, n_axis, M, acc
