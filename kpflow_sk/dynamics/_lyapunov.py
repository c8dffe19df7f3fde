"""Lyapunov spectrum along trajectories: Benettin's QR method on the state Jacobians ``A_t``.

For each trial, an orthonormal frame ``Q_0`` (H x k) is carried along the trajectory,
``A_t Q_{t-1} = Q_t R_t`` (QR), and the exponents are the time averages of ``log |R_t[i, i]|``
(Benettin et al. 1980; the KPFlow reference code builds its fundamental matrix the same way).
The ``A_t`` are the ones the propagator P uses (``kpflow_sk.operators.Trajectory``: analytic
for rnn / leaky_rnn / gru, autodiff otherwise), applied per step to all trials at once.
"""

from __future__ import annotations

import numpy as np
import torch

from kpflow_sk.cells import FactoredLinearization
from kpflow_sk.dynamics._results import LyapunovSpectrum
from kpflow_sk.operators import Trajectory

__all__ = ["lyapunov_spectrum"]

# With k >= max(8, H / 4) frame vectors, building the analytic A_t of one step densely (one
# einsum over the gate blocks) and multiplying is cheaper than the factored matrix-free
# product (a GEMM with all m*H rows of the recurrent weights per vector). Measured on a GRU-256,
# B = 4 (benchmarks/bench_dynamics.py; loaded machine, so rough): k = 256 dense 5x faster,
# k = 32 a tie, k = 10 matrix-free 1.5x faster.
_DENSE_STEP_MIN_K = 8
_DENSE_STEP_MIN_FRACTION = 0.25


def _apply_step(lin, t, Q):
    """``A_t Q`` for Q of shape (B, H, k), in the linearization's own step layout."""
    k, H = Q.shape[-1], Q.shape[-2]
    if (isinstance(lin, FactoredLinearization)
            and k >= max(_DENSE_STEP_MIN_K, _DENSE_STEP_MIN_FRACTION * H)):
        # the factored form of this one step, densified by its own dense(): (B, H, H)
        A_t = FactoredLinearization(lin.W, lin.D[:, t:t + 1], lin.c[:, t:t + 1]).dense()[:, 0]
        return A_t @ Q
    if lin.step_layout == "bhk":
        return lin.jvp_step(t, Q)
    return lin.jvp_step(t, Q.permute(2, 0, 1)).permute(1, 2, 0)


def lyapunov_spectrum(cell, params, X, *, Z=None, h0=None, k=None, burn_in=0,
                      dtype=torch.float64, strategy="matrix_free", random_state=None):
    """Lyapunov exponents of the (input-driven or autonomous) dynamics along trajectories.

    Parameters
    ----------
    cell : Cell
    params : dict of str -> Tensor
    X : array-like of shape (B, T, D)
        Inputs driving the trajectories (constant or zero inputs give the autonomous
        dynamics).
    Z : array-like of shape (B, T, H), optional
        Hidden states (computed by unrolling the cell when None).
    h0 : array-like of shape (B, H), optional
        Initial states (zeros when None).
    k : int, optional
        Number of leading exponents (default: all H).
    burn_in : int, default=0
        Leading steps left out of the average while the frame aligns with the dominant
        directions; the exponents average ``T - burn_in`` steps.
    dtype : torch.dtype or None, default=torch.float64
        Precision of the computation (None keeps the parameters' dtype).
    strategy : {"matrix_free", "materialized", "auto"}, default="matrix_free"
        How the state Jacobians are held (see :class:`kpflow_sk.operators.Trajectory`).
        ``"matrix_free"`` forms one step's ``A_t`` at a time (memory O(B H max(H, k)));
        ``"materialized"`` builds all ``(B, T, H, H)`` first.
    random_state : int or None
        Seeds the random orthonormal initial frame ``Q_0``.

    Returns
    -------
    LyapunovSpectrum
        ``exponents`` (B, k) per trial in units of 1 / step, ``local`` (B, T, k) the
        per-step ``log |R_t[i, i]|``.

    Raises
    ------
    ValueError
        Bad ``X``, ``Z`` or ``h0`` (shape, NaN / inf), ``k`` outside ``1..H`` or
        ``burn_in`` outside ``0..T-1``.

    Examples
    --------
    >>> import torch
    >>> from kpflow_sk.cells import get_cell
    >>> cell = get_cell("gru", input_size=2, hidden_size=6)
    >>> p = cell.init_params(torch.Generator().manual_seed(0))
    >>> spec = lyapunov_spectrum(cell, p, torch.zeros(3, 50, 2), k=2)
    >>> spec.exponents.shape
    (3, 2)
    """
    if not isinstance(params, dict) or not params:
        raise ValueError("params must be a non-empty dict of parameter tensors")
    if dtype is not None:
        params = {n: v.detach().to(dtype) for n, v in params.items()}
    if h0 is not None and not np.isfinite(np.asarray(
            h0.detach().cpu() if torch.is_tensor(h0) else h0, dtype=np.float64)).all():
        raise ValueError("h0 contains NaN or inf (non-finite states)")
    traj = Trajectory(cell, params, X, Z, h0=h0, strategy=strategy)
    B, T, H = traj.shape
    k = H if k is None else k
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= H:
        raise ValueError(f"k must be an integer in [1, {H}] (hidden_size), got {k!r}")
    if (isinstance(burn_in, bool) or not isinstance(burn_in, (int, np.integer))
            or not 0 <= burn_in < T):
        raise ValueError(f"burn_in must be an integer in [0, {T - 1}] (n_timesteps - 1), got "
                         f"{burn_in!r}")
    k, burn_in = int(k), int(burn_in)
    gen = torch.Generator().manual_seed(0 if random_state is None else int(random_state))
    G = torch.randn(H, k, generator=gen, dtype=torch.float64).to(traj.dtype).to(traj.device)
    Q = torch.linalg.qr(G).Q.expand(B, H, k).contiguous()
    lin = traj.state_linearization(k)
    local = torch.empty(B, T, k, dtype=traj.dtype, device=traj.device)
    with torch.no_grad():
        for t in range(T):
            Q, R = torch.linalg.qr(_apply_step(lin, t, Q))
            local[:, t] = torch.log(torch.diagonal(R, dim1=-2, dim2=-1).abs())
    local = local.cpu().numpy()
    exps = -np.sort(-local[:, burn_in:].mean(1), axis=-1)
    return LyapunovSpectrum(exponents=exps, local=local, burn_in=burn_in)
