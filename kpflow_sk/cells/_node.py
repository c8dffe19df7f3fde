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

The RK composition of these built-in solvers is hand-written rather than calling
``torchdiffeq.odeint`` because torchdiffeq's solvers write into preallocated tensors in place
(they fail under ``torch.func.vmap``) and its adaptive controller shares one step size across
the batch, which would couple trials. They are the fast path: a functional twin, analysed
through ``torch.func``.

Every other torchdiffeq method (``bosh3``, ``adaptive_heun``, ``fehlberg2``, ``dopri8``,
``heun2``, ``heun3``, ``explicit_adams``, ``implicit_adams``, ``scipy_solver``; the list is
torchdiffeq's own registry), and any solver given ``options``, runs through
``torchdiffeq.odeint`` itself (:mod:`kpflow_sk.cells._torchdiffeq`; one solve per trial where
the solver's control flow would couple trials). Such a cell has no functional twin
(``functional = False``): the KPFlow operators then differentiate the very solve with plain
autograd (:mod:`kpflow_sk.operators._autograd`), so they are exact for the map computed,
step-size selection included.
"""

from __future__ import annotations

import math

import torch

from kpflow_sk.cells import _torchdiffeq
from kpflow_sk.cells._base import Cell
from kpflow_sk.cells._nonlinearity import get_nonlinearity

__all__ = ["NeuralODECell", "TABLEAUS", "ODE_SOLVERS", "BACKENDS"]

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

#: every accepted ``solver``: the built-in functional ones and all of torchdiffeq's methods
ODE_SOLVERS = tuple(sorted(set(TABLEAUS) | set(_torchdiffeq.TORCHDIFFEQ_SOLVERS)))
#: integrators: ``"builtin"`` (functional RK composition) or ``"torchdiffeq"`` (odeint)
BACKENDS = ("builtin", "torchdiffeq")


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
    solver : str, default="rk4"
        Any name in :data:`ODE_SOLVERS`: the built-in ``euler``, ``midpoint``, ``rk4``,
        ``dopri5`` and every torchdiffeq method.
    step_size : float or None, default=None
        Fixed-step solvers: largest step (None: one step per interval). Built-in solvers split
        the interval into ``ceil(dt/step_size)`` equal steps; torchdiffeq's fixed-grid solvers
        get it as ``options["step_size"]``. Ignored by adaptive solvers.
    rtol, atol : float
        Tolerances of the adaptive solvers.
    vector_field : {"rate", "mlp"}, default="rate"
    nonlinearity : str, default="tanh"
    bias : bool, default=True
    mlp_width : int or None
        Width of the MLP vector field (default: hidden_size).
    max_steps : int, default=10000
        Steps allowed per interval (accepted + rejected for adaptive solvers; a fixed step
        size needing more is refused up front).
    options : dict or None, default=None
        Passed to ``torchdiffeq.odeint`` as ``options`` (names checked against the solver's;
        see :func:`kpflow_sk.cells._torchdiffeq.solver_options`). Selects the torchdiffeq
        backend.
    backend : {"builtin", "torchdiffeq"} or None, default=None
        None: built-in when ``solver`` is one of :data:`TABLEAUS` and ``options`` is None,
        torchdiffeq otherwise.

    Attributes
    ----------
    functional : bool
        True for the built-in backend (``step`` runs under ``torch.func``); False for
        torchdiffeq (the operators use the plain-autograd fallback).
    """

    name = "node"

    def __init__(self, input_size, hidden_size, dt=1.0, solver="rk4", step_size=None,
                 rtol=1e-6, atol=1e-8, vector_field="rate", nonlinearity="tanh", bias=True,
                 mlp_width=None, max_steps=10000, options=None, backend=None):
        super().__init__(input_size, hidden_size)
        if not isinstance(solver, str) or solver not in ODE_SOLVERS:
            raise ValueError(f"unknown ode solver {solver!r}; valid choices: {list(ODE_SOLVERS)}")
        if backend is None:
            backend = "builtin" if solver in TABLEAUS and options is None else "torchdiffeq"
        if backend not in BACKENDS:
            raise ValueError(f"unknown ode backend {backend!r}; valid choices: {list(BACKENDS)}")
        if backend == "builtin" and solver not in TABLEAUS:
            raise ValueError(f"ode solver {solver!r} has no built-in form; built-in solvers: "
                             f"{sorted(TABLEAUS)}")
        if backend == "builtin" and options is not None:
            raise ValueError("ode options are torchdiffeq's: use backend='torchdiffeq'")
        if vector_field not in ("rate", "mlp"):
            raise ValueError(
                f"unknown vector_field {vector_field!r}; valid choices: ['mlp', 'rate']")
        for label, v in (("dt", dt), ("rtol", rtol), ("atol", atol)):
            if not (float(v) > 0 and math.isfinite(float(v))):
                raise ValueError(f"{label} must be a positive finite number, got {v!r}")
        if step_size is not None and not (float(step_size) > 0
                                          and math.isfinite(float(step_size))):
            raise ValueError(f"step_size (ode_step_size) must be positive or None, got "
                             f"{step_size!r}")
        if int(max_steps) < 1:
            raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
        self.dt, self.solver, self.step_size = float(dt), solver, step_size
        self.rtol, self.atol = float(rtol), float(atol)
        self.vector_field, self.nonlinearity, self.bias = vector_field, nonlinearity, bool(bias)
        self.mlp_width = int(mlp_width or hidden_size)
        self.max_steps = int(max_steps)
        self.backend = backend
        self.functional = backend == "builtin"
        self._phi, _ = get_nonlinearity(nonlinearity)
        self.n_substeps = 1 if step_size is None else math.ceil(self.dt / step_size - 1e-12)
        fixed = solver in ("euler", "midpoint", "rk4") if self.functional else \
            _torchdiffeq.is_fixed_grid(solver)
        if fixed and self.n_substeps > self.max_steps:
            # a bound, not a hang: 1e-9 would mean 1e9 steps per interval (issue #11)
            raise ValueError(
                f"ode_step_size={step_size!r} needs {self.n_substeps} steps per interval of "
                f"dt={self.dt!r}, more than max_steps={self.max_steps}; use a larger "
                "ode_step_size (or None: one step per interval)")
        self.n_substeps = max(1, self.n_substeps)
        if self.functional:
            self.options = None
        else:
            opts = dict(options or {})
            if fixed and step_size is not None:
                opts.setdefault("step_size", float(step_size))
            self.options = _torchdiffeq.check_ode_options(solver, opts, self.dt, self.max_steps)
            self.trialwise = _torchdiffeq.is_trialwise(solver, self.options)
            self.differentiable = _torchdiffeq.is_differentiable(solver)

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
        if not self.functional:
            return self._integrate(params, z_prev, x_t, adjoint=False)
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
        if self.solver != "dopri5" or not self.functional:
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

    # ------------------------------------------------------------------ torchdiffeq backend
    def _integrate(self, params, z_prev, x_t, adjoint):
        return _torchdiffeq.integrate(self.vector_field_fn, params, z_prev, x_t, self.dt,
                                      self.solver, self.rtol, self.atol, self.options,
                                      trialwise=self.trialwise, adjoint=adjoint)

    def step_continuous_adjoint(self, params, z_prev, x_t, aux=None):
        """The same flow map as :meth:`step`, backpropagated by torchdiffeq's continuous adjoint.

        ``odeint_adjoint`` solves the adjoint ODE backward in time instead of storing the
        solver's stages: memory O(B * H) per interval, and a gradient that *approximates* the
        exact (discrete) gradient of the map computed forward, to the solver's tolerance.
        Training only; the KPFlow operators always differentiate :meth:`step` exactly.
        """
        if self.functional:
            raise ValueError("the continuous adjoint runs through torchdiffeq: build the cell "
                             "with backend='torchdiffeq'")
        return self._integrate(params, z_prev, x_t, adjoint=True)
