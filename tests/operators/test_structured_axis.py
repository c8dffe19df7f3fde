"""AxisCompression: the mean compression of a Gram as a small operator, vs linalg's exact path."""

import pytest
import torch

from kpflow_sk import linalg
from kpflow_sk.cells import get_cell
from kpflow_sk.operators import AxisCompression, Trajectory, kp_operators


def _ops(cell_name="gru", shape=(3, 8, 5), seed=0):
    B, T, H = shape
    g = torch.Generator().manual_seed(seed)
    cell = get_cell(cell_name, 2, H)
    params = cell.init_params(g, dtype=torch.float64, init_scale=1.2)
    X = torch.randn(B, T, 2, generator=g, dtype=torch.float64)
    return kp_operators(Trajectory(cell, params, X))


@pytest.mark.parametrize("cell_name", ["gru", "rnn", "node"])
@pytest.mark.parametrize("name", ["Theta", "P", "K"])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_axis_compression_gram_is_mean_reduction(cell_name, name, axis):
    op = _ops(cell_name)[name]
    A = AxisCompression(op, axis)
    dense = A.to_dense()                                       # (n, N)
    ref = linalg.reduce_to_axis(op, axis, "mean", gram=True).matrix
    assert torch.allclose(dense @ dense.T, ref, rtol=1e-10, atol=1e-12 * float(ref.abs().max()))
    u = torch.randn(op.out_shape[axis], 2, dtype=torch.float64)
    v = torch.randn(*op.in_shape, 2, dtype=torch.float64)
    lhs, rhs = (A.matmat(v) * u).sum(), (v * A.rmatmat(u)).sum()
    assert abs(float(lhs - rhs)) <= 1e-10 * float(abs(lhs) + abs(rhs))


def test_axis_compression_rejects_bad_axis():
    with pytest.raises(ValueError, match="axis"):
        AxisCompression(_ops()["Theta"], 3)


def test_randomized_rank_of_compression_full_budget_is_exact():
    op = _ops(shape=(3, 8, 6))["Theta"]
    exact = linalg.effective_rank(op, axis="hidden", reduce="mean", gram=True).value
    est = linalg.effective_rank(AxisCompression(op, 2), gram=True, exact=False,
                                n_applications=24, random_state=0).value
    assert abs(est - exact) <= 1e-8 * exact
