"""A statistic of an operator reduced to one axis, with its uncertainty: the one axis path
of :func:`~kpflow_sk.linalg.effective_rank` and :func:`~kpflow_sk.linalg.spectrum`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from kpflow_sk.linalg._accuracy import DEFAULT_RTOL, jackknife_stderr, t_quantile
from kpflow_sk.linalg._checks import EXACT_MAX_DIM, check_choice, check_exact, check_int
from kpflow_sk.linalg._random import check_generator
from kpflow_sk.linalg._reduce import (
    REDUCTIONS,
    PartialTrace,
    axis_result,
    axis_setup,
    exact_cost,
    exact_partial_trace,
    fallback,
    grow,
    reduce_to_axis,
)
from kpflow_sk.linalg._results import AxisReduction

__all__ = ["AxisMeasure", "measure_on_axis", "dense_eigenvalues"]


def dense_eigenvalues(D):
    """Eigenvalues of a dense symmetric matrix, descending, float64."""
    return torch.linalg.eigvalsh(D.double()).flip(0)


def _eigenvalues(matrix):
    return dense_eigenvalues(matrix).cpu().numpy()


@dataclass
class AxisMeasure:
    """What :func:`measure_on_axis` found: the reduction, the statistic and its spread.

    ``value`` and ``stderr`` have the shape ``stat`` returns (a float, an array of
    eigenvalues); ``dof`` is inf and ``stderr`` 0 when the reduction is exact.
    ``eigenvalues`` are those of the reduced matrix (descending, float64).
    """

    reduction: AxisReduction
    value: Any
    stderr: Any
    dof: float
    hit_cap: bool

    @property
    def eigenvalues(self):
        return _eigenvalues(self.reduction.matrix)

    @property
    def exact(self):
        return self.reduction.exact

    @property
    def half_width(self):
        """``t * stderr``, the ~95% half-width (0 when exact)."""
        return 0 * np.asarray(self.stderr) if self.exact else t_quantile(self.dof) * self.stderr

    @property
    def target(self):
        """The tolerance the estimate is judged against (``DEFAULT_RTOL`` unless given)."""
        rtol = self.reduction.rtol
        return DEFAULT_RTOL if rtol is None else rtol


def measure_on_axis(op, axis, reduce, stat, *, gram=False, exact=None, n_probes=None,
                    rtol=None, max_applications=None, random_state=None, block_width=None,
                    floor=0.0, bias_correct=True):
    """A statistic of the reduced matrix's spectrum, its uncertainty, an adaptive budget.

    ``stat(eigenvalues) -> float or ndarray`` (a rank, the top eigenvalues), given the
    reduced matrix's eigenvalues (descending, float64 numpy). On a randomized
    partial trace its value is jackknife bias-corrected (``bias_correct``; not for sorted
    eigenvalues, whose leave-one-out values swap places between close neighbours) and its
    standard error a jackknife over the probe groups (16, or one per probe when fewer), and
    probes are added until every entry's ~95% half-width ``t * se`` is at most
    ``rtol * max(|value|, floor * max|value|)``, or the cap (parameters as in
    :func:`~kpflow_sk.linalg.reduce_to_axis`).

    Returns
    -------
    AxisMeasure
    """
    check_choice("reduce", reduce, REDUCTIONS)
    n_probes = check_int("n_probes", n_probes, allow_none=True)
    exact = check_exact(exact)
    G, a, n_axis, M, acc = axis_setup(op, axis, gram, n_probes, rtol, max_applications)

    def exact_measure(red):
        value = stat(_eigenvalues(red.matrix))
        return AxisMeasure(red, value, np.zeros_like(np.asarray(value, dtype=np.float64)),
                           math.inf, False)

    if reduce == "mean" or exact or (exact is None and (exact_cost(G) <= acc.initial
                                                        or G.n <= EXACT_MAX_DIM)):
        # (the inner call counts its own applications: red.n_applications)
        return exact_measure(reduce_to_axis(G.A.op, a, reduce, gram=gram,
                                            exact=True if reduce == "trace" else None,
                                            block_width=block_width))
    pt = PartialTrace(G, a, check_generator(random_state, G.device), block_width)
    pt.add(max(1, acc.initial // n_axis))

    def spread(p):
        # Jackknife over the probe groups, bias-corrected: a nonlinear statistic of a noisy
        # matrix is biased by O(1/probes) (noise inflates tr(G^2), spreads eigenvalues), and
        # the correction g v - (g - 1) mean(v_loo) removes that order (for tr(G^2) exactly:
        # it is then the U-statistic over distinct groups).
        plain = np.asarray(stat(_eigenvalues(p.matrix())), dtype=np.float64)
        loo = np.stack([np.asarray(stat(_eigenvalues(L)), dtype=np.float64)
                        for L in p.leave_one_out()])
        g = p.n_groups
        value = plain - (g - 1) * (loo.mean(0) - plain) if g > 1 and bias_correct else plain
        return value, jackknife_stderr(loo), g - 1

    def ratio(p):
        value, se, dof = spread(p)
        scale = np.atleast_1d(np.maximum(np.abs(value), floor * np.max(np.abs(value))))
        hw = t_quantile(dof) * np.atleast_1d(se)
        if np.any(~np.isfinite(hw)):
            return float("inf")
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(scale > 0, hw / (acc.target * scale), np.where(hw > 0, np.inf, 0.0))
        return float(np.max(r)) if r.size else 0.0

    outcome = "met" if acc.fixed else grow(pt, acc, ratio,
                                           fallback(G, acc) if exact is None else None)
    if outcome == "exact":
        R = exact_partial_trace(G, a, block_width)
        return exact_measure(AxisReduction(R, a, reduce, G.counter.n, True, M))
    value, se, dof = spread(pt)
    hit = outcome == "cap"
    return AxisMeasure(axis_result(pt, reduce, acc, hit), value, se, dof, hit)
