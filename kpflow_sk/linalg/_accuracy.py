"""Accuracy contract of the randomized measures: tolerances, caps, intervals (docs/conventions.md).

Every randomized measure takes ``rtol`` and ``max_applications``. An explicit budget
(``n_applications``, or ``n_probes`` for :func:`reduce_to_axis`) without ``rtol`` is a fixed
budget. Otherwise the estimate adapts: it grows its budget in batched probe blocks until the
half-width of its ~95% interval is at most ``rtol`` times the value, or until
``max_applications`` is spent (the result then says ``hit_cap=True``).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["DEFAULT_RTOL", "DEFAULT_MAX_APPLICATIONS", "LEVEL", "Accuracy", "check_accuracy",
           "t_quantile", "delta_stderr", "jackknife_stderr"]

#: Relative tolerance (interval half-width / value) an adaptive estimate aims for.
DEFAULT_RTOL = 0.02
#: Cap on the probe vectors (through the operator or its adjoint) of one adaptive
#: whole-space estimate or alignment; :func:`reduce_to_axis` caps at 256 probes instead.
DEFAULT_MAX_APPLICATIONS = 2000
#: Confidence level of the reported intervals.
LEVEL = 0.95


class Accuracy:
    """The resolved budget policy of one call.

    Attributes
    ----------
    initial : int
        Budget of the first round (the whole budget when ``fixed``).
    rtol : float or None
        Requested tolerance (None for a fixed budget).
    cap : int
        Most applications in all.
    fixed : bool
        True when the caller gave a budget and no ``rtol``: spend it, no more.
    """

    def __init__(self, initial, rtol, cap, fixed):
        self.initial, self.rtol, self.cap, self.fixed = initial, rtol, cap, fixed

    @property
    def target(self):
        """Tolerance judged against: the requested one, else :data:`DEFAULT_RTOL`."""
        return self.rtol if self.rtol is not None else DEFAULT_RTOL


def check_rtol(rtol):
    """``rtol`` is None or a float in (0, 1)."""
    if rtol is None:
        return None
    if isinstance(rtol, bool) or not isinstance(rtol, numbers.Real) or not 0 < rtol < 1:
        raise ValueError(f"rtol must be None or a number in (0, 1), got {rtol!r}")
    return float(rtol)


def check_accuracy(budget, rtol, max_applications, default_initial,
                   default_cap=DEFAULT_MAX_APPLICATIONS, budget_name="n_applications",
                   minimum=1):
    """Resolve ``(n_applications, rtol, max_applications)`` into an :class:`Accuracy`.

    ``budget`` is the already-checked explicit budget (or None).
    """
    from kpflow_sk.linalg._checks import check_int

    rtol = check_rtol(rtol)
    cap = check_int("max_applications", max_applications, minimum=minimum, allow_none=True)
    if budget is not None and rtol is None:
        return Accuracy(budget, None, budget, True)
    initial = budget if budget is not None else default_initial
    cap = cap if cap is not None else max(default_cap, initial)
    return Accuracy(min(initial, cap), rtol if rtol is not None else DEFAULT_RTOL, cap, False)


def t_quantile(dof, level=LEVEL):
    """Two-sided Student-t quantile for ``dof`` degrees of freedom (normal when dof is inf)."""
    # scipy.special, not scipy.stats: the same functions without importing all of stats
    # (seconds on a first call)
    from scipy import special

    if dof is None or not np.isfinite(dof):
        return float(special.ndtri(0.5 + level / 2))
    if dof < 1:
        return float("inf")
    return float(special.stdtrit(dof, 0.5 + level / 2))


def delta_stderr(grad, samples):
    """Standard error of ``f(mean of samples)`` by the delta method.

    Parameters
    ----------
    grad : array of shape (d,)
        Gradient of f at the estimate.
    samples : array of shape (n, d)
        Per-probe samples whose mean enters f (the exact sketch part adds a constant).

    Returns
    -------
    float
        ``sqrt(grad^T Cov grad / n)`` with the sample covariance (NaN when n < 2).
    """
    x = np.asarray(samples, dtype=np.float64)
    n = x.shape[0]
    if n < 2:
        return float("nan")
    proj = x @ np.asarray(grad, dtype=np.float64)
    return float(np.std(proj, ddof=1) / math.sqrt(n))


def jackknife_stderr(leave_one_out):
    """Jackknife standard error from the g leave-one-group-out values (any trailing shape)."""
    v = np.asarray(leave_one_out, dtype=np.float64)
    g = v.shape[0]
    if g < 2:
        return np.full(v.shape[1:], np.nan) if v.ndim > 1 else float("nan")
    se = np.sqrt((g - 1) / g * np.sum((v - v.mean(0)) ** 2, axis=0))
    return se if v.ndim > 1 else float(se)


def met(half_width, value, rtol, floor=0.0):
    """Tolerance test ``half_width <= rtol * max(|value|, floor)`` (False on NaN)."""
    scale = max(abs(float(value)), floor)
    hw = float(half_width)
    return bool(np.isfinite(hw) and hw <= rtol * scale)
