"""Neural ODE cell: the flow map of ``dz/dt = f(z, x)`` over one observation interval.

``f(z, x) = -z + W phi(z) + U x + b`` (``vector_field="rate"``) or an MLP
``f(z, x) = W_2 phi(W_1 z + U x + b_1) + b_2`` (``vector_field="mlp"``); x is held constant
over the interval (piecewise-constant input).

The cell ``F`` is the solver's flow map exactly as computed:

- fixed-step solvers (``euler``, ``midpoint``, ``rk4``) are a plain composition of
  Runge-Kutta steps of size ``dt / ceil(dt / step_size)``; ``rk4`` is torchdiffeq's variant
  (the 3/8 rule), and the tests check equality with ``torchdiffeq.odeint``.
- ``dopri5`` (adaptive): :meth:`NeuralODECell.prepare` picks each trial's accepted step sizes
  with the standard Dormand-Prince 5(4) error controller (no gradients), and ``F`` is the
  composition of the same Dormand-Prince steps on that grid, held fixed. So F's values are
  what an adaptive solver computes, and F's derivatives are those of that composition (the
  step-size choice is not differentiated). Each trial gets its own grid, so trials stay
  independent (P block-diagonal over trials).

The RK composition is hand-written rather than calling ``torchdiffeq.odeint`` because
torchdiffeq's solvers write into preallocated tensors in place (they fail under
``torch.func.vmap``) and its adaptive controller shares one step size across the batch, which
would couple trials. torchdiffeq remains the reference the tests compare against.
"""

from __future__ import annotations

import math

import torch

from kpflow_sk.cells._base import Cell
from kpflow_sk.cells._nonlinearity import get_nonlinearity

__all__ = ["NeuralODECell", "TABLEAUS"]

# Butcher tableaus (c is implied: x is constant over the interval and f is autonomous).
_DP_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
_DP_B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
_DP_B_LOW = (5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40)

#: name -> (A rows, b weights, order)
TABLEAUS = {
    "euler": (((),), (1.0,), 1),
    "midpoint": (((), (0.5,)), (0.0, 1.0), 2),
    "rk4": (((), (1 / 3,), (-1 / 3, 1.0), (1.0, -1.0, 1.0)), (1 / 8, 3 / 8, 3 / 8, 1 / 8), 4),
    "dopri5": (_DP_A, _DP_B, 5),
}


def _rk_stages(f, z, h, A):
    """Stage derivatives k_i of one explicit RK step; h broadcasts against z."""
    ks = []
    for row in A:
        zi = z
        for a, k in zip(row, ks):
            if a != 0.0:
                zi = zi + (h * a) * k
        ks.append(f(zi))
    return ks


def _rk_step(f, z, h, A, b):
    ks = _rk_stages(f, z, h, A)
    incr = sum(bi * k for bi, k in zip(b, ks) if bi != 0.0)
    return z + h * incr, ks


