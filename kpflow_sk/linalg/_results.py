"""Result records of the linalg routines: the value(s), what they cost, how they were got."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

__all__ = ["Estimate", "Alignment", "Spectrum", "AxisReduction", "EffectiveRank"]


@dataclass(frozen=True)
class Estimate:
    """A scalar (a trace, a norm, ``tr(G^2)``).

    Attributes
    ----------
    value : float
    n_applications : int
        Probe vectors pushed through the operator or its adjoint (a call with k columns
        counts k; ``A A*`` applied to one vector counts 2).
    exact : bool
        True when computed from the dense matrix (up to rounding), False when estimated.
    stderr : float
        Standard error of the stochastic (Hutchinson) part, from its sample spread; 0.0 when
        exact or when the sketch captured the whole space.
    method : str
        ``"dense"``, ``"hutch++"`` (block-Krylov sketch) or ``"hutch++-classic"``.
    """

    value: float
    n_applications: int
    exact: bool
    stderr: float = 0.0
    method: str = "dense"

    def __float__(self):
        return float(self.value)


@dataclass(frozen=True)
class Alignment:
    """Frobenius cosine ``tr(A B*) / sqrt(tr(A A*) tr(B B*))`` (DESIGN.md section 3).

    Attributes
    ----------
    value : float
        The cosine, in [-1, 1] (NaN when either operator is zero).
    inner : float
        ``tr(A B*)``.
    norm_a2, norm_b2 : float
        ``tr(A A*) = ||A||_F^2`` and ``tr(B B*)``.
    n_applications : int
        Probe vectors through A, B and their adjoints, all together.
    exact : bool
    """

    value: float
    inner: float
    norm_a2: float
    norm_b2: float
    n_applications: int
    exact: bool

    def __float__(self):
        return float(self.value)


@dataclass(frozen=True, eq=False)
class Spectrum:
    """Leading eigenvalues of a self-adjoint PSD operator (or of ``A A*``).

    Attributes
    ----------
    values : ndarray of shape (k,)
        Eigenvalues, descending (read-only, float64).
    n_applications : int
    exact : bool
    method : str
        ``"dense"``, ``"lanczos"`` or ``"randomized"``.
    axis : int or None
        The axis the operator was reduced to first (see :func:`reduce_to_axis`), or None.
    reduce : str or None
    """

    values: np.ndarray
    n_applications: int
    exact: bool
    method: str
    axis: Optional[int] = None
    reduce: Optional[str] = None


@dataclass(frozen=True, eq=False)
class AxisReduction:
    """An operator on ``(B, T, H)`` reduced to one axis (DESIGN.md section 3).

    Attributes
    ----------
    matrix : torch.Tensor of shape (n_axis, n_axis)
        The reduced (symmetric PSD for a PSD operator) matrix, on the operator's device.
    axis : int
    reduce : str
        ``"trace"`` or ``"mean"``.
    n_applications : int
    exact : bool
    n_probes : int
        Vectors over the other axes the reduction was averaged over: all M basis vectors when
        exact, the Rademacher probes otherwise (1 for ``"mean"``).
    """

    matrix: torch.Tensor
    axis: int
    reduce: str
    n_applications: int
    exact: bool
    n_probes: int


@dataclass(frozen=True)
class EffectiveRank:
    """Effective rank of a PSD operator (DESIGN.md section 3).

    Attributes
    ----------
    value : float
    method : str
        ``"pr"`` or ``"var95"``.
    n_applications : int
    exact : bool
        True when every step used dense matrices (the reduced matrix for an axis was exact).
    axis : int or None
    reduce : str or None
    trace : float
        ``tr(G)`` (of the reduced matrix when ``axis`` is given).
    lower_bound : bool
        ``"var95"`` only: True when the leading eigenvalues found did not reach 95% of the
        trace within the application cap; ``value`` is then a lower bound (a warning says so).
    """

    value: float
    method: str
    n_applications: int
    exact: bool
    axis: Optional[int] = None
    reduce: Optional[str] = None
    trace: float = float("nan")
    lower_bound: bool = False

    def __float__(self):
        return float(self.value)


def frozen_array(values):
    """A read-only float64 numpy copy (results must not be mutated in place)."""
    if torch.is_tensor(values):
        values = values.detach().cpu().numpy()
    out = np.array(values, dtype=np.float64)
    out.setflags(write=False)
    return out
