"""Dynamics of a fitted cell beyond the KPFlow operators (docs/conventions.md section 5).

- :func:`find_fixed_points` -- fixed and slow points under a constant input (Sussillo & Barak
  2013), with the Jacobian, its eigenvalues and a stability label at each point.
- :func:`lyapunov_spectrum` -- Lyapunov exponents along trajectories (Benettin's QR method on
  the state Jacobians ``A_t``).
- :func:`finite_time_exponents` -- ``log sigma_i(Phi(t, s)) / (t - s)`` from the propagator P's
  blocks ``Phi(t, s) = A_t ... A_{s+1}``, with their time course.

This package reads cells, operators and states; it never imports ``kpflow_sk.estimators``
(the estimators' ``fixed_points`` / ``lyapunov_spectrum`` methods call into it).

>>> from kpflow_sk.dynamics import find_fixed_points, lyapunov_spectrum, finite_time_exponents
"""

from kpflow_sk.dynamics._finite_time import finite_time_exponents, transition_matrices
from kpflow_sk.dynamics._fixed_points import OPTIMIZERS, find_fixed_points, sample_initial_states
from kpflow_sk.dynamics._lyapunov import lyapunov_spectrum
from kpflow_sk.dynamics._results import LABELS, FiniteTimeExponents, FixedPoints, LyapunovSpectrum
from kpflow_sk.dynamics._system import CellSystem

__all__ = [
    "find_fixed_points", "sample_initial_states", "lyapunov_spectrum", "finite_time_exponents",
    "transition_matrices", "FixedPoints", "LyapunovSpectrum", "FiniteTimeExponents", "LABELS",
    "OPTIMIZERS", "CellSystem",
]
