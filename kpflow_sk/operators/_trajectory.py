"""The trajectory a model computed on a batch, and its linearization (shared by all operators)."""

from __future__ import annotations

import math

import torch

from kpflow_sk.cells import Cell, MaterializedLinearization, get_cell, rollout
from kpflow_sk.operators._autograd import autograd_linearizations

__all__ = ["Trajectory", "ParameterSpace", "STRATEGIES", "DEFAULT_MEMORY_BUDGET"]

#: state-Jacobian strategies (see :class:`Trajectory`)
STRATEGIES = ("auto", "materialized", "matrix_free")
#: default bytes allowed for materialized state Jacobians (B*T*H*H*itemsize)
DEFAULT_MEMORY_BUDGET = 2 * 1024**3
# With an analytic (factored) linearization, few probes run faster matrix-free (one GEMM with
# the recurrent weights per step); from this many probes on, a materialized A is faster
# (measured in benchmarks/bench_operators.py).
_FACTORED_MIN_PROBES_FOR_DENSE = 8


class ParameterSpace:
    """Flatten a parameter dict to a vector and back (ordered by ``cell.parameter_shapes()``)."""

    def __init__(self, params):
        self.names = tuple(params)
        self.shapes = tuple(tuple(params[n].shape) for n in self.names)
        self.sizes = tuple(math.prod(s) for s in self.shapes)
        self.size = sum(self.sizes)

    def flatten(self, tree, k):
        """dict of (k, *shape) -> (k, n_params)."""
        return torch.cat([tree[n].reshape(k, -1) for n in self.names], dim=1)

    def unflatten(self, V):
        """(k, n_params) -> dict of (k, *shape)."""
        parts = torch.split(V, self.sizes, dim=1)
        return {n: p.reshape(V.shape[0], *s) for n, p, s in zip(self.names, parts, self.shapes)}


def _as_tensor(name, a, dtype, device):
    if isinstance(a, torch.Tensor):
        t = a.detach()
    else:
        try:
            t = torch.as_tensor(a)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise ValueError(f"{name} must be a numeric array, got {type(a).__name__}") from exc
    if not (t.is_floating_point() or t.dtype in (torch.int32, torch.int64, torch.bool)):
        raise ValueError(f"{name} must be numeric, got dtype {t.dtype}")
    return t.to(dtype=dtype, device=device)


