"""Theta's chain P (K (P* Q)) reuses one buffer: results equal the separate applications,
the caller's probes are never written, and the in-place forms really share memory."""

import pytest
import torch
from kp_models import cell_cases, random_inputs

from kpflow_sk.operators import Trajectory, kp_operators

B, T, D, H = 3, 8, 2, 5
CASES = cell_cases(D, H)


@pytest.mark.parametrize("case", ["rnn", "gru", "leaky_rnn", "node_rk4", "user"])
@pytest.mark.parametrize("strategy", ["materialized", "matrix_free"])
@pytest.mark.parametrize("k", [1, 20])
def test_theta_chain_equals_separate_products(case, strategy, k):
    cell = CASES[case]()
    params, X = random_inputs(cell, B, T, D)
    ops = kp_operators(Trajectory(cell, params, X, strategy=strategy))
    Q = torch.randn(B, T, H, k, dtype=torch.float64)
    Q0 = Q.clone()
    got = ops["Theta"] @ Q
    assert torch.equal(Q, Q0)                       # the caller's probes are untouched
    want = ops["P"] @ (ops["K"] @ (ops["P"].T @ Q0))
    assert torch.allclose(got, want, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("strategy", ["materialized", "matrix_free"])
@pytest.mark.parametrize("adjoint", [False, True])
def test_propagate_overwrite_shares_memory(strategy, adjoint):
    cell = CASES["gru"]()
    params, X = random_inputs(cell, B, T, D)
    traj = Trajectory(cell, params, X, strategy=strategy)
    k = 20                                          # wide enough for the in-layout forms
    lin = traj.state_linearization(k)
    V = torch.randn(B, T, H, k, dtype=torch.float64).movedim(-1, 0)   # probes-last memory
    want = lin.propagate(V, adjoint)
    got = lin.propagate(V, adjoint, overwrite=True)
    assert got.data_ptr() == V.data_ptr()
    assert torch.allclose(got, want, rtol=1e-12, atol=1e-13)


def test_structured_kernel_overwrite_shares_memory():
    cell = CASES["gru"]()
    params, X = random_inputs(cell, B, T, D)
    lin = Trajectory(cell, params, X).parameter_linearization
    U = torch.randn(7, B, T, H, dtype=torch.float64)
    want = lin.kernel_apply(U)
    got = lin.kernel_apply(U, overwrite=True)
    assert got.data_ptr() == U.data_ptr()
    assert torch.allclose(got, want, rtol=1e-12, atol=1e-13)
