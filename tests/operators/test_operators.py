"""The KPFlow operators against independent dense autograd computations (float64)."""

import pytest
import torch
from kp_models import cell_cases, random_inputs
from kp_models import rel_error as _rel
from kp_reference import dense_J, dense_JZ, dense_P, flat_params, unflat, unroll

from kpflow_sk.cells import get_cell
from kpflow_sk.operators import Trajectory, kp_operators

B, T, H, D = 2, 5, 4, 3


CELL_CASES = cell_cases(D, H, dopri5_rtol=1e-5, dopri5_atol=1e-7)


def _model(case, seed=0):
    cell = CELL_CASES[case]()
    return (cell, *random_inputs(cell, B, T, D, seed))  # non-zero biases: every param matters


@pytest.fixture(params=list(CELL_CASES))
def case(request):
    return request.param


def _setup(case, strategy):
    cell, params, X = _model(case)
    traj = Trajectory(cell, params, X, strategy=strategy)
    return cell, params, X, traj, kp_operators(traj)


def test_adjoint_identities(case, strategy):
    _, _, _, traj, ops = _setup(case, strategy)
    g = torch.Generator().manual_seed(1)
    for name in ("J", "K", "P", "Pinv", "Theta"):
        op = ops[name]
        q = torch.randn(*op.in_shape, 3, generator=g, dtype=torch.float64)
        r = torch.randn(*op.out_shape, 3, generator=g, dtype=torch.float64)
        lhs = ((op @ q) * r).sum()
        rhs = (q * (op.T @ r)).sum()
        assert abs(float(lhs - rhs)) <= 1e-10 * float(lhs.abs() + rhs.abs()), name


def test_against_dense_autograd(case, strategy):
    cell, params, X, traj, ops = _setup(case, strategy)
    aux = traj.aux
    Pd = dense_P(cell, params, X, aux)
    Jd = dense_J(cell, params, traj.Z_prev, X, aux)
    JZ = dense_JZ(cell, params, X, aux)
    assert _rel(ops["P"].to_dense(), Pd) < 1e-12
    assert _rel(ops["J"].to_dense(), Jd) < 1e-12
    assert _rel(ops["K"].to_dense(), Jd @ Jd.T) < 1e-12
    assert _rel(ops["Theta"].to_dense(), JZ @ JZ.T) < 1e-11
    # the factorisation itself: Theta = P K P*
    assert _rel(Pd @ Jd @ Jd.T @ Pd.T, JZ @ JZ.T) < 1e-11
    # the rollout matches the unrolled reference
    assert _rel(traj.Z, unroll(cell, params, X, aux)) < 1e-14


def test_inverse_propagator(case, strategy):
    *_, ops = _setup(case, strategy)
    g = torch.Generator().manual_seed(2)
    q = torch.randn(B, T, H, 4, generator=g, dtype=torch.float64)
    assert _rel(ops["P"] @ (ops["Pinv"] @ q), q) < 1e-12
    assert _rel(ops["Pinv"] @ (ops["P"] @ q), q) < 1e-12


def _loss(Z, target, w):
    return 0.5 * (w[:, :, None] * (Z.sum(-1, keepdim=True) * 0.3 - target) ** 2).sum()


def test_adjoint_is_bptt(case, strategy):
    cell, params, X, traj, ops = _setup(case, strategy)
    g = torch.Generator().manual_seed(3)
    target = torch.randn(B, T, 1, generator=g, dtype=torch.float64)
    w = torch.rand(B, T, generator=g, dtype=torch.float64)
    Zl = traj.Z.clone().requires_grad_(True)
    (err,) = torch.autograd.grad(_loss(Zl, target, w), Zl)      # explicit per-step gradient
    eps = torch.zeros(B, T, H, dtype=torch.float64, requires_grad=True)
    (bptt,) = torch.autograd.grad(_loss(unroll(cell, params, X, traj.aux, eps), target, w), eps)
    assert _rel(ops["P"].T @ err, bptt) < 1e-12


