"""Result records of the linalg routines: the value(s), what they cost, how accurate they are.

Every record carries the accuracy contract of docs/conventions.md section 3 (see
:mod:`kpflow_sk.linalg._accuracy`):

- ``stderr`` : float, standard error of the value (0.0 when exact);
- ``interval`` : ``(lo, hi)``, a ~95% interval (``(value, value)`` when exact; for a lower
  bound ``(value, inf)``);
- ``rtol`` : the tolerance requested, or None (fixed budget);
- ``converged`` : True when the tolerance was met (``DEFAULT_RTOL`` is judged when none was
  requested) or the value is exact;
- ``hit_cap`` : True when an adaptive estimate stopped at ``max_applications`` short of it;
- ``bound`` : None, or ``"lower"`` / ``"upper"`` when the number is only a bound.

``str(result)`` (and :func:`format_estimate`) renders ``"38.5 ± 0.4 (1%, 120 applications)"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

__all__ = ["Estimate", "Alignment", "Spectrum", "AxisReduction", "EffectiveRank",
           "format_estimate"]

# z of a two-sided 95% normal interval (records built without an explicit interval)
_Z95 = 1.959963984540054


def _fill_interval(rec, value):
    """Default interval: exact -> (value, value), else value +- z * stderr."""
    if rec.interval is None:
        if rec.exact or rec.stderr == 0.0:
            iv = (value, value)
        else:
            iv = (value - _Z95 * rec.stderr, value + _Z95 * rec.stderr)
        object.__setattr__(rec, "interval", tuple(float(x) for x in iv))


class _Scalar:
    """``float(result)``, ``str(result)`` and ``summary()`` of a scalar record."""

    def __float__(self):
        return float(self.value)

    def __str__(self):
        return format_estimate(self)

    def summary(self):
        """One line: value, uncertainty, relative half-width, applications, markers."""
        return format_estimate(self)

    @property
    def half_width(self):
        """Half-width of ``interval`` (inf for a bound)."""
        lo, hi = self.interval
        return (hi - lo) / 2


@dataclass(frozen=True)
class Estimate(_Scalar):
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
    interval : tuple of float
        ~95% interval (Student t on the probe spread).
    rtol : float or None
        Requested relative tolerance (None: fixed budget).
    converged : bool
        Tolerance met (``rtol``, else ``DEFAULT_RTOL``), or exact.
    hit_cap : bool
        Adaptive estimate stopped at ``max_applications`` before meeting ``rtol``.
    bound : None, "lower" or "upper"
        Set when ``value`` is only a bound.
    """

    value: float
    n_applications: int
    exact: bool
    stderr: float = 0.0
    method: str = "dense"
    interval: Optional[tuple] = None
    rtol: Optional[float] = None
    converged: bool = True
    hit_cap: bool = False
    bound: Optional[str] = None

    def __post_init__(self):
        _fill_interval(self, self.value)


