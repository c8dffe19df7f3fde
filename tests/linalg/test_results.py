"""Result records: the accuracy fields, float(), and the one-line rendering."""

import math

import numpy as np
import pytest
import torch

from kpflow_sk.linalg import (
    Alignment,
    EffectiveRank,
    Estimate,
    format_estimate,
    hutchpp_trace,
    reduce_to_axis,
    spectrum,
)


def test_estimate_rendering_and_defaults():
    est = Estimate(38.5, 120, False, 0.2, "hutch++", (38.1, 38.9), 0.02, True, False)
    assert float(est) == 38.5 and est.half_width == pytest.approx(0.4)
    assert str(est) == format_estimate(est) == est.summary() == "38.5 ± 0.4 (1%, 120 applications)"
    exact = Estimate(55.0, 10, True)
    assert exact.interval == (55.0, 55.0) and exact.converged and not exact.hit_cap
    assert str(exact) == "55 (exact, 10 applications)"
    default = Estimate(10.0, 30, False, 0.5)  # interval filled from stderr (normal 95%)
    assert default.interval == pytest.approx((10 - 1.96 * 0.5, 10 + 1.96 * 0.5), rel=1e-3)
    capped = Estimate(10.0, 50, False, 1.0, "hutch++", (8.0, 12.0), 0.01, False, True)
    assert str(capped) == "10 ± 2 (20%, 50 applications, hit cap)"


def test_bound_and_alignment_rendering():
    low = EffectiveRank(2715.0, "var95", 1600, False, stderr=math.inf,
                        interval=(2715.0, math.inf), converged=False, hit_cap=True,
                        bound="lower")
    assert low.lower_bound and str(low) == "≥ 2715 (lower bound, 1600 applications, hit cap)"
    al = Alignment(0.5, 1.0, 2.0, 2.0, 60, False, 0.01, (0.48, 0.52))
    assert float(al) == 0.5 and str(al).startswith("0.50 ± 0.02 (4%, 60 applications")


def test_results_from_routines_render():
    G = torch.diag(torch.linspace(1, 2, 50, dtype=torch.float64))
    est = hutchpp_trace(G, rtol=0.05, random_state=0, exact=False)
    assert "applications" in str(est) and "±" in str(est)
    spec = spectrum(G, k=3)
    assert str(spec) == "top 3 eigenvalues, largest 2 (exact, 50 applications)"
    red = reduce_to_axis(G.reshape(50, 50), 0)
    assert "exact" in str(red)
    assert np.all(spec.interval[0] == spec.values) and spec.stderr == 0.0
