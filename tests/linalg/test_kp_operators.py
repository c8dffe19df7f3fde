"""linalg on the KPFlow operators of a GRU (not synthetic matrices), against dense autograd.

Fast: a small GRU, with the randomized paths forced onto several probe blocks. Slow (``-m
slow``): the paper's size, B = 20, T = 90, H = 64, the three calls of issue 9 item 1.
"""

import numpy as np
import pytest
import torch
from kp_reference import dense_JZ, dense_P

from kpflow_sk import KPDecomposition, linalg
from kpflow_sk.cells import get_cell

B, T, H, D = 2, 30, 10, 3


def _time_trace(G, shape):
    b, t, h = shape
    return torch.einsum("bihbjh->ij", G.reshape(b, t, h, b, t, h))


def _pr(M):
    ev = torch.linalg.eigvalsh(M).clamp_min(0)
    return float(ev.sum() ** 2 / (ev**2).sum())


@pytest.fixture(scope="module")
def gru():
    g = torch.Generator().manual_seed(0)
    cell = get_cell("gru", D, H)
    params = cell.init_params(g, dtype=torch.float64)
    X = torch.randn(B, T, D, generator=g, dtype=torch.float64)
    Dec = KPDecomposition(cell, params, X, random_state=0)
    JZ = dense_JZ(cell, params, X, None)  # dZ/dtheta = P J: Theta = JZ JZ^T
    P = dense_P(cell, params, X, None)
    return Dec, {"Theta": JZ @ JZ.T, "P": P @ P.T}


def test_exact_paths_match_dense_autograd(gru):
    Dec, dense = gru  # N = 1080 <= 4096: every default path is exact here
    ref_theta = _time_trace(dense["Theta"], (B, T, H))
    assert Dec.effective_rank("Theta", axis="time") == pytest.approx(_pr(ref_theta), rel=1e-6)
    ref_p = torch.linalg.eigvalsh(_time_trace(dense["P"], (B, T, H))).flip(0)[:20].numpy()
    np.testing.assert_allclose(Dec.spectrum("P", k=20, axis="time"), ref_p, rtol=1e-6)
    rows = Dec.table(names=("Theta",), axes=(None, "time"), methods=("pr",))
    whole = next(r for r in rows if r["axis"] == "all")
    assert whole["rank"] == pytest.approx(_pr(dense["Theta"]), rel=1e-6)


@pytest.mark.parametrize("width", [1, 4])
def test_randomized_partial_trace_of_theta_multi_block(gru, monkeypatch, width):
    import kpflow_sk.linalg._reduce as reduce_mod

    Dec, dense = gru
    monkeypatch.setattr(reduce_mod, "block_columns", lambda n, *a, **k: width)
    A = Dec._measured("Theta", False)  # the factor P J, G = A A*
    ref = _pr(_time_trace(dense["Theta"], (B, T, H)))
    before = A.n_applications
    est = linalg.effective_rank(A, axis="time", gram=True, exact=False, random_state=1)
    assert not est.exact and est.rtol == 0.02
    assert est.n_applications == A.n_applications - before
    assert abs(est.value / ref - 1) < 0.02, (est, ref)
    assert est.interval[0] <= ref <= est.interval[1]
    spec = linalg.spectrum(Dec._measured("P", False), k=5, axis="time", gram=True,
                           exact=False, n_probes=24, random_state=1)
    ref_p = torch.linalg.eigvalsh(_time_trace(dense["P"], (B, T, H))).flip(0)[:5].numpy()
    assert np.all(np.abs(spec.values - ref_p) < 4 * spec.errors), (spec.values, ref_p)


@pytest.mark.slow
def test_paper_size_calls_run_and_agree():
    # B = 20, T = 90, H = 64 (N = 115200): the randomized partial traces need several
    # probe blocks (block_columns(N * 90) = 1). Reference: the exact time-axis partial
    # trace of Theta = (P J)(P J)* over the parameter basis, written out here.
    g = torch.Generator().manual_seed(0)
    cell = get_cell("gru", 3, 64)
    params = cell.init_params(g, dtype=torch.float64)
    X = torch.randn(20, 90, 3, generator=g, dtype=torch.float64)
    Dec = KPDecomposition(cell, params, X, random_state=0)
    A = Dec._measured("Theta", False)
    n_in = int(np.prod(A.in_shape))
    ref = torch.zeros(90, 90, dtype=torch.float64)
    for start in range(0, n_in, 256):
        w = min(256, n_in - start)
        E = torch.zeros(n_in, w, dtype=torch.float64)
        E[torch.arange(w) + start, torch.arange(w)] = 1
        Y = A.matmat(E.reshape(*A.in_shape, w))  # (20, 90, 64, w)
        ref += torch.einsum("bihw,bjhw->ij", Y, Y)
    est = linalg.effective_rank(A, axis="time", gram=True, random_state=0)
    assert Dec.effective_rank("Theta", axis="time") == pytest.approx(est.value)
    assert abs(est.value / _pr(ref) - 1) < 0.02, (est, _pr(ref))
    assert len(Dec.spectrum("P", k=20, axis="time")) == 20
    assert len(Dec.table()) > 0
