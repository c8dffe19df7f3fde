"""The recurrent-cell contract: ``z_t = F(z_{t-1}, x_t; theta)`` (docs/conventions.md section 2).

A cell is a *functional* map: parameters are a ``dict[str, Tensor]`` passed explicitly, so the
same cell runs under ``torch.func`` (jvp, vjp, vmap) for the KPFlow operators and inside the
training loop. All methods are batched over any leading dimensions of ``z_prev`` / ``x_t``.
"""

from __future__ import annotations

import math

import torch

from kpflow_sk.cells._linearization import (
    AutodiffLinearization,
    FactoredLinearization,
    StateLinearization,
)
from kpflow_sk.cells._parameter_linearization import (
    AffineParameterLinearization,
    AutodiffParameterLinearization,
    ParameterLinearization,
)

__all__ = ["Cell", "AffineCell"]


class Cell:
    """Base class for recurrent cells (built-in and user-defined).

    Subclasses define :meth:`parameter_shapes` and :meth:`step`; everything else has a
    working default. Override :meth:`linearize` with an analytic form where one exists (it is
    then checked against autodiff by the test-suite's dense comparisons).

    Parameters
    ----------
    input_size : int
        Number of input features ``D``.
    hidden_size : int
        Number of hidden units ``H``.

    Examples
    --------
    A user cell only needs two methods:

    >>> import torch
    >>> class MyCell(Cell):
    ...     def parameter_shapes(self):
    ...         return {"weight_hh": (self.hidden_size, self.hidden_size),
    ...                 "weight_ih": (self.hidden_size, self.input_size)}
    ...     def step(self, params, z_prev, x_t, aux=None):
    ...         return torch.sin(z_prev @ params["weight_hh"].T + x_t @ params["weight_ih"].T)
    >>> cell = MyCell(input_size=2, hidden_size=3)
    >>> p = cell.init_params(generator=torch.Generator().manual_seed(0))
    >>> cell.step(p, torch.zeros(4, 3), torch.ones(4, 2)).shape
    torch.Size([4, 3])
    """

    #: registry name of a built-in cell (None for user cells)
    name: str | None = None
    #: whether ``step`` runs under ``torch.func`` (jvp, vjp, vmap). A cell that cannot (it
    #: writes in place, e.g. a torchdiffeq solve) sets False and is linearized by plain
    #: autograd instead (``kpflow_sk.operators._autograd``).
    functional: bool = True

    def __init__(self, input_size: int, hidden_size: int):
        for label, v in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(v, (int,)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{label} must be a positive integer, got {v!r}")
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)

    # ------------------------------------------------------------------ parameters
    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """Names and shapes of the cell parameters ``theta`` (ordered)."""
        raise NotImplementedError("a Cell subclass must define parameter_shapes()")

    def recurrent_parameter_names(self) -> tuple[str, ...]:
        """Parameters that ``init_scale`` (the gain g) multiplies."""
        return tuple(n for n in self.parameter_shapes() if n.startswith("weight_hh"))

    def init_params(self, generator=None, dtype=torch.float32, device=None, init_scale=1.0):
        """Draw initial parameters.

        Recurrent weights (``weight_hh*``) are ``N(0, g^2 / H)`` per ``H x H`` block (g =
        ``init_scale``), other matrices ``N(0, 1 / fan_in)``, vectors zero.

        Returns
        -------
        params : dict of str -> Tensor
        """
        rec = set(self.recurrent_parameter_names())
        params = {}
        for name, shape in self.parameter_shapes().items():
            if len(shape) == 1:
                t = torch.zeros(shape, dtype=dtype)
            else:
                t = torch.randn(shape, generator=generator, dtype=dtype) / math.sqrt(shape[-1])
                if name in rec:
                    t = t * init_scale
            params[name] = t.to(device) if device is not None else t
        return params

    # ------------------------------------------------------------------ the map F
    def step(self, params, z_prev, x_t, aux=None):
        """One step ``z_t = F(z_{t-1}, x_t; theta)``.

        Parameters
        ----------
        params : dict of str -> Tensor
        z_prev : Tensor of shape (..., H)
        x_t : Tensor of shape (..., D)
        aux : Tensor or None
            Per-step data the map depends on but is not differentiated through (the
            step-size grid of an adaptive ODE solver); see :meth:`prepare`.

        Returns
        -------
        z_t : Tensor of shape (..., H)
        """
        raise NotImplementedError("a Cell subclass must define step()")

    def prepare(self, params, z_prev, x_t):
        """Choose the non-differentiable per-step data ``aux`` (None for most cells).

        Called without gradients before :meth:`step` during a rollout; adaptive ODE solvers
        pick their step-size grid here, which is then held fixed (see ``NeuralODECell``).
        """
        return None

    # ------------------------------------------------------------------ linearization
    def linearize(self, params, z_prev, x, aux=None) -> StateLinearization:
        """State Jacobians ``A_t = dF/dz (z_{t-1}, x_t)`` at every (b, t), as an operator.

        Parameters
        ----------
        params : dict of str -> Tensor
        z_prev : Tensor of shape (B, T, H)
            Previous states ``z_{t-1}``.
        x : Tensor of shape (B, T, D)
        aux : Tensor of shape (B, T, ...) or None

        Returns
        -------
        StateLinearization
            Default: matrix-free through ``torch.func.jvp`` / ``vjp``.
        """
        return AutodiffLinearization(self, params, z_prev, x, aux)

    def parameter_linearization(self, params, z_prev, x, aux=None) -> ParameterLinearization:
        """Parameter Jacobians ``dF/dtheta (z_{t-1}, x_t)`` at every (b, t), as an operator.

        Default: ``torch.func`` jvp / one vjp over all (b, t) at once.
        """
        return AutodiffParameterLinearization(self, params, z_prev, x, aux)

    def linearizations(self, params, z_prev, x, aux=None):
        """Both linearizations at once: ``(linearize(...), parameter_linearization(...))``."""
        return (self.linearize(params, z_prev, x, aux),
                self.parameter_linearization(params, z_prev, x, aux))

    def state_jacobian(self, params, z_prev, x, aux=None):
        """Dense ``A_t`` at every (b, t) in one batched autodiff pass.

        Returns
        -------
        A : Tensor of shape (B, T, H, H)
        """
        return self.linearize(params, z_prev, x, aux).dense()

    def __repr__(self):
        return (f"{type(self).__name__}(input_size={self.input_size}, "
                f"hidden_size={self.hidden_size})")


