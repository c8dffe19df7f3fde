"""``precision="medium"`` of the propagator (bfloat16 GEMM operands in the steps of the
dense and of the factored recurrence) against float64 recurrences; the fused Gram of
Theta's mean reduction (``HiddenNTK.rmatmat_gram``) against the Gram of Theta's images."""

import pytest
import torch
from test_propagate_gram import _gram
from test_structured_propagate import _dense_propagate, _layouts, _probes, _rel, _traj

from kpflow_sk import linalg
from kpflow_sk.cells import FactoredLinearization, MaterializedLinearization
from kpflow_sk.operators import Trajectory, kp_operators

SHAPE = (3, 9, 7)


def _float32(traj):
    return Trajectory(traj.cell, {n: v.float() for n, v in traj.params.items()}, traj.X.float())


@pytest.mark.parametrize("name", ["gru", "rnn", "leaky_rnn"])
@pytest.mark.parametrize("kind", ["dense", "late", "gaps"])
@pytest.mark.parametrize("adjoint", [False, True])
def test_medium_dense_steps_are_bfloat16_accurate(name, kind, adjoint):
    traj64 = _traj(name, SHAPE)
    A64 = traj64.state_jacobians()
    V64 = _probes(kind, 10, SHAPE, seed=2)
    ref = _dense_propagate(A64, V64, adjoint)
    lin = MaterializedLinearization(A64.float())
    for layout, V in _layouts(V64.float()).items():
        keep = V.clone()
        med = lin.propagate(V, adjoint, gemm_dtype=torch.bfloat16)
        high = lin.propagate(V, adjoint)
        assert med.dtype == torch.float32 and torch.equal(V, keep), layout
        err = _rel(med.double(), ref)
        # bfloat16 keeps 8 significant bits (2^-9 = 2e-3 per operand); above 1e-5: the
        # low-precision steps really ran (float32 is ~1e-7 from float64)
        assert 1e-5 < err < 2e-2, (layout, err)
        assert _rel(high.double(), ref) < 1e-5, layout
        # in place (overwrite) gives the same numbers
        W = V.clone()
        out = lin.propagate(W, adjoint, overwrite=True, gemm_dtype=torch.bfloat16)
        assert torch.equal(out, med), layout
        G = lin.propagate_gram(V, adjoint, gemm_dtype=torch.bfloat16)
        assert _rel(G.double(), _gram(ref)) < 2e-2, layout
        assert _rel(G, _gram(med)) < 1e-5, layout     # the Gram itself stays float32


@pytest.mark.parametrize("name", ["gru", "rnn", "leaky_rnn"])
@pytest.mark.parametrize("adjoint", [False, True])
def test_medium_factored_steps_are_bfloat16_accurate(name, adjoint):
    """The matrix-free factored form: bfloat16 operands from the gathered path's 16 probes
    up, exact (bitwise as "highest") below."""
    traj64 = _traj(name, SHAPE)
    ref_lin = traj64._lin_free
    lin = _float32(traj64)._lin_free
    assert isinstance(lin, FactoredLinearization)
    for k in (3, 20):
        V64 = _probes("dense", k, SHAPE, seed=5)
        ref = ref_lin.propagate(V64, adjoint)
        for layout, V in _layouts(V64.float()).items():
            keep = V.clone()
            med = lin.propagate(V, adjoint, gemm_dtype=torch.bfloat16)
            high = lin.propagate(V, adjoint)
            assert torch.equal(V, keep), layout
            if k < 16:
                assert torch.equal(med, high), layout
                continue
            err = _rel(med.double(), ref)
            assert 1e-5 < err < 2e-2, (layout, err)
            assert _rel(high.double(), ref) < 1e-5, layout


def test_medium_propagator_uses_bfloat16_only_where_it_applies():
    traj64 = _traj("gru", SHAPE)
    traj = _float32(traj64)
    med, high = kp_operators(traj, "medium"), kp_operators(traj)
    assert med["P"].gemm_dtype == torch.bfloat16 and high["P"].gemm_dtype is None
    assert kp_operators(traj64, "medium")["P"].gemm_dtype is None          # float64: exact
    Q1 = torch.randn(*SHAPE, 1)
    # one probe runs the matrix-free factored form's exact per-step loop
    assert torch.equal(med["P"] @ Q1, high["P"] @ Q1)
    Q = torch.randn(*SHAPE, 12)
    ref = kp_operators(traj64)["P"] @ Q.double()
    err = _rel((med["P"] @ Q).double(), ref)
    assert 1e-5 < err < 2e-2
    err_t = _rel((med["P"].rmatmat(Q)).double(), kp_operators(traj64)["P"].rmatmat(Q.double()))
    assert 1e-5 < err_t < 2e-2


@pytest.mark.parametrize("name", ["gru", "rnn", "node"])
@pytest.mark.parametrize("strategy", ["materialized", "matrix_free"])
def test_theta_rmatmat_gram_equals_gram_of_images(name, strategy):
    traj = _traj(name, SHAPE)
    traj.strategy = strategy
    Th = kp_operators(traj)["Theta"]
    R = _probes("dense", 11, SHAPE, seed=4).movedim(0, -1)                 # (B, T, H, 11)
    before = Th.n_applications
    G = Th.rmatmat_gram(R)
    assert Th.n_applications - before == 11
    Y = Th.rmatmat(R)
    assert _rel(G, _gram(Y.movedim(-1, 0))) < 1e-12
    with pytest.raises(ValueError, match="does not fit"):
        Th.rmatmat_gram(R[:, :, :5])


@pytest.mark.parametrize("axis", ["hidden", "time"])
def test_medium_axis_ranks_within_tolerance(axis):
    """Axis ranks of Theta (Theta^2) and P P* under medium (bfloat16 K and P steps) against
    float64, on a model big enough for the dense propagator (>= 8 probes)."""
    traj64 = _traj("gru", (4, 12, 16))
    med, exact = kp_operators(_float32(traj64), "medium"), kp_operators(traj64)
    for name in ("Theta", "P"):
        e = linalg.effective_rank(exact[name], axis=axis, reduce="mean", gram=True).value
        m = linalg.effective_rank(med[name], axis=axis, reduce="mean", gram=True).value
        assert abs(m - e) / e < 1e-2, (name, m, e)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("strategy", ["materialized", "matrix_free"])
def test_medium_propagator_on_cuda(strategy):
    traj64 = _traj("gru", SHAPE)
    cuda = Trajectory(traj64.cell, {n: v.float().cuda() for n, v in traj64.params.items()},
                      traj64.X.float().cuda())
    cuda.strategy = strategy
    P = kp_operators(cuda, "medium")["P"]
    assert P.gemm_dtype == torch.bfloat16
    Q = torch.randn(*SHAPE, 20, dtype=torch.float64)
    ref = kp_operators(traj64)["P"] @ Q
    assert 1e-5 < _rel((P @ Q.float().cuda()).double().cpu(), ref) < 2e-2
    assert 1e-5 < _rel(P.rmatmat(Q.float().cuda()).double().cpu(),
                       kp_operators(traj64)["P"].rmatmat(Q)) < 2e-2
