"""Cells: PyTorch layouts, torchdiffeq agreement, torch.func compatibility, analytic Jacobians."""

import pytest
import torch
import torchdiffeq
from kp_models import float64_params
from torch.func import jvp, vjp, vmap

from kpflow_sk.cells import (
    CELLS,
    AutodiffLinearization,
    get_cell,
    get_nonlinearity,
    rollout,
)

B, T, H, D = 3, 6, 5, 2


def _params(cell, seed=0):
    g = torch.Generator().manual_seed(seed)
    return float64_params(cell, g, init_scale=1.0, biases_only=False)


@pytest.mark.parametrize("name,module", [("gru", torch.nn.GRU), ("rnn", torch.nn.RNN)])
def test_fused_kernel_layout(name, module):
    cell = get_cell(name, D, H)
    p = _params(cell)
    net = module(D, H, batch_first=True).double()
    with torch.no_grad():
        for n, v in p.items():
            getattr(net, n + "_l0").copy_(v)
    X = torch.randn(B, T, D, dtype=torch.float64)
    Z, aux = rollout(cell, p, X)
    assert aux is None
    assert torch.allclose(Z, net(X)[0], atol=1e-12, rtol=0)


def test_leaky_rnn_equation():
    cell = get_cell("leaky_rnn", D, H, alpha=0.25, nonlinearity="relu")
    p = _params(cell)
    z, x = torch.randn(B, H, dtype=torch.float64), torch.randn(B, D, dtype=torch.float64)
    a = z @ p["weight_hh"].T + x @ p["weight_ih"].T + p["bias"]
    assert torch.allclose(cell.step(p, z, x), 0.75 * z + 0.25 * torch.relu(a), atol=1e-15)


@pytest.mark.parametrize("solver", ["euler", "midpoint", "rk4"])
def test_node_fixed_step_equals_torchdiffeq(solver):
    cell = get_cell("node", D, H, solver=solver, dt=0.6, step_size=0.2)
    p = _params(cell)
    z, x = torch.randn(B, H, dtype=torch.float64), torch.randn(B, D, dtype=torch.float64)
    f = cell.vector_field_fn(p, x)
    ref = torchdiffeq.odeint(lambda t, y: f(y), z, torch.tensor([0.0, 0.6], dtype=torch.float64),
                             method=solver, options={"step_size": 0.2})[-1]
    assert torch.allclose(cell.step(p, z, x), ref, atol=1e-13, rtol=0)


@pytest.mark.parametrize("vector_field", ["rate", "mlp"])
def test_node_dopri5_matches_torchdiffeq_within_tolerance(vector_field):
    cell = get_cell("node", D, H, solver="dopri5", dt=1.0, rtol=1e-8, atol=1e-10,
                    vector_field=vector_field)
    p = _params(cell)
    z, x = torch.randn(B, H, dtype=torch.float64), torch.randn(B, D, dtype=torch.float64)
    f = cell.vector_field_fn(p, x)
    ref = torchdiffeq.odeint(lambda t, y: f(y), z, torch.tensor([0.0, 1.0], dtype=torch.float64),
                             method="dopri5", rtol=1e-12, atol=1e-14)[-1]
    grid = cell.prepare(p, z, x)
    assert grid.shape[0] == B and torch.allclose(grid.sum(-1), torch.ones(B, dtype=torch.float64))
    assert torch.allclose(cell.step(p, z, x, grid), ref, atol=1e-7, rtol=0)
    # each trial's grid is its own: a trial alone gets the same grid and state, up to the
    # controller amplifying rounding (its error estimate is a difference at the rtol = 1e-8
    # scale, so batched vs single-row float64 products move the steps by up to ~2e-7
    # relative: measured over 300 seeds; 1e-8 failed for 8 of them)
    alone = cell.prepare(p, z[:1], x[:1])
    n = int((alone != 0).sum())
    assert n == int((grid[0] != 0).sum())
    assert torch.allclose(alone[0, :n], grid[0, :n], rtol=1e-6, atol=0)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_cells_run_under_torch_func(name):
    cell = get_cell(name, D, H, solver="rk4")
    p = _params(cell)
    z, x = torch.randn(B, H, dtype=torch.float64), torch.randn(B, D, dtype=torch.float64)
    out = vmap(lambda zz, xx: cell.step(p, zz, xx))(z, x)
    assert torch.allclose(out, cell.step(p, z, x), atol=1e-14)
    v = torch.randn(B, H, dtype=torch.float64)
    _, tangent = jvp(lambda zz: cell.step(p, zz, x), (z,), (v,))
    _, fn = vjp(lambda zz: cell.step(p, zz, x), z)
    (cot,) = fn(v)
    # <A v, v> computed both ways
    assert torch.allclose((tangent * v).sum(), (cot * v).sum(), atol=1e-12)


