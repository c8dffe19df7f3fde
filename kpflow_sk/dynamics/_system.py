"""A cell under a constant input as a dynamical system: its residual and its Jacobian.

Discrete-time cells (rnn, leaky_rnn, gru, user cells) iterate the map ``z -> F(z, x)``; a
fixed point solves ``F(z, x) = z`` and its stability is read from the eigenvalues of
``A = dF/dz`` against the unit circle. A cell that exposes a vector field
(``vector_field_fn(params, x)``, the ``node`` cell) is a flow ``dz/dt = f(z, x)``; a fixed point
solves ``f(z, x) = 0`` and its stability is read from the eigenvalues of ``df/dz`` against the
imaginary axis (docs/conventions.md section 2: F is then the flow map over one interval).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.func import jacrev, vmap

from kpflow_sk.cells import Cell

__all__ = ["CellSystem", "check_constant_input", "check_states"]


def _tensor(name, a, dtype, device):
    if torch.is_tensor(a):
        t = a.detach()
    else:
        try:
            t = torch.as_tensor(np.asarray(a, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be a numeric array, got {type(a).__name__}") from exc
    if not (t.is_floating_point() or t.dtype in (torch.int32, torch.int64, torch.bool)):
        raise ValueError(f"{name} must be numeric, got dtype {t.dtype}")
    return t.to(dtype=dtype, device=device)


def check_constant_input(x, input_size, dtype, device):
    """The constant input ``x`` as a tensor of shape (D,); ``ValueError`` naming ``x``."""
    if x is None:
        return torch.zeros(input_size, dtype=dtype, device=device)
    t = _tensor("x", x, dtype, device)
    if t.ndim == 0 and input_size == 1:
        t = t.reshape(1)
    if tuple(t.shape) != (input_size,):
        raise ValueError(f"x must be one constant input of shape ({input_size},) "
                         f"(n_features), got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError("x contains NaN or inf")
    return t


def check_states(name, Z, hidden_size, dtype, device):
    """States of shape (N, H) (or (B, T, H), flattened); ``ValueError`` naming ``name``."""
    t = _tensor(name, Z, dtype, device)
    if t.ndim == 3:
        t = t.reshape(-1, t.shape[-1])
    if t.ndim != 2 or t.shape[1] != hidden_size or t.shape[0] < 1:
        raise ValueError(f"{name} must have shape (n_states, {hidden_size}) or (B, T, "
                         f"{hidden_size}), got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or inf (non-finite states)")
    return t


class CellSystem:
    """``z -> F(z, x)`` (or ``dz/dt = f(z, x)``) for one cell, parameters and constant input.

    Parameters
    ----------
    cell : Cell
    params : dict of str -> Tensor
        Their dtype and device set the computation's.
    x : array-like of shape (D,) or None
        The constant input (zeros when None).

    Attributes
    ----------
    continuous : bool
        True for a cell with a vector field (``node``): residual ``f``, Jacobian ``df/dz``.
    x : Tensor of shape (D,)
    """

    def __init__(self, cell, params, x=None):
        if not isinstance(cell, Cell):
            raise ValueError(f"cell must be a kpflow_sk.cells.Cell instance, got {cell!r}")
        if not isinstance(params, dict) or not params:
            raise ValueError("params must be a non-empty dict of parameter tensors")
        expected = cell.parameter_shapes()
        if set(expected) != set(params):
            raise ValueError(f"params for {cell!r} must have keys {sorted(expected)}, got "
                             f"{sorted(params)}")
        self.cell = cell
        self.params = {n: params[n].detach() for n in expected}
        p0 = next(iter(self.params.values()))
        self.dtype, self.device = p0.dtype, p0.device
        self.hidden_size = cell.hidden_size
        self.x = check_constant_input(x, cell.input_size, self.dtype, self.device)
        self.continuous = callable(getattr(cell, "vector_field_fn", None))

    # ------------------------------------------------------------------ maps
    def step(self, Z):
        """``F(z, x)`` for a batch of states Z (N, H) -> (N, H)."""
        X = self.x.expand(Z.shape[0], -1)
        aux = self.cell.prepare(self.params, Z.detach(), X)
        return self.cell.step(self.params, Z, X, aux)

    def residual(self, Z):
        """``F(z, x) - z`` (discrete) or ``f(z, x)`` (continuous); (N, H) -> (N, H)."""
        if self.continuous:
            return self.cell.vector_field_fn(self.params, self.x)(Z)
        return self.step(Z) - Z

    def q(self, Z):
        """The speed ``q(z) = 1/2 |residual(z)|^2`` per state, shape (N,)."""
        r = self.residual(Z)
        return 0.5 * (r * r).sum(-1)

    # ------------------------------------------------------------------ linearization
    def jacobian(self, Z):
        """The system's Jacobian at each state, shape (N, H, H).

        Discrete cells: ``A = dF/dz`` from the cell's own linearization
        (:meth:`kpflow_sk.cells.Cell.state_jacobian`: analytic for rnn / leaky_rnn / gru,
        autodiff otherwise) -- the same ``A_t`` the propagator P uses. Continuous cells:
        ``df/dz`` of the vector field by ``torch.func.jacrev``.
        """
        Z = Z.detach()
        if self.continuous:
            f = self.cell.vector_field_fn(self.params, self.x)
            return vmap(jacrev(f))(Z)
        N = Z.shape[0]
        X = self.x.expand(N, -1)
        with torch.no_grad():
            aux = self.cell.prepare(self.params, Z, X)
        aux = None if aux is None else aux.unsqueeze(0)
        return self.cell.state_jacobian(self.params, Z.unsqueeze(0), X.unsqueeze(0), aux)[0]

    def residual_jacobian(self, Z, J=None):
        """Jacobian of the residual: ``A - I`` (discrete) or ``df/dz`` (continuous)."""
        J = self.jacobian(Z) if J is None else J
        if self.continuous:
            return J
        return J - torch.eye(self.hidden_size, dtype=J.dtype, device=J.device)

    def n_unstable(self, eigenvalues, tol=0.0):
        """Unstable modes per point: ``|lambda| > 1 + tol`` (or ``Re lambda > tol``)."""
        if self.continuous:
            return (eigenvalues.real > tol).sum(-1)
        return (eigenvalues.abs() > 1.0 + tol).sum(-1)

    def __repr__(self):
        kind = "flow dz/dt = f(z, x)" if self.continuous else "map z -> F(z, x)"
        return f"CellSystem({self.cell!r}, {kind}, x={self.x.tolist()!r})"
