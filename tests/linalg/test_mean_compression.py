"""The ``mean`` reduction's broadcast embedding and ``column_gram`` against dense algebra."""

import pytest
import torch
from kp_models import cell_cases, random_inputs

from kpflow_sk.linalg import DenseOperator, reduce_to_axis
from kpflow_sk.linalg._syrk import column_gram
from kpflow_sk.operators import Trajectory, kp_operators

B, T, D, H = 3, 6, 2, 5


@pytest.mark.parametrize("n", [1, 7, 64, 130])
def test_column_gram_is_CtC(n):
    C = torch.randn(300, n, dtype=torch.float64)
    G = column_gram(C)
    assert torch.allclose(G, C.T @ C, rtol=1e-13, atol=1e-12)
    assert torch.equal(G, G.T)


def _dense_mean(dense, shape, a, gram):
    """E^T G E / M from a dense matrix of the operator (G = A A^T when gram)."""
    n = shape[a]
    eye = torch.eye(n, dtype=dense.dtype)
    view = [1] * (len(shape) + 1)
    view[a] = view[-1] = n
    E = eye.reshape(view).expand(*shape, n).reshape(-1, n)
    G = dense @ dense.T if gram else dense
    return E.T @ G @ E / (E.shape[0] // n)


@pytest.mark.parametrize("case", ["gru", "rnn", "node_rk4", "user"])
@pytest.mark.parametrize("name,gram", [("Theta", True), ("Theta", False), ("P", True),
                                       ("K", False), ("J", True)])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_mean_reduction_of_kpflow_operators(case, name, gram, axis):
    cell = cell_cases(D, H)[case]()
    params, X = random_inputs(cell, B, T, D)
    op = kp_operators(Trajectory(cell, params, X))[name]
    assert op.broadcast_probes
    n_in = op.in_shape[0] if len(op.in_shape) == 1 else B * T * H
    dense = (op @ torch.eye(n_in, dtype=torch.float64).reshape(*op.in_shape, n_in))
    dense = dense.reshape(-1, n_in)
    red = reduce_to_axis(op, axis, "mean", gram=gram)
    want = _dense_mean(dense, (B, T, H), axis, gram)
    assert torch.allclose(red.matrix, want, rtol=1e-10, atol=1e-12)
    assert red.n_applications == (B, T, H)[axis]      # one application per axis index


def test_operators_without_the_flag_get_materialized_probes():
    """A user operator that writes into its probes still works (E is materialized for it)."""
    M = torch.randn(12, 12, dtype=torch.float64)
    M = M @ M.T

    class Writes(DenseOperator):
        def _matmat(self, Q):
            Q.mul_(1.0)                      # would fail on an expanded view
            return super()._matmat(Q)

    op = Writes(M, in_shape=(2, 3, 2), out_shape=(2, 3, 2))
    assert not op.broadcast_probes
    red = reduce_to_axis(op, 1, "mean")
    assert torch.allclose(red.matrix, _dense_mean(M, (2, 3, 2), 1, False), rtol=1e-12)
