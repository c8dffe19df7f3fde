"""The whole-space participation ratio of Theta (the collapse dimension) against dense autograd.

A small GRU (float64) where Theta = (dZ/dtheta)(dZ/dtheta)^T is dense and exact: the
adaptive 2% estimate's ~95% intervals cover the exact value on at least 90% of 40 seeds,
and its errors stay within a few tolerances.
"""

import numpy as np
import torch
from kp_reference import dense_JZ

from kpflow_sk import KPDecomposition, linalg
from kpflow_sk.cells import get_cell

B, T, H, D = 4, 25, 12, 3  # N = 1200 trajectory dimensions, 576 parameters


def test_collapse_dim_intervals_cover_dense_theta():
    g = torch.Generator().manual_seed(0)
    cell = get_cell("gru", D, H)
    params = cell.init_params(g, dtype=torch.float64)
    X = torch.randn(B, T, D, generator=g, dtype=torch.float64)
    JZ = dense_JZ(cell, params, X, None)
    lam = torch.linalg.eigvalsh(JZ @ JZ.T).clamp_min(0)
    exact = float(lam.sum() ** 2 / (lam**2).sum())
    Theta = KPDecomposition(cell, params, X, random_state=0).Theta
    hits, errors = 0, []
    for seed in range(40):
        r = linalg.effective_rank(Theta, exact=False, rtol=0.02, random_state=seed)
        assert not r.exact and r.converged and not r.hit_cap and r.stderr > 0
        assert r.half_width <= 0.02 * r.value
        hits += r.interval[0] <= exact <= r.interval[1]
        errors.append(r.value / exact - 1)
    assert hits >= 36, (hits, exact)
    assert np.max(np.abs(errors)) < 0.05, errors