@dataclass(frozen=True)
class Alignment(_Scalar):
    """Frobenius cosine ``tr(A B*) / sqrt(tr(A A*) tr(B B*))`` (docs/conventions.md section 3).

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
    stderr : float
        Standard error of the cosine (delta method over the probes; 0.0 when exact).
    interval, rtol, converged, hit_cap, bound
        As in :class:`Estimate` (the interval is clipped to [-1, 1]).
    """

    value: float
    inner: float
    norm_a2: float
    norm_b2: float
    n_applications: int
    exact: bool
    stderr: float = 0.0
    interval: Optional[tuple] = None
    rtol: Optional[float] = None
    converged: bool = True
    hit_cap: bool = False
    bound: Optional[str] = None

    def __post_init__(self):
        _fill_interval(self, self.value)


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
    errors : ndarray of shape (k,)
        Per-eigenvalue standard error (randomized partial trace: jackknife over probe groups)
        or, for Lanczos / randomized range finders, half the width of the residual-based
        interval; zeros when exact.
    stderr : float
        ``max(errors)``.
    interval : (ndarray, ndarray)
        Per-eigenvalue interval ``(lo, hi)``: ~95% for a randomized partial trace; for
        Lanczos / range finders from the Rayleigh-Ritz residuals. Lanczos Ritz values are
        lower bounds of the eigenvalues (Cauchy interlacing), so there ``lo = values``; the
        residual bound ``hi`` is an a-posteriori estimate that can miss an eigenvalue the
        Krylov space has not found yet (clustered, unconverged spectra: then ``converged``
        is normally False too).
    rtol, converged, hit_cap, bound
        As in :class:`Estimate`; ``converged`` when, for every eigenvalue, the largest
        distance from the value to an end of its interval is within ``rtol`` of it
        (eigenvalues below ``SPECTRUM_FLOOR`` = 1e-3 of the largest are judged against
        that).
    """

    values: np.ndarray
    n_applications: int
    exact: bool
    method: str
    axis: Optional[int] = None
    reduce: Optional[str] = None
    errors: Optional[np.ndarray] = None
    stderr: float = 0.0
    interval: Optional[tuple] = None
    rtol: Optional[float] = None
    converged: bool = True
    hit_cap: bool = False
    bound: Optional[str] = None

    def __post_init__(self):
        if self.errors is None:
            object.__setattr__(self, "errors", frozen_array(np.zeros(len(self.values))))
        if self.interval is None:
            v = self.values
            iv = (v, v) if self.exact else (v - _Z95 * self.errors, v + _Z95 * self.errors)
            object.__setattr__(self, "interval", tuple(frozen_array(x) for x in iv))
        if self.stderr == 0.0 and len(self.errors):
            object.__setattr__(self, "stderr", float(np.max(self.errors)))

    def __str__(self):
        return format_estimate(self)

    def summary(self):
        """One line: the top eigenvalue, the worst relative half-width, applications."""
        return format_estimate(self)


@dataclass(frozen=True, eq=False)
class AxisReduction:
    """An operator on ``(B, T, H)`` reduced to one axis (docs/conventions.md section 3).

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
    sem : torch.Tensor of shape (n_axis, n_axis) or None
        Entry-wise standard error of ``matrix`` (randomized partial trace only).
    stderr : float
        ``||sem||_F`` (0.0 when exact).
    interval : (torch.Tensor, torch.Tensor) or None
        Entry-wise ~95% interval ``matrix -+ t sem`` (None when exact).
    rtol, converged, hit_cap, bound
        As in :class:`Estimate`; the tolerance is on ``stderr / ||matrix||_F``.
    groups : torch.Tensor of shape (g, n_axis, n_axis) or None
        Randomized only: the matrix averaged over each of g disjoint probe groups
        (``matrix = groups.mean(0)``), for jackknife errors of derived quantities.
    """

    matrix: torch.Tensor
    axis: int
    reduce: str
    n_applications: int
    exact: bool
    n_probes: int
    sem: Optional[torch.Tensor] = None
    stderr: float = 0.0
    interval: Optional[tuple] = None
    rtol: Optional[float] = None
    converged: bool = True
    hit_cap: bool = False
    bound: Optional[str] = None
    groups: Optional[torch.Tensor] = None

    def __str__(self):
        return format_estimate(self)

    def summary(self):
        """One line: size, relative Frobenius standard error, applications."""
        return format_estimate(self)


@dataclass(frozen=True)
class EffectiveRank(_Scalar):
    """Effective rank of a PSD operator (docs/conventions.md section 3).

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
    stderr : float
        Standard error: ``"pr"`` on the whole space by the delta method on the joint
        Hutchinson samples of ``tr(G)`` and ``tr(G^2)``; ``"var95"`` on the whole space
        half the interval width (from the trace interval and the Ritz residuals); with a
        randomized partial trace a jackknife over probe groups.
    interval, rtol, converged, hit_cap
        As in :class:`Estimate`.
    bound : None or "lower"
        ``"lower"`` for a whole-space ``"var95"`` whose leading eigenvalues found did not
        reach 95% of the trace within the cap (then ``interval = (value, inf)``).
    """

    value: float
    method: str
    n_applications: int
    exact: bool
    axis: Optional[int] = None
    reduce: Optional[str] = None
    trace: float = float("nan")
    stderr: float = 0.0
    interval: Optional[tuple] = None
    rtol: Optional[float] = None
    converged: bool = True
    hit_cap: bool = False
    bound: Optional[str] = None

    def __post_init__(self):
        _fill_interval(self, self.value)

    @property
    def lower_bound(self):
        """True when ``value`` is only a lower bound (``bound == "lower"``)."""
        return self.bound == "lower"


def _fmt_pair(value, half_width):
    """``"38.5 ± 0.4"``: the value to the first significant digit of its half-width."""
    if not np.isfinite(half_width) or half_width <= 0:
        return f"{value:.4g}"
    digits = max(0, -math.floor(math.log10(half_width)))
    return f"{value:.{digits}f} ± {half_width:.1g}"


def _pct(x):
    return f"{x:.0%}" if x >= 0.01 else f"{x:.1%}"


def format_estimate(result):
    """Render a result as one short line, e.g. ``"38.5 ± 0.4 (1%, 120 applications)"``.

    Markers: ``"≥ ..."`` / ``"≤ ..."`` with ``"lower bound"`` / ``"upper bound"`` for a bound,
    ``"exact"`` for a dense value, ``"hit cap"`` when an adaptive estimate stopped at its cap.

    Parameters
    ----------
    result : Estimate, EffectiveRank, Alignment, Spectrum or AxisReduction

    Returns
    -------
    str
    """
    n = f"{result.n_applications} applications"
    tail = ", hit cap" if getattr(result, "hit_cap", False) else ""
    if isinstance(result, Spectrum):
        if len(result.values) == 0:
            return f"empty spectrum ({n})"
        top = f"top {len(result.values)} eigenvalues, largest {result.values[0]:.4g}"
        if result.exact:
            return f"{top} (exact, {n})"
        lo, hi = result.interval
        scale = np.maximum(np.abs(result.values), 1e-6 * abs(result.values[0]))
        worst = float(np.max((hi - lo) / 2 / np.where(scale > 0, scale, 1.0)))
        return f"{top} (worst ± {_pct(worst)}, {n}{tail})"
    if isinstance(result, AxisReduction):
        k = result.matrix.shape[0]
        head = f"{k} x {k} {result.reduce}-reduced matrix"
        if result.exact:
            return f"{head} (exact, {n})"
        norm = float(torch.linalg.norm(result.matrix))
        rel = result.stderr / norm if norm > 0 else float("nan")
        return f"{head} (± {_pct(rel)} Frobenius, {n}{tail})"
    value = float(result.value)
    if result.bound == "lower":
        return f"≥ {value:.4g} (lower bound, {n}{tail})"
    if result.bound == "upper":
        return f"≤ {value:.4g} (upper bound, {n}{tail})"
    if result.exact:
        return f"{value:.4g} (exact, {n})"
    hw = result.half_width
    if not np.isfinite(hw):
        return f"{value:.4g} (± ?, {n}{tail})"
    rel = hw / abs(value) if value != 0 else float("inf")
    return f"{_fmt_pair(value, hw)} ({_pct(rel)}, {n}{tail})"


def frozen_array(values):
    """A read-only float64 numpy copy (results must not be mutated in place)."""
    if torch.is_tensor(values):
        values = values.detach().cpu().numpy()
    out = np.array(values, dtype=np.float64)
    out.setflags(write=False)
    return out
