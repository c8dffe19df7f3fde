"""Finite-time exponents from P's blocks equal the dense Phi(t, s) singular values."""

import numpy as np
import pytest
import torch
from dynamics_models import CELL_CASES, LinearCell, model, normal_matrix
from torch.autograd.functional import jacobian

from kpflow_sk.analysis import KPDecomposition
from kpflow_sk.cells import rollout
from kpflow_sk.dynamics import finite_time_exponents, transition_matrices
from kpflow_sk.operators import Propagator, Trajectory

F64 = torch.float64


def _dense_jacobians(cell, params, X):
    """A_t (B, T, H, H) by autograd along the rollout (independent of the operators)."""
    Z, aux = rollout(cell, params, X)
    B, T, H = Z.shape
    Zp = torch.cat([torch.zeros(B, 1, H, dtype=F64), Z[:, :-1]], 1)
    A = torch.zeros(B, T, H, H, dtype=F64)
    for b in range(B):
        for t in range(T):
            a = None if aux is None else aux[b:b + 1, t]
            A[b, t] = jacobian(lambda z: cell.step(params, z, X[b:b + 1, t], a),
                               Zp[b:b + 1, t])[0, :, 0]
    return A


def _dense_phi(A, t, s):
    """Phi(t, s) = A_t ... A_{s+1} (1-based steps; A[:, t-1] = A_t)."""
    B, _, H, _ = A.shape
    M = torch.eye(H, dtype=F64).expand(B, H, H)
    for u in range(s + 1, t + 1):
        M = A[:, u - 1] @ M
    return M


@pytest.mark.parametrize("case", list(CELL_CASES))
@pytest.mark.parametrize("chunk", [None, 1, 3])
def test_ftle_from_p_blocks_equal_dense_phi_singular_values(case, chunk):
    cell, p = model(case)
    X = torch.randn(2, 12, 2, generator=torch.Generator().manual_seed(2), dtype=F64)
    P = Propagator(Trajectory(cell, p, X))
    A = _dense_jacobians(cell, p, X)
    s = 3
    ft = finite_time_exponents(P, s=s, chunk=chunk)
    assert list(ft.times) == list(range(s + 1, 13))
    assert ft.exponents.shape == (2, 9, 4)
    for j, t in enumerate(ft.times):
        sv = torch.linalg.svdvals(_dense_phi(A, int(t), s)).numpy()
        np.testing.assert_allclose(ft.singular_values[:, j], sv, rtol=1e-10, atol=1e-13)
        # log amplifies round-off of singular values far below sigma_1: compare those above
        ok = sv > 1e-6 * sv[:, :1]
        np.testing.assert_allclose(ft.exponents[:, j][ok], (np.log(sv) / (t - s))[ok],
                                   rtol=1e-9, atol=1e-12)
    Phi, _ = transition_matrices(P, s, [7, 12], chunk=chunk)
    np.testing.assert_allclose(Phi[:, 1].numpy(), _dense_phi(A, 12, s).numpy(), atol=1e-12)


def test_linear_cell_ftle_and_time_course():
    W = normal_matrix(5, [1.2, 0.9, 0.7, 0.4, 0.1], seed=1)
    cell = LinearCell(1, 5)
    p = {"weight_hh": W, "weight_ih": torch.ones(5, 1, dtype=F64),
         "bias": torch.zeros(5, dtype=F64)}
    # short spans: sigma_5 / sigma_1 = (0.1 / 1.2)^(t - s) stays above round-off
    D = KPDecomposition(cell, p, torch.zeros(3, 9, 1, dtype=F64))
    ft = finite_time_exponents(D, s=1)                     # a decomposition is accepted
    # Phi(t, s) = W^(t - s) and W is normal: sigma_i = |lambda_i|^(t - s) exactly
    np.testing.assert_allclose(ft.exponents, np.broadcast_to(
        np.log([1.2, 0.9, 0.7, 0.4, 0.1]), ft.exponents.shape), atol=1e-10)
    assert ft.mean.shape == (8, 5)


@pytest.mark.parametrize("bad, match", [
    (dict(s=0), r"s must be a step in \[1, 11\]"),
    (dict(s=12), r"s must be"),
    (dict(times=[3]), r"times must be integer steps in \[4, 12\]"),
    (dict(times=[13]), r"times must be"),
    (dict(chunk=0), r"chunk must be"),
])
def test_bad_input(bad, match):
    cell, p = model("rnn")
    P = Propagator(Trajectory(cell, p, torch.zeros(2, 12, 2, dtype=F64)))
    kw = dict(s=3)
    kw.update(bad)
    with pytest.raises(ValueError, match=match):
        finite_time_exponents(P, **kw)
    with pytest.raises(ValueError, match="Propagator"):
        finite_time_exponents(object())