class AffineCell(Cell):
    """A cell ``F = Phi(W_1 s_1 + b_1, ..., z)`` whose unit j reads only unit j of each gate.

    Subclasses implement :meth:`affine_structure`; both linearizations then are analytic
    (one GEMM per application), which the dense autograd tests check.
    """

    def affine_structure(self, params, z_prev, x):
        """Return ``(maps, c)``: the :class:`AffineMap` list and the direct ``dF/dz`` diagonal.

        The map whose source is ``z_prev`` must come first; ``c`` is a Tensor (B, T, H) or float.
        """
        raise NotImplementedError

    def linearize(self, params, z_prev, x, aux=None):
        maps, c = self.affine_structure(params, z_prev, x)
        rec = maps[0]
        return FactoredLinearization(params[rec.weight], rec.coef, c)

    def parameter_linearization(self, params, z_prev, x, aux=None):
        maps, _ = self.affine_structure(params, z_prev, x)
        return AffineParameterLinearization(maps, tuple(z_prev.shape))

    def linearizations(self, params, z_prev, x, aux=None):
        # one pass over the gates serves both (the coefficient tensors are shared)
        maps, c = self.affine_structure(params, z_prev, x)
        return (FactoredLinearization(params[maps[0].weight], maps[0].coef, c),
                AffineParameterLinearization(maps, tuple(z_prev.shape)))
