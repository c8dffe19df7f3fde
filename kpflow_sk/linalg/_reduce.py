"""Reduce an operator on ``(B, T, H)`` to one axis: partial trace or mean (DESIGN.md s. 3)."""

from __future__ import annotations

import numbers

import torch

from kpflow_sk.linalg._checks import EXACT_MAX_DIM, check_choice, check_exact, check_int
from kpflow_sk.linalg._random import check_generator, rademacher
from kpflow_sk.linalg._results import AxisReduction
from kpflow_sk.linalg._views import SymmetricView, block_columns

__all__ = ["reduce_to_axis", "resolve_axis", "AXES", "REDUCTIONS"]

AXES = {"trial": 0, "time": 1, "hidden": 2}
REDUCTIONS = ("trace", "mean")

# Rademacher vectors over the other axes for a randomized partial trace (each costs n_axis
# applications).
DEFAULT_N_PROBES = 32


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


def reduce_to_axis(op, axis, reduce="trace", *, gram=False, exact=None, n_probes=None,
                   random_state=None):
    """Reduce a self-adjoint operator G on a space of shape ``(B, T, H)`` to one axis.

    With ``N = B T H``, ``n = shape[axis]`` and ``M = N / n`` (the size of the other axes),
    index the space by ``(m, i)``, i along ``axis`` and m over the other axes.

    - ``reduce="trace"``: the partial trace over the other axes, the sum of the diagonal
      blocks, ``G_ax[i, j] = sum_m G[(m, i), (m, j)]``. Exact with probes ``e_m (x) e_j`` for
      all (m, j) (N applications), or unbiased with ``n_probes`` Rademacher vectors z over
      the other axes, ``G_ax ~ mean_z (z (x) e_i)^T G (z (x) e_j)`` (``n_probes * n``
      applications).
    - ``reduce="mean"``: the compression onto inputs constant along the other axes, outputs
      averaged over them: ``G_ax = E^T G E / M`` with E the ``(N, n)`` embedding that
      broadcasts an axis vector along the other axes. Always exact, n applications.

    Parameters
    ----------
    op : operator, torch.Tensor or ndarray
        Self-adjoint on its space (``in_shape == out_shape``), or any A with ``gram=True``,
        when ``G = A A*`` acts on A's output space; then only ``A*`` is applied and
        ``G_ax`` is assembled as ``(A* V)^T (A* V)`` (PSD by construction).
    axis : {"trial", "time", "hidden"} or int
        Names need a 3-D space (0, 1, 2 of ``(B, T, H)``); an int works on any space.
    reduce : {"trace", "mean"}, default="trace"
    gram : bool, default=False
    exact : None or bool
        For ``"trace"``: True uses every basis vector, False Rademacher probes; None is exact
        when ``M <= n_probes`` (no dearer than the estimate) or ``N <= 4096``. Ignored for
        ``"mean"``.
    n_probes : int, optional
        Rademacher vectors for the randomized partial trace; default 32.
    random_state : None, int, numpy or torch generator

    Returns
    -------
    AxisReduction
        ``matrix`` of shape ``(n, n)`` on the operator's device, symmetric.
    """
    check_choice("reduce", reduce, REDUCTIONS)
    n_probes = check_int("n_probes", n_probes, allow_none=True) or DEFAULT_N_PROBES
    exact = check_exact(exact)
    G = SymmetricView(op, gram)
    a = resolve_axis(axis, G.shape)
    n_axis = G.shape[a]
    M = G.n // n_axis
    dt, dev = G.dtype, G.device
    if reduce == "mean":
        probes, weight, is_exact = [torch.ones(M, 1, dtype=dt, device=dev)], 1.0 / M, True
    else:
        if exact is None:
            exact = M <= n_probes or G.n <= EXACT_MAX_DIM
        width = block_columns(G.n * n_axis)
        if exact:
            probes = (_identity_columns(M, s, min(width, M - s), dt, dev)
                      for s in range(0, M, width))
            weight, is_exact, n_probes = 1.0, True, M
        else:
            gen = check_generator(random_state, dev)
            Z = rademacher((M, n_probes), gen, dt, dev)
            probes = (Z[:, s:s + width] for s in range(0, n_probes, width))
            weight, is_exact = 1.0 / n_probes, False
    R = torch.zeros(n_axis, n_axis, dtype=dt, device=dev)
    for Z in probes:
        R = R + weight * _compress(G, a, Z)
    R = (R + R.mT) / 2
    return AxisReduction(R, a, reduce, G.counter.n, is_exact,
                         1 if reduce == "mean" else n_probes)


def _compress(G, a, Z):
    """``sum_s V_s^T G V_s`` with ``V_s = z_s (x) I_n``: z_s a column of Z, shape (M, s)."""
    shape, n_axis = G.shape, G.shape[a]
    M, s = Z.shape
    eye = torch.eye(n_axis, dtype=Z.dtype, device=Z.device)
    # V[m, i, s, j] = Z[m, s] * eye[i, j], laid out with `axis` last, then moved into place
    V = Z[:, None, :, None] * eye[None, :, None, :]
    other = shape[:a] + shape[a + 1:]
    V = V.reshape(*other, n_axis, s * n_axis).movedim(len(shape) - 1, a).reshape(G.n, -1)
    if G.gram:
        C = G.A.rmm(V).reshape(-1, s, n_axis)
        return torch.einsum("psi,psj->ij", C, C)
    W = G.mm(V).reshape(*shape, s * n_axis).movedim(a, len(shape) - 1)
    W = W.reshape(M, n_axis, s, n_axis)
    return torch.einsum("ms,misj->ij", Z, W)


def _identity_columns(M, start, width, dtype, device):
    E = torch.zeros(M, width, dtype=dtype, device=device)
    idx = torch.arange(width, device=device)
    E[idx + start, idx] = 1
    return E
