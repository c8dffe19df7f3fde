"""The KPFlow operators on linalg's protocol: Gram roots, the self-adjoint flag, one counter,
checked composition, and the axis embedding (against dense matrices, float64)."""

import pytest
import torch

from kpflow_sk import linalg
from kpflow_sk.cells import get_cell
from kpflow_sk.operators import (
    AxisEmbedding,
    GramOperator,
    LinearOperator,
    Trajectory,
    TrajectoryOperator,
    kp_operators,
)

B, T, H, D = 2, 4, 3, 2


def _traj(cell="gru", dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    c = get_cell(cell, D, H)
    params = c.init_params(g, dtype=dtype, init_scale=1.2)
    return Trajectory(c, params, torch.randn(B, T, D, generator=g, dtype=dtype))


@pytest.fixture(scope="module", params=["gru", "rnn"])
def ops(request):
    return kp_operators(_traj(request.param))


def _rel(a, b):
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


def test_every_operator_is_a_linear_operator(ops):
    for name, op in ops.items():
        assert isinstance(op, LinearOperator), name
    for name in ("J", "P", "Pinv"):
        assert isinstance(ops[name], TrajectoryOperator) and not ops[name].self_adjoint
    assert ops["J"].in_shape == (ops["J"].traj.parameter_space.size,)
    assert ops["P"].in_shape == ops["P"].out_shape == (B, T, H)


def test_grams_know_their_roots(ops):
    J, P, K, Theta, PPt = (ops[n] for n in ("J", "P", "K", "Theta", "PPt"))
    for G in (K, Theta, PPt):
        assert isinstance(G, GramOperator) and G.self_adjoint and G.T is G
    assert K.root is J and PPt.root is P
    assert Theta.root.A is P and Theta.root.B is J and Theta.PJ is Theta.root
    Jd, Pd = J.to_dense(), P.to_dense()
    for G, R in ((K, Jd), (PPt, Pd), (Theta, Pd @ Jd)):
        torch.testing.assert_close(G.root.to_dense(), R)
        assert _rel(G.to_dense(), R @ R.T) < 1e-12, G.name


def test_one_counter_per_operator_and_its_adjoint():
    o = kp_operators(_traj())
    P, Theta = o["P"], o["Theta"]
    q = torch.randn(B, T, H, 5, dtype=torch.float64)
    Theta @ q
    assert Theta.n_applications == 5
    # Theta's hooks run P, K and P* uncounted: only what the caller applied is counted
    assert P.n_applications == o["K"].n_applications == o["J"].n_applications == 0
    P.T @ q
    P @ q[..., :2]
    assert P.n_applications == P.T.n_applications == 7


def test_composition_across_dtypes_names_both():
    P64 = kp_operators(_traj())["P"]
    J32 = kp_operators(_traj(dtype=torch.float32))["J"]
    with pytest.raises(ValueError, match=r"cannot compose P \(torch.float64\) with J "
                                         r"\(torch.float32\)"):
        P64 @ J32
    with pytest.raises(ValueError, match=r"cannot compose J .* with P .*shapes differ"):
        kp_operators(_traj())["J"] @ P64


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_axis_embedding_is_the_mean_broadcast(axis):
    shape = (B, T, H)
    E = AxisEmbedding(shape, axis, torch.float64, "cpu")
    n, M = shape[axis], (B * T * H) // shape[axis]
    dense = E.to_dense()
    # column i: the indicator of index i along the axis, over all other axes, / sqrt(M)
    ref = torch.zeros(*shape, n, dtype=torch.float64)
    idx = [slice(None)] * 3
    for i in range(n):
        idx[axis] = i
        ref[tuple(idx) + (i,)] = 1 / M**0.5
    torch.testing.assert_close(dense, ref.reshape(-1, n))
    torch.testing.assert_close(E.T.to_dense(), dense.T)
    # E* G E on a trajectory operator is linalg's mean reduction of G
    G = kp_operators(_traj())["Theta"]
    red = linalg.reduce_to_axis(G, axis, "mean").matrix
    assert _rel((E.T @ G @ E).to_dense(), red) < 1e-12


def test_axis_embedding_rejects_bad_axis():
    with pytest.raises(ValueError, match="axis must be 0, 1 or 2"):
        AxisEmbedding((B, T, H), 3, torch.float64, "cpu")