class NeuralODECell(Cell):
    """Neural ODE cell integrated over one observation interval ``dt``.

    Parameters
    ----------
    input_size, hidden_size : int
    dt : float, default=1.0
        Length of one observation interval.
    solver : {"euler", "midpoint", "rk4", "dopri5"}, default="rk4"
    step_size : float or None, default=None
        Fixed-step solvers: largest step; the interval is split into ``ceil(dt/step_size)``
        equal steps (None: one step). Ignored by dopri5.
    rtol, atol : float
        Tolerances of the adaptive solver.
    vector_field : {"rate", "mlp"}, default="rate"
    nonlinearity : str, default="tanh"
    bias : bool, default=True
    mlp_width : int or None
        Width of the MLP vector field (default: hidden_size).
    max_steps : int, default=10000
        Adaptive solver: accepted + rejected steps allowed per interval.
    """

    name = "node"

    def __init__(self, input_size, hidden_size, dt=1.0, solver="rk4", step_size=None,
                 rtol=1e-6, atol=1e-8, vector_field="rate", nonlinearity="tanh", bias=True,
                 mlp_width=None, max_steps=10000):
        super().__init__(input_size, hidden_size)
        if solver not in TABLEAUS:
            raise ValueError(f"unknown ode solver {solver!r}; valid choices: {sorted(TABLEAUS)}")
        if vector_field not in ("rate", "mlp"):
            raise ValueError(
                f"unknown vector_field {vector_field!r}; valid choices: ['mlp', 'rate']")
        for label, v in (("dt", dt), ("rtol", rtol), ("atol", atol)):
            if not (float(v) > 0 and math.isfinite(float(v))):
                raise ValueError(f"{label} must be a positive finite number, got {v!r}")
        if step_size is not None and not float(step_size) > 0:
            raise ValueError(f"step_size must be positive or None, got {step_size!r}")
        self.dt, self.solver, self.step_size = float(dt), solver, step_size
        self.rtol, self.atol = float(rtol), float(atol)
        self.vector_field, self.nonlinearity, self.bias = vector_field, nonlinearity, bool(bias)
        self.mlp_width = int(mlp_width or hidden_size)
        self.max_steps = int(max_steps)
        self._phi, _ = get_nonlinearity(nonlinearity)
        self.n_substeps = 1 if step_size is None else max(1, math.ceil(self.dt / step_size - 1e-12))

    def parameter_shapes(self):
        H, D = self.hidden_size, self.input_size
        if self.vector_field == "rate":
            shapes = {"weight_hh": (H, H), "weight_ih": (H, D)}
            if self.bias:
                shapes["bias"] = (H,)
        else:
            M = self.mlp_width
            shapes = {"weight_hh": (M, H), "weight_ih": (M, D), "weight_out": (H, M)}
            if self.bias:
                shapes.update(bias=(M,), bias_out=(H,))
        return shapes

    def vector_field_fn(self, params, x):
        """``z -> f(z, x)`` with x fixed (the input is piecewise constant)."""
        u = x @ params["weight_ih"].T
        if self.bias:
            u = u + params["bias"]
        phi = self._phi
        if self.vector_field == "rate":
            W = params["weight_hh"]
            return lambda z: -z + phi(z) @ W.T + u
        W1, W2 = params["weight_hh"], params["weight_out"]
        b2 = params["bias_out"] if self.bias else 0.0
        return lambda z: phi(z @ W1.T + u) @ W2.T + b2

    # ------------------------------------------------------------------ the flow map
    def step(self, params, z_prev, x_t, aux=None):
        f = self.vector_field_fn(params, x_t)
        A, b, _ = TABLEAUS[self.solver]
        z = z_prev
        if self.solver == "dopri5":
            if aux is None:
                raise ValueError("the dopri5 node cell needs its step grid: call prepare() "
                                 "first (rollout() does this)")
            for s in range(aux.shape[-1]):
                z, _ = _rk_step(f, z, aux[..., s:s + 1], A, b)
            return z
        h = self.dt / self.n_substeps
        for _ in range(self.n_substeps):
            z, _ = _rk_step(f, z, h, A, b)
        return z

    @torch.no_grad()
    def prepare(self, params, z_prev, x_t):
        """Adaptive grid: accepted step sizes per trial, shape (..., S), zero-padded.

        Zero steps are exact identities of the RK composition, so padding is harmless.
        """
        if self.solver != "dopri5":
            return None
        f = self.vector_field_fn(params, x_t)
        lead = z_prev.shape[:-1]
        z = z_prev
        remaining = torch.full(lead + (1,), self.dt, dtype=z.dtype, device=z.device)
        h = remaining.clone()
        accepted = []
        for _ in range(self.max_steps):
            active = remaining > 1e-12 * self.dt
            if not bool(active.any()):
                break
            h = torch.where(active, torch.minimum(h, remaining), torch.zeros_like(h))
            z_new, ks = _rk_step(f, z, h, _DP_A, _DP_B)
            err = h * sum((bh - bl) * k for bh, bl, k in zip(_DP_B, _DP_B_LOW, ks)
                          if bh != bl)
            scale = self.atol + self.rtol * torch.maximum(z.abs(), z_new.abs())
            ratio = ((err / scale) ** 2).mean(-1, keepdim=True).sqrt()
            ok = active & (ratio <= 1.0)
            z = torch.where(ok, z_new, z)
            remaining = torch.where(ok, remaining - h, remaining)
            accepted.append(torch.where(ok, h, torch.zeros_like(h)))
            # standard controller: safety 0.9, factor clipped to [0.2, 10]
            factor = torch.clamp(0.9 * ratio.clamp_min(1e-10) ** (-1.0 / 5.0), 0.2, 10.0)
            h = torch.where(active, h * factor, h)
        else:
            raise RuntimeError(
                f"dopri5 needed more than max_steps={self.max_steps} steps in one interval "
                "(stiff dynamics?); raise max_steps or loosen rtol/atol")
        grid = torch.cat(accepted, dim=-1)
        # move zeros (rejected / finished) to the end, per trial, and trim
        order = torch.sort((grid == 0).to(torch.int8), dim=-1, stable=True).indices
        grid = torch.gather(grid, -1, order)
        n = int((grid != 0).sum(-1).max()) if grid.numel() else 0
        return grid[..., :max(n, 1)]