class Trajectory:
    """Cell, parameters, inputs and hidden states of a batch, linearized for KPFlow.

    Parameters
    ----------
    cell : Cell or str
        A cell instance (a registry name is accepted when ``params`` fixes the sizes).
    params : dict of str -> Tensor
        The cell parameters ``theta``; their dtype and device set the computation's.
    X : array-like of shape (B, T, D)
    Z : array-like of shape (B, T, H) or None
        Hidden states ``z_1..z_T``; computed by :func:`kpflow_sk.cells.rollout` when None.
    h0 : array-like of shape (B, H) or None
        ``z_0`` (zeros when None).
    aux : Tensor or None
        Per-step solver data (adaptive ODE grids); recomputed from Z when needed.
    strategy : {"auto", "materialized", "matrix_free"}
        How state Jacobians ``A_t`` are held. ``"materialized"`` builds the dense
        ``(B, T, H, H)`` tensor in one batched pass (analytic for rnn / leaky_rnn / gru,
        autodiff otherwise); ``"matrix_free"`` applies them per step (memory O(B*T*H*k));
        ``"auto"`` materializes only within ``memory_budget`` (and, for cells with an analytic
        factored Jacobian, only for probe batches of 8 or more, where it is faster).
    memory_budget : int or None
        Bytes allowed for materialized Jacobians (default 2 GiB).
    """

    def __init__(self, cell, params, X, Z=None, *, h0=None, aux=None, strategy="auto",
                 memory_budget=None):
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; valid choices: {list(STRATEGIES)}")
        if not isinstance(params, dict) or not params:
            raise ValueError("params must be a non-empty dict of parameter tensors")
        p0 = next(iter(params.values()))
        dtype, device = p0.dtype, p0.device
        X = _as_tensor("X", X, dtype, device)
        if X.ndim != 3:
            raise ValueError(f"X must have shape (B, T, D), got shape {tuple(X.shape)}")
        if not isinstance(cell, Cell):
            H = params["weight_hh"].shape[-1] if "weight_hh" in params else None
            if H is None:
                raise ValueError("pass a Cell instance when params has no 'weight_hh'")
            cell = get_cell(cell, X.shape[2], H)
        expected = cell.parameter_shapes()
        if set(expected) != set(params):
            raise ValueError(f"params for {cell!r} must have keys {sorted(expected)}, got "
                             f"{sorted(params)}")
        for n, s in expected.items():
            if tuple(params[n].shape) != tuple(s):
                raise ValueError(f"parameter {n!r} has shape {tuple(params[n].shape)}, "
                                 f"expected {tuple(s)}")
        if X.shape[2] != cell.input_size:
            raise ValueError(f"X has {X.shape[2]} features but the cell expects "
                             f"{cell.input_size}")
        if not torch.isfinite(X).all():
            raise ValueError("X contains NaN or inf")
        params = {n: params[n].detach() for n in expected}
        B, T, _ = X.shape
        H = cell.hidden_size
        h0 = X.new_zeros(B, H) if h0 is None else _as_tensor("h0", h0, dtype, device)
        if tuple(h0.shape) != (B, H):
            raise ValueError(f"h0 must have shape {(B, H)}, got {tuple(h0.shape)}")
        with torch.no_grad():
            if Z is None:
                Z, aux = rollout(cell, params, X, h0)
            else:
                Z = _as_tensor("Z", Z, dtype, device)
                if Z.ndim != 3 or Z.shape[0] != B or Z.shape[1] != T:
                    raise ValueError(f"X and Z disagree: X has (B, T) = {(B, T)}, Z has shape "
                                     f"{tuple(Z.shape)}")
                if Z.shape[2] != H:
                    raise ValueError(f"Z has {Z.shape[2]} hidden units, the cell has {H}")
                if not torch.isfinite(Z).all():
                    raise ValueError("Z contains NaN or inf (non-finite hidden states)")
        self.cell, self.params = cell, params
        self.X, self.Z, self.h0 = X, Z, h0
        self.Z_prev = torch.cat([h0.unsqueeze(1), Z[:, :-1]], dim=1)
        if aux is None:
            with torch.no_grad():
                aux = cell.prepare(params, self.Z_prev, X)
        self.aux = aux
        self.shape = (B, T, H)
        self.dtype, self.device = dtype, device
        self.strategy = strategy
        self.memory_budget = DEFAULT_MEMORY_BUDGET if memory_budget is None else memory_budget
        self.parameter_space = ParameterSpace(params)
        if getattr(cell, "functional", True):
            self._lin_free, self._param_lin = cell.linearizations(params, self.Z_prev, X, aux)
        else:
            # no functional twin (e.g. a torchdiffeq solve): plain autograd, still exact
            self._lin_free, self._param_lin = autograd_linearizations(cell, params,
                                                                      self.Z_prev, X, aux)
        self._lin_dense = None

    # ------------------------------------------------------------------ state Jacobians
    @property
    def factored(self):
        """True when the cell's linearization is analytic and matrix-free."""
        from kpflow_sk.cells import FactoredLinearization

        return isinstance(self._lin_free, FactoredLinearization)

    @property
    def dense_nbytes(self):
        B, T, H = self.shape
        return B * T * H * H * self.Z.element_size()

    def state_linearization(self, k=1):
        """The ``A_t`` operator to use for a batch of k probes (per ``strategy``)."""
        if self.strategy == "matrix_free":
            return self._lin_free
        if self.strategy == "auto":
            if self.dense_nbytes > self.memory_budget:
                return self._lin_free
            if self.factored and k < _FACTORED_MIN_PROBES_FOR_DENSE:
                return self._lin_free
        if self._lin_dense is None:
            self._lin_dense = MaterializedLinearization.from_linearization(self._lin_free)
        return self._lin_dense

    def state_jacobians(self):
        """Dense ``A`` of shape (B, T, H, H) (materializes regardless of strategy)."""
        if self._lin_dense is None:
            self._lin_dense = MaterializedLinearization.from_linearization(self._lin_free)
        return self._lin_dense.A

    # ------------------------------------------------------------------ parameter Jacobian
    @property
    def parameter_linearization(self):
        """``dF/dtheta`` at every (b, t) (analytic for affine-gated cells, else autodiff)."""
        return self._param_lin

    def param_jvp(self, V):
        """``(J v)_t = dF/dtheta v`` at all (b, t). V: (k, n_params) -> (k, B, T, H)."""
        return self.parameter_linearization.jvp(self.parameter_space.unflatten(V))

    def param_vjp(self, U):
        """``J* u``, summed over all (b, t). U: (k, B, T, H) -> (k, n_params)."""
        g = self.parameter_linearization.vjp(U)
        return self.parameter_space.flatten(g, U.shape[0])