@pytest.mark.parametrize("name,nonlinearity", [("rnn", "tanh"), ("rnn", "relu"),
                                                ("leaky_rnn", "tanh"), ("leaky_rnn", "relu"),
                                                ("leaky_rnn", "softplus"), ("gru", None)])
def test_analytic_linearization_equals_autodiff(name, nonlinearity):
    cell = get_cell(name, D, H, nonlinearity=nonlinearity)
    p = _params(cell)
    X = torch.randn(B, T, D, dtype=torch.float64)
    Z, _ = rollout(cell, p, X)
    Zp = torch.cat([torch.zeros(B, 1, H, dtype=torch.float64), Z[:, :-1]], 1)
    lin, ref = cell.linearize(p, Zp, X), AutodiffLinearization(cell, p, Zp, X)
    assert torch.allclose(lin.dense(), ref.dense(), atol=1e-14)
    V = torch.randn(4, B, T, H, dtype=torch.float64)
    assert torch.allclose(lin.jvp(V), ref.jvp(V), atol=1e-13)
    assert torch.allclose(lin.vjp(V), ref.vjp(V), atol=1e-13)
    assert torch.allclose(lin.vjp_step(3, V[:, :, 3]), ref.vjp_step(3, V[:, :, 3]), atol=1e-13)


def test_init_scale_scales_recurrent_weights_only():
    cell = get_cell("leaky_rnn", D, H)
    a = cell.init_params(torch.Generator().manual_seed(0), init_scale=1.0)
    b = cell.init_params(torch.Generator().manual_seed(0), init_scale=2.0)
    assert torch.allclose(b["weight_hh"], 2 * a["weight_hh"])
    assert torch.equal(b["weight_ih"], a["weight_ih"])


def test_bad_cell_options():
    with pytest.raises(ValueError, match="unknown cell 'lstm'; valid choices"):
        get_cell("lstm", D, H)
    with pytest.raises(ValueError, match="unknown ode solver 'rk45'"):
        get_cell("node", D, H, solver="rk45")
    with pytest.raises(ValueError, match="alpha must lie in"):
        get_cell("leaky_rnn", D, H, alpha=1.5)
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        get_cell("gru", D, 0)
    with pytest.raises(ValueError, match="unknown nonlinearity 'swish'"):
        get_nonlinearity("swish")
    with pytest.raises(ValueError, match="nonlinearity for cell 'rnn'"):
        get_cell("rnn", D, H, nonlinearity="softplus")


@pytest.mark.parametrize("name", ["rnn", "leaky_rnn", "gru"])
@pytest.mark.parametrize("chunk_bytes", [None, 2000])
def test_analytic_parameter_jacobian_equals_autodiff(name, chunk_bytes):
    from kpflow_sk.cells import AutodiffParameterLinearization

    cell = get_cell(name, D, H)
    p = _params(cell)
    X = torch.randn(B, T, D, dtype=torch.float64)
    Z, _ = rollout(cell, p, X)
    Zp = torch.cat([torch.zeros(B, 1, H, dtype=torch.float64), Z[:, :-1]], 1)
    lin = cell.parameter_linearization(p, Zp, X)
    ref = AutodiffParameterLinearization(cell, p, Zp, X)
    if chunk_bytes is not None:        # force many row chunks
        lin.chunk_bytes = chunk_bytes
        assert len(lin._chunks(3)) > 1
    g = torch.Generator().manual_seed(1)
    tangents = {n: torch.randn(3, *v.shape, generator=g, dtype=torch.float64) for n, v in p.items()}
    assert torch.allclose(lin.jvp(tangents), ref.jvp(tangents), atol=1e-13)
    U = torch.randn(3, B, T, H, generator=g, dtype=torch.float64)
    got, want = lin.vjp(U), ref.vjp(U)
    assert set(got) == set(want)
    for n in want:
        assert torch.allclose(got[n], want[n], atol=1e-12), n
