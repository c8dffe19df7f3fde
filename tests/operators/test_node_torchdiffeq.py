"""KPFlow operators of ``node`` cells integrated by torchdiffeq (plain-autograd fallback).

DESIGN.md section 2 identities against independent dense autograd Jacobians of the unrolled
network (tests/kp_reference.py), float64: adjointness, dense equality, Theta = J_Z J_Z^T,
P* err = BPTT, first-order GD step. Adaptive solvers run one solve per trial; the dense
reference has the cross-trial blocks, so block-diagonality of P is checked too.
"""

import pytest
import torch
import torchdiffeq
from kp_models import random_inputs
from kp_models import rel_error as _rel
from kp_reference import dense_J, dense_JZ, dense_P, flat_params, unflat, unroll

from kpflow_sk.cells import Cell, get_cell
from kpflow_sk.operators import Trajectory, kp_operators
from kpflow_sk.operators._autograd import AutogradLinearization

B, T, H, D = 2, 3, 3, 2

# The exactness checks hold at any tolerance (they differentiate the map as computed), so
# they run at loose ones (few steps, fast tests).
SOLVERS = {
    "bosh3": dict(rtol=1e-4, atol=1e-6),
    "adaptive_heun": dict(rtol=1e-3, atol=1e-5),
    "dopri8": dict(rtol=1e-6, atol=1e-8),
    "rk4": dict(step_size=0.25),
}
# An adaptive map jumps by about the tolerance wherever a small parameter change alters its
# step sequence (an accepted/rejected step, one step more or fewer). The first-order GD check
# therefore runs at tight tolerances and at learning rates where the O(eta^2) term dominates
# those jumps (measured: relative residual ~0.11 eta at eta >= 1e-2, a floor of ~1e-4..1e-3 from
# the jumps below eta ~ 1e-3).
GD_SOLVERS = {
    "bosh3": (dict(rtol=1e-7, atol=1e-9), (4e-2, 2e-2, 1e-2)),
    "adaptive_heun": (dict(rtol=1e-5, atol=1e-7), (4e-2, 2e-2, 1e-2)),
    "dopri8": (dict(rtol=1e-8, atol=1e-10), (4e-2, 2e-2, 1e-2)),
    "rk4": (dict(step_size=0.25), (1e-3, 5e-4, 2.5e-4)),
}


def _model(solver, seed=0, tolerances=None, **extra):
    kw = dict(SOLVERS.get(solver, {}) if tolerances is None else tolerances, **extra)
    cell = get_cell("node", D, H, solver=solver, dt=0.5, backend="torchdiffeq", **kw)
    return (cell, *random_inputs(cell, B, T, D, seed))


@pytest.fixture(params=list(SOLVERS))
def solver(request):
    return request.param


def _setup(solver, strategy):
    cell, params, X = _model(solver)
    traj = Trajectory(cell, params, X, strategy=strategy)
    return cell, params, X, traj, kp_operators(traj)


def test_uses_torchdiffeq_and_autograd_fallback(solver):
    cell, params, X, traj, _ = _setup(solver, "matrix_free")
    assert not cell.functional and isinstance(traj._lin_free, AutogradLinearization)
    # z_1 of each trial is torchdiffeq.odeint's own answer for that trial alone
    opts = {"step_size": 0.25} if solver == "rk4" else {}
    for b in range(B):
        f = cell.vector_field_fn(params, X[b:b + 1, 0])
        ref = torchdiffeq.odeint(lambda t, y: f(y), X.new_zeros(1, H),
                                 torch.tensor([0.0, 0.5], dtype=torch.float64), method=solver,
                                 rtol=cell.rtol, atol=cell.atol, options=opts)[-1]
        torch.testing.assert_close(traj.Z[b:b + 1, 0], ref, rtol=0, atol=1e-15)


def test_adjoint_identities(solver, strategy):
    *_, ops = _setup(solver, strategy)
    g = torch.Generator().manual_seed(1)
    for name in ("J", "K", "P", "Pinv", "Theta"):
        op = ops[name]
        q = torch.randn(*op.in_shape, 3, generator=g, dtype=torch.float64)
        r = torch.randn(*op.out_shape, 3, generator=g, dtype=torch.float64)
        lhs = ((op @ q) * r).sum()
        rhs = (q * (op.T @ r)).sum()
        assert abs(float(lhs - rhs)) <= 1e-10 * float(lhs.abs() + rhs.abs()), name


def test_against_dense_autograd(solver, strategy):
    cell, params, X, traj, ops = _setup(solver, strategy)
    Pd = dense_P(cell, params, X, None)          # full (BTH, BTH): cross-trial blocks too
    Jd = dense_J(cell, params, traj.Z_prev, X, None)
    JZ = dense_JZ(cell, params, X, None)
    assert _rel(ops["P"].to_dense(), Pd) < 1e-11
    assert _rel(ops["J"].to_dense(), Jd) < 1e-11
    assert _rel(ops["K"].to_dense(), Jd @ Jd.T) < 1e-11
    assert _rel(ops["Theta"].to_dense(), JZ @ JZ.T) < 1e-10
    assert _rel(Pd @ Jd @ Jd.T @ Pd.T, JZ @ JZ.T) < 1e-10
    assert _rel(traj.Z, unroll(cell, params, X)) < 1e-14