def test_gradient_step_moves_Z_by_eta_dz(case, strategy):
    cell, params, X, traj, ops = _setup(case, strategy)
    g = torch.Generator().manual_seed(4)
    target = torch.randn(B, T, 1, generator=g, dtype=torch.float64)
    w = torch.ones(B, T, dtype=torch.float64)
    Zl = traj.Z.clone().requires_grad_(True)
    (err,) = torch.autograd.grad(_loss(Zl, target, w), Zl)
    dz = -(ops["Theta"] @ err)
    names, theta = flat_params(params)
    theta = theta.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(
        _loss(unroll(cell, unflat(names, params, theta), X, traj.aux), target, w), theta)
    errors = []
    for eta in (1e-3, 5e-4, 2.5e-4):
        with torch.no_grad():
            Z_new = unroll(cell, unflat(names, params, theta - eta * grad), X, traj.aux)
        errors.append(float((Z_new - traj.Z - eta * dz).norm() / (eta * dz.norm())))
    # relative first-order error is O(eta): halves with eta
    assert errors[0] < 1e-2
    assert 1.7 < errors[0] / errors[1] < 2.3 and 1.7 < errors[1] / errors[2] < 2.3


def test_node_euler_closed_form_K():
    alpha = 0.3
    g = torch.Generator().manual_seed(5)
    cell = get_cell("node", D, H, solver="euler", dt=alpha, bias=False)
    params = cell.init_params(g, dtype=torch.float64)
    X = torch.randn(B, T, D, generator=g, dtype=torch.float64)
    traj = Trajectory(cell, params, X)
    K = kp_operators(traj)["K"].to_dense()
    M = torch.cat([torch.tanh(traj.Z_prev), X], dim=-1).reshape(B * T, -1)
    expected = alpha**2 * torch.kron(M @ M.T, torch.eye(H, dtype=torch.float64))
    assert _rel(K, expected) < 1e-13


def test_strategies_agree_and_auto_respects_budget():
    cell, params, X = _model("gru")
    q = torch.randn(B, T, H, 9, dtype=torch.float64)
    outs = {}
    for s in ("materialized", "matrix_free", "auto"):
        traj = Trajectory(cell, params, X, strategy=s)
        outs[s] = kp_operators(traj)["Theta"] @ q
    assert _rel(outs["materialized"], outs["matrix_free"]) < 1e-12
    tight = Trajectory(cell, params, X, strategy="auto", memory_budget=10)
    assert tight.state_linearization(k=64) is tight._lin_free
    roomy = Trajectory(cell, params, X, strategy="auto")
    assert roomy.state_linearization(k=64) is not roomy._lin_free


def test_operator_algebra_and_exports():
    cell, params, X = _model("rnn")
    ops = kp_operators(Trajectory(cell, params, X))
    P, K = ops["P"], ops["K"]
    q = torch.randn(B, T, H, dtype=torch.float64)
    assert _rel((P @ K) @ q, P @ (K @ q)) < 1e-14
    assert _rel(P.gram() @ q, P @ (P.T @ q)) < 1e-14
    assert P.T.T is P
    A = ops["Theta"].to_scipy()
    v = q.reshape(-1).numpy()
    assert abs(A.matvec(v) - (ops["Theta"] @ q).reshape(-1).numpy()).max() < 1e-12
    assert abs(A.rmatvec(v) - A.matvec(v)).max() < 1e-12


def test_bad_input():
    cell, params, X = _model("gru")
    traj = Trajectory(cell, params, X)
    with pytest.raises(ValueError, match="X and Z disagree"):
        Trajectory(cell, params, X, traj.Z[:, :-1])
    with pytest.raises(ValueError, match="X and Z disagree"):
        Trajectory(cell, params, X, traj.Z[:1])
    bad = traj.Z.clone()
    bad[0, 1, 2] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        Trajectory(cell, params, X, bad)
    with pytest.raises(ValueError, match=r"probe of shape \(2, 5, 3\)"):
        kp_operators(traj)["P"] @ torch.zeros(B, T, H - 1, dtype=torch.float64)
    with pytest.raises(ValueError, match="unknown cell 'lstm'; valid choices"):
        get_cell("lstm", D, H)
    with pytest.raises(ValueError, match="unknown strategy"):
        Trajectory(cell, params, X, strategy="fast")
