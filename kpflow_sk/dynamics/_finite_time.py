"""Finite-time Lyapunov exponents straight from the blocks of the propagator P.

``P`` solves ``r_t = q_t + A_t r_{t-1}`` (docs/conventions.md section 2), so its block (t, s) is the
state-transition matrix ``Phi(t, s) = A_t ... A_{s+1}``: P applied to the H unit probes placed
at step s returns ``Phi(t, s)`` for every t >= s and every trial in one pass. The exponents are
``log sigma_i(Phi(t, s)) / (t - s)``.
"""

from __future__ import annotations

import numpy as np
import torch

from kpflow_sk.dynamics._results import FiniteTimeExponents
from kpflow_sk.operators import Propagator

__all__ = ["finite_time_exponents", "transition_matrices"]


def _propagator(P):
    # a KPDecomposition (or anything holding one) is accepted for convenience
    P = getattr(P, "P", P)
    if not isinstance(P, Propagator):
        raise ValueError("P must be a kpflow_sk.operators.Propagator (e.g. D.P of a "
                         f"KPDecomposition), got {type(P).__name__}")
    return P


def _check_steps(s, times, T):
    if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 1 <= s <= T - 1:
        raise ValueError(f"s must be a step in [1, {T - 1}] (z_s = Z[:, s-1]; t > s must "
                         f"exist), got {s!r}")
    s = int(s)
    if times is None:
        times = np.arange(s + 1, T + 1)
    else:
        times = np.atleast_1d(np.asarray(times))
        if (times.ndim != 1 or times.size == 0 or times.dtype.kind not in "iu"
                or times.min() <= s or times.max() > T):
            raise ValueError(f"times must be integer steps in [{s + 1}, {T}] (after s={s}), "
                             f"got {times!r}")
        times = np.unique(times)
    return s, times


def transition_matrices(P, s=1, times=None, *, chunk=None):
    """``Phi(t, s)`` for every trial, read off the propagator's blocks.

    Parameters
    ----------
    P : Propagator or KPDecomposition
    s : int, default=1
        Start step (1-based like ``z_s``; ``1 <= s <= T - 1``).
    times : array-like of int, optional
        End steps ``t`` in ``s+1..T`` (default: all of them).
    chunk : int, optional
        Probe columns per application of P (default: all H at once); bounds memory to
        ``B * T * H * chunk`` entries per pass.

    Returns
    -------
    Phi : Tensor of shape (B, n_times, H, H)
    times : ndarray of int of shape (n_times,)
    """
    P = _propagator(P)
    B, T, H = P.in_shape
    s, times = _check_steps(s, times, T)
    chunk = H if chunk is None else int(chunk)
    if chunk < 1:
        raise ValueError(f"chunk must be a positive integer, got {chunk!r}")
    rows = torch.as_tensor(times - 1, device=P.device)
    cols = []
    for c0 in range(0, H, chunk):
        kc = min(chunk, H - c0)
        E = torch.zeros(B, T, H, kc, dtype=P.dtype, device=P.device)
        E[:, s - 1, torch.arange(c0, c0 + kc), torch.arange(kc)] = 1.0
        cols.append((P @ E)[:, rows])                  # (B, n_times, H, kc)
    return torch.cat(cols, dim=-1), times


def finite_time_exponents(P, s=1, times=None, *, chunk=None):
    """Finite-time Lyapunov exponents ``log sigma_i(Phi(t, s)) / (t - s)`` and their time course.

    Parameters
    ----------
    P : Propagator or KPDecomposition
        ``D.P`` of a :class:`~kpflow_sk.analysis.KPDecomposition` (or the decomposition).
    s : int, default=1
        Start step (1-based, ``z_s = Z[:, s-1]``).
    times : array-like of int, optional
        End steps ``t > s`` (default: every step after s -- the time course).
    chunk : int, optional
        Probe columns per application of P (see :func:`transition_matrices`).

    Returns
    -------
    FiniteTimeExponents

    Examples
    --------
    >>> import torch
    >>> from kpflow_sk.cells import get_cell
    >>> from kpflow_sk.operators import Propagator, Trajectory
    >>> cell = get_cell("rnn", input_size=1, hidden_size=3)
    >>> p = cell.init_params(torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> P = Propagator(Trajectory(cell, p, torch.zeros(2, 20, 1, dtype=torch.float64)))
    >>> finite_time_exponents(P, s=5).exponents.shape
    (2, 15, 3)
    """
    Phi, times = transition_matrices(P, s, times, chunk=chunk)
    with torch.no_grad():
        sv = torch.linalg.svdvals(Phi).cpu().numpy()
    span = (times - s).astype(np.float64)[None, :, None]
    with np.errstate(divide="ignore"):
        exps = np.log(sv) / span
    return FiniteTimeExponents(s=int(s), times=times, exponents=exps, singular_values=sv)