def _loss(Z, target, w):
    return 0.5 * (w[:, :, None] * (Z.sum(-1, keepdim=True) * 0.3 - target) ** 2).sum()


def test_adjoint_is_bptt(solver):
    cell, params, X, traj, ops = _setup(solver, "matrix_free")
    g = torch.Generator().manual_seed(3)
    target = torch.randn(B, T, 1, generator=g, dtype=torch.float64)
    w = torch.rand(B, T, generator=g, dtype=torch.float64)
    Zl = traj.Z.clone().requires_grad_(True)
    (err,) = torch.autograd.grad(_loss(Zl, target, w), Zl)
    eps = torch.zeros(B, T, H, dtype=torch.float64, requires_grad=True)
    (bptt,) = torch.autograd.grad(_loss(unroll(cell, params, X, None, eps), target, w), eps)
    assert _rel(ops["P"].T @ err, bptt) < 1e-11


def test_gradient_step_moves_Z_by_eta_dz(solver):
    tolerances, etas = GD_SOLVERS[solver]
    cell, params, X = _model(solver, tolerances=tolerances)
    traj = Trajectory(cell, params, X)
    ops = kp_operators(traj)
    g = torch.Generator().manual_seed(4)
    target = torch.randn(B, T, 1, generator=g, dtype=torch.float64)
    w = torch.ones(B, T, dtype=torch.float64)
    Zl = traj.Z.clone().requires_grad_(True)
    (err,) = torch.autograd.grad(_loss(Zl, target, w), Zl)
    dz = -(ops["Theta"] @ err)
    names, theta = flat_params(params)
    theta = theta.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(_loss(unroll(cell, unflat(names, params, theta), X), target,
                                        w), theta)
    errors = []
    for eta in etas:
        with torch.no_grad():
            Z_new = unroll(cell, unflat(names, params, theta - eta * grad), X)
        errors.append(float((Z_new - traj.Z - eta * dz).norm() / (eta * dz.norm())))
    assert errors[0] < 1e-2
    assert 1.7 < errors[0] / errors[1] < 2.3 and 1.7 < errors[1] / errors[2] < 2.3


@pytest.mark.filterwarnings("ignore:Functional iteration did not converge")
@pytest.mark.parametrize("solver", ["implicit_adams", "explicit_adams", "fehlberg2", "heun3"])
def test_other_solvers_P_and_J_exact(solver):
    # implicit_adams may stop its corrector early: still exact for the map as computed
    kw = {"step_size": 0.125} if solver in ("implicit_adams", "explicit_adams", "heun3") else \
        dict(rtol=1e-4, atol=1e-6)
    cell, params, X = _model(solver, tolerances=kw)
    ops = kp_operators(Trajectory(cell, params, X))
    assert _rel(ops["P"].to_dense(), dense_P(cell, params, X, None)) < 1e-11
    JZ = dense_JZ(cell, params, X, None)
    assert _rel(ops["Theta"].to_dense(), JZ @ JZ.T) < 1e-10


def test_adaptive_trials_are_independent():
    cell, params, X = _model("bosh3")
    Z = Trajectory(cell, params, X).Z
    for b in range(B):
        alone = Trajectory(cell, params, X[b:b + 1]).Z
        torch.testing.assert_close(alone, Z[b:b + 1], rtol=0, atol=0)


class _InPlaceCell(Cell):
    """A user cell that writes in place (no torch.func): the generic autograd fallback."""

    functional = False

    def parameter_shapes(self):
        return {"weight_hh": (self.hidden_size, self.hidden_size),
                "weight_ih": (self.hidden_size, self.input_size)}

    def step(self, params, z_prev, x_t, aux=None):
        out = torch.empty_like(z_prev)
        out[:] = torch.tanh(z_prev @ params["weight_hh"].T + x_t @ params["weight_ih"].T)
        return out


def test_generic_fallback_for_a_user_cell():
    g = torch.Generator().manual_seed(7)
    cell = _InPlaceCell(D, H)
    params = cell.init_params(g, dtype=torch.float64)
    X = torch.randn(B, T, D, generator=g, dtype=torch.float64)
    ops = kp_operators(Trajectory(cell, params, X))
    assert _rel(ops["P"].to_dense(), dense_P(cell, params, X, None)) < 1e-12
    JZ = dense_JZ(cell, params, X, None)
    assert _rel(ops["Theta"].to_dense(), JZ @ JZ.T) < 1e-12


def test_non_differentiable_solver_is_refused():
    cell, params, X = _model("scipy_solver", tolerances={})
    with pytest.raises(ValueError, match="not differentiable by autograd"):
        Trajectory(cell, params, X)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("solver", ["bosh3", "rk4"])
def test_cuda_matches_cpu(solver):
    cell, params, X = _model(solver)
    q = torch.randn(B, T, H, 2, dtype=torch.float64)
    cpu = kp_operators(Trajectory(cell, params, X))["Theta"] @ q
    gpu = kp_operators(Trajectory(cell, {n: v.cuda() for n, v in params.items()},
                                  X.cuda()))["Theta"] @ q.cuda()
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-9, atol=1e-12)
