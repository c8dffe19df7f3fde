"""Theta's opt-in ``matmat(Q, overwrite=True)``: the same values as the plain application,
in Q's own memory where the linearization works in place; the public default never writes
the caller's probes."""

import pytest
import torch
from kp_models import cell_cases, random_inputs

from kpflow_sk.linalg import DenseOperator
from kpflow_sk.operators import Trajectory, kp_operators

B, T, D, H = 3, 8, 2, 5
CASES = cell_cases(D, H)


def _ops(case, strategy):
    cell = CASES[case]()
    params, X = random_inputs(cell, B, T, D)
    return kp_operators(Trajectory(cell, params, X, strategy=strategy))


def _dense_theta(ops):
    # independent: P K P* from the dense factors (float64)
    P, K = ops["P"].to_dense(), ops["K"].to_dense()
    return P @ K @ P.T


@pytest.mark.parametrize("case", ["rnn", "gru", "leaky_rnn", "node_rk4", "user"])
@pytest.mark.parametrize("strategy", ["materialized", "matrix_free"])
@pytest.mark.parametrize("k", [1, 20])
def test_overwrite_equals_plain_application(case, strategy, k):
    ops = _ops(case, strategy)
    Th = ops["Theta"]
    Q = torch.randn(B, T, H, k, dtype=torch.float64)
    Q0 = Q.clone()
    plain = Th.matmat(Q)
    assert torch.equal(Q, Q0)                       # the default leaves the probes alone
    assert torch.equal(Th.matmat(Q, overwrite=False), plain) and torch.equal(Q, Q0)
    got = Th.matmat(Q, overwrite=True)
    want = (_dense_theta(ops) @ Q0.reshape(-1, k)).reshape(B, T, H, k)
    assert torch.allclose(got, want, rtol=1e-10, atol=1e-12)
    assert torch.allclose(got, plain, rtol=1e-12, atol=1e-13)
    assert Th.n_applications == 3 * k
    if k >= 16 and case != "node_rk4" and case != "user":
        # the in-layout recurrences (GRU factored / materialized A_t) work in Q's memory:
        # no new probe block at all
        assert got.untyped_storage().data_ptr() == Q.untyped_storage().data_ptr()


@pytest.mark.parametrize("strategy", ["materialized", "matrix_free"])
def test_overwrite_leaves_broadcast_views_alone(strategy):
    # a probe with a zero stride (the mean reduction's embedding) shares entries: it is
    # never written, whatever the caller allows
    ops = _ops("gru", strategy)
    base = torch.randn(B, T, 1, 20, dtype=torch.float64)
    base0 = base.clone()
    Q = base.expand(B, T, H, 20)
    got = ops["Theta"].matmat(Q, overwrite=True)
    assert torch.equal(base, base0)
    want = (_dense_theta(ops) @ Q.reshape(-1, 20)).reshape(B, T, H, 20)
    assert torch.allclose(got, want, rtol=1e-10, atol=1e-12)


def test_overwrite_is_ignored_by_operators_without_it():
    M = torch.randn(6, 6, dtype=torch.float64)
    op = DenseOperator(M, (2, 3), (2, 3))
    Q = torch.randn(2, 3, 4, dtype=torch.float64)
    Q0 = Q.clone()
    got = op.matmat(Q, overwrite=True)
    assert torch.equal(Q, Q0)
    torch.testing.assert_close(got, (M @ Q0.reshape(6, 4)).reshape(2, 3, 4))
