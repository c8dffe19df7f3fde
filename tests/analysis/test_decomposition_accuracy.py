"""The accuracy contract through KPDecomposition: rtol, result objects, flagged bounds."""

import numpy as np
import pytest
import torch

from kpflow_sk import KPDecomposition, linalg
from kpflow_sk.analysis import collapse_dim
from kpflow_sk.cells import get_cell

# 8 trials x 9 steps x 48 units: dense is affordable as the reference, and randomized
# estimates (exact=False) run several Krylov blocks / probe rounds
B, T, H, D_IN = 8, 9, 48, 3


def _decomposition(n_trials, hidden_size=H):
    g = torch.Generator().manual_seed(0)
    cell = get_cell("gru", D_IN, hidden_size)
    params = cell.init_params(g, dtype=torch.float64)
    X = torch.randn(n_trials, T, D_IN, generator=g, dtype=torch.float64)
    W = torch.randn(2, hidden_size, generator=g, dtype=torch.float64)

    def loss_fn(Z):
        return ((Z @ W.T) ** 2).mean()

    return KPDecomposition(cell, params, X, loss_fn=loss_fn, random_state=0)


@pytest.fixture(scope="module")
def dec():
    """Dense references affordable (3456-dim trajectory space)."""
    return _decomposition(B)


@pytest.fixture(scope="module")
def big():
    """Randomized by default: both sides of Theta's Gram exceed linalg's dense limit."""
    return _decomposition(2 * B)


@pytest.mark.parametrize("rtol", [0.02, 0.01])
def test_rank_meets_rtol_and_covers_exact(dec, rtol):
    exact = dec.effective_rank("Theta", exact=True)
    res = dec.effective_rank("Theta", exact=False, rtol=rtol, return_result=True)
    assert isinstance(res, linalg.EffectiveRank) and not res.exact
    assert res.rtol == rtol and res.converged and not res.hit_cap and res.bound is None
    lo, hi = res.interval
    assert hi - lo <= 2 * rtol * res.value * (1 + 1e-12)
    assert lo <= exact <= hi  # (125.2, 127.4) and (122.96, 127.42) around 126.83
    # the float method is the same result
    assert dec.effective_rank("Theta", exact=False, rtol=rtol) == res.value


def test_collapse_dim_uses_default_rtol(big):
    res = collapse_dim(big, return_result=True)
    assert not res.exact and res.rtol == linalg.DEFAULT_RTOL and res.converged
    summary = big.summary()
    assert res.value == big.collapse_dim() == summary["collapse_dim"]
    assert summary["collapse_dim_estimate"] == linalg.format_estimate(res)
    assert "±" in summary["collapse_dim_estimate"]
    # the table's row of the same measure is the same result
    (row,) = big.table(names=("Theta",), axes=(None,), methods=("pr",))
    assert row["rank"] == res.value and row["estimate"] == linalg.format_estimate(res)
    assert row["stderr"] == res.stderr > 0 and row["interval"] == res.interval


def test_alignment_and_spectrum_results(dec):
    a = dec.alignment("Theta", "PPt", rtol=0.05, return_result=True)
    assert isinstance(a, linalg.Alignment) and a.interval[0] <= a.value <= a.interval[1]
    assert dec.alignment("Theta", "PPt", rtol=0.05) == a.value
    s = dec.spectrum("P", k=5, axis="time", return_result=True)
    assert isinstance(s, linalg.Spectrum)
    np.testing.assert_array_equal(dec.spectrum("P", k=5, axis="time"), s.values)


def test_bounds_are_flagged(dec):
    # a tiny cap cannot reach 95% of P P*'s trace: a lower bound, flagged as such
    with pytest.warns(RuntimeWarning):
        low = dec.effective_rank("P", method="var95", exact=False, n_applications=8,
                                 max_applications=16, return_result=True)
    assert low.bound == "lower" and low.lower_bound
    assert linalg.format_estimate(low).startswith("≥")


def test_table_every_convention_has_an_estimate():
    tiny = _decomposition(3, hidden_size=4)
    rows = tiny.table(names=("K",), convention="all")
    assert {r["convention"] for r in rows} == {"default", "reference", "figure"}
    for r in rows:
        assert r["estimate"] and r["interval"][0] <= r["rank"] <= r["interval"][1]
        assert r["bound"] is None and not r["hit_cap"]
