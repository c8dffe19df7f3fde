"""Fixed and slow points: exact answers on linear and hand-set systems, autograd Jacobians,
bad input, non-convergence."""

import numpy as np
import pytest
import torch
from dynamics_models import CELL_CASES, LinearCell, model, normal_matrix
from sklearn.exceptions import ConvergenceWarning
from torch.autograd.functional import jacobian

from kpflow_sk.cells import get_cell
from kpflow_sk.dynamics import find_fixed_points, sample_initial_states

F64 = torch.float64


def _linear(H=5, seed=0):
    cell = LinearCell(2, H)
    g = torch.Generator().manual_seed(seed)
    W = normal_matrix(H, [0.95, 0.8, 0.6, 0.3, 0.1][:H], seed=seed)
    W = W + 0.3 * torch.randn(H, H, generator=g, dtype=F64) / H   # not normal: fine here
    params = {"weight_hh": W, "weight_ih": torch.randn(H, 2, generator=g, dtype=F64),
              "bias": torch.randn(H, generator=g, dtype=F64)}
    return cell, params


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
@pytest.mark.parametrize("scale", [0.01, 10.0, 1000.0])
def test_linear_cell_one_fixed_point_from_any_start(optimizer, scale):
    cell, p = _linear()
    H = cell.hidden_size
    x = torch.tensor([0.3, -1.2], dtype=F64)
    b = p["weight_ih"] @ x + p["bias"]
    z_star = torch.linalg.solve(torch.eye(H, dtype=F64) - p["weight_hh"], b)
    g = torch.Generator().manual_seed(1)
    starts = scale * torch.randn(40, H, generator=g, dtype=F64)
    # any start: also far from z* or all near one spot (no outlier filter)
    fps = find_fixed_points(cell, p, x, starts, optimizer=optimizer, max_iter=300,
                            outlier_scale=None)
    assert len(fps) == 1 and fps.n_converged == 40
    assert fps.n_inits[0] == 40
    np.testing.assert_allclose(fps.states[0], z_star.numpy(), atol=1e-8, rtol=0)
    ev_ref = np.linalg.eigvals(p["weight_hh"].numpy())
    np.testing.assert_allclose(np.sort_complex(fps.eigenvalues[0]), np.sort_complex(ev_ref),
                               atol=1e-10)
    np.testing.assert_allclose(fps.jacobians[0], p["weight_hh"].numpy(), atol=1e-12)
    assert list(fps.labels) == ["stable"] and fps.q[0] <= 1e-20


def test_linear_cell_unstable_point_is_labelled_unstable():
    cell, p = _linear(H=3)
    p["weight_hh"] = 1.5 * torch.eye(3, dtype=F64) + 0.1 * p["weight_hh"]
    fps = find_fixed_points(cell, p, None, torch.randn(10, 3, dtype=F64))
    assert list(fps.labels) == ["unstable"] and fps.n_unstable[0] == 3


def _bistable_rnn():
    """z' = tanh(W z), W = diag(2, 0.5): stable (+-z*, 0), saddle (0, 0) with one unstable
    mode, where z* solves tanh(2 z) = z."""
    cell = get_cell("rnn", 1, 2)
    p = {"weight_hh": torch.diag(torch.tensor([2.0, 0.5], dtype=F64)),
         "weight_ih": torch.zeros(2, 1, dtype=F64), "bias_ih": torch.zeros(2, dtype=F64),
         "bias_hh": torch.zeros(2, dtype=F64)}
    z = torch.tensor(1.0, dtype=F64)
    for _ in range(200):                              # Newton on tanh(2z) - z
        z = z - (torch.tanh(2 * z) - z) / (2 * (1 - torch.tanh(2 * z) ** 2) - 1)
    return cell, p, float(z)


def test_two_dimensional_system_two_stable_points_and_a_saddle():
    cell, p, zs = _bistable_rnn()
    grid = torch.linspace(-1.5, 1.5, 9, dtype=F64)
    starts = torch.cartesian_prod(grid, grid)
    fps = find_fixed_points(cell, p, [0.0], starts)
    assert fps.n_converged == len(starts)
    assert fps.counts() == {"stable": 2, "saddle": 1, "unstable": 0, "slow": 0}
    order = np.argsort(fps.states[:, 0])
    np.testing.assert_allclose(fps.states[order], [[-zs, 0], [0, 0], [zs, 0]], atol=1e-10)
    assert list(fps.labels[order]) == ["stable", "saddle", "stable"]
    assert list(fps.n_unstable[order]) == [0, 1, 0]
    # saddle eigenvalues 2 and 0.5; stable ones 2 (1 - z*^2) and 0.5
    sad = fps.eigenvalues[order[1]]
    np.testing.assert_allclose(sad, [2.0, 0.5], atol=1e-10)
    np.testing.assert_allclose(fps.eigenvalues[order[0]], [0.5, 2 * (1 - zs**2)], atol=1e-10)
    frame = fps.to_frame()
    assert sorted(frame["label"]) == ["saddle", "stable", "stable"]
    assert frame["n_inits"].sum() == len(starts)


def _reference_jacobian(cell, params, x, z, continuous):
    if continuous:
        return jacobian(cell.vector_field_fn(params, x[None]), z[None])[0, :, 0]
    aux = cell.prepare(params, z[None], x[None])
    return jacobian(lambda zz: cell.step(params, zz, x[None], aux), z[None])[0, :, 0]


@pytest.mark.parametrize("case", list(CELL_CASES))
def test_jacobians_equal_autograd_at_the_points(case):
    cell, p = model(case, init_scale=0.6)
    x = torch.tensor([0.4, -0.2], dtype=F64)
    g = torch.Generator().manual_seed(3)
    starts = torch.randn(12, cell.hidden_size, generator=g, dtype=F64)
    fps = find_fixed_points(cell, p, x, starts, max_iter=400)
    assert len(fps) >= 1 and fps.n_converged == 12
    continuous = case.startswith("node")
    assert fps.continuous is continuous
    for z, J in zip(fps.states, fps.jacobians):
        ref = _reference_jacobian(cell, p, x, torch.as_tensor(z), continuous)
        np.testing.assert_allclose(J, ref.numpy(), atol=1e-11, rtol=1e-9)
        np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(ref.numpy())),
                                   np.sort_complex(fps.eigenvalues[fps.states.tolist().index(
                                       z.tolist())]), atol=1e-9)
        # a real fixed point: F(z) = z (f(z) = 0)
        zt = torch.as_tensor(z)[None]
        if continuous:
            r = cell.vector_field_fn(p, x[None])(zt)
        else:
            r = cell.step(p, zt, x[None], cell.prepare(p, zt, x[None])) - zt
        assert float(r.abs().max()) < 1e-6


def test_float32_parameters_are_searched_in_float64():
    cell, p = model("gru", init_scale=0.6)
    p32 = {k: v.float() for k, v in p.items()}
    fps = find_fixed_points(cell, p32, [0.0, 0.0], torch.randn(6, 4))
    assert fps.states.dtype == np.float64 and fps.n_converged == 6


def test_slow_points_are_kept_with_slow_tol_and_labelled():
    # z' = z + eps - z^3/3 ... in 1-D: F(z) = z + 0.05 + 0.2 * (z^2 - 1)^2 - 0.2 has no root
    # near z = 1 when shifted; use a user cell with a ghost (saddle-node just past bifurcation)
    class Ghost(LinearCell):
        def parameter_shapes(self):
            return {"c": (1,)}

        def step(self, params, z_prev, x_t, aux=None):
            return z_prev + params["c"] + z_prev ** 2

    cell = Ghost(1, 1)
    p = {"c": torch.tensor([1e-3], dtype=F64)}       # q(z) minimum 1/2 c^2 at z = 0
    starts = torch.tensor([[-0.3], [0.2], [0.05]], dtype=F64)
    with pytest.warns(ConvergenceWarning, match="0 of 3"):
        none = find_fixed_points(cell, p, [0.0], starts)
    assert len(none) == 0 and none.n_converged == 0
    with pytest.warns(ConvergenceWarning):
        slow = find_fixed_points(cell, p, [0.0], starts, slow_tol=1e-5)
    assert len(slow) == 1 and list(slow.labels) == ["slow"]
    np.testing.assert_allclose(slow.states[0], [0.0], atol=1e-6)
    np.testing.assert_allclose(slow.q[0], 0.5e-6, rtol=1e-4)


def test_unconverged_search_says_how_many_met_the_tolerance():
    cell, p = model("gru", init_scale=0.6)
    starts = torch.randn(10, 4, dtype=F64)
    starts[:3] = torch.as_tensor(find_fixed_points(cell, p, [0.0, 0.0], starts[:1]).states[0])
    with pytest.warns(ConvergenceWarning, match=r"3 of 10 fixed-point searches met"):
        fps = find_fixed_points(cell, p, [0.0, 0.0], starts, max_iter=0, refine_steps=0)
    assert fps.n_converged == 3 and len(fps) == 1


@pytest.mark.parametrize("bad, match", [
    (dict(x=[0.0]), r"x must be one constant input of shape \(2,\)"),
    (dict(x=np.zeros((2, 2))), r"x must be one constant input"),
    (dict(x=[np.nan, 0.0]), r"x contains NaN"),
    (dict(initial_states=np.full((3, 4), np.inf)), r"initial_states contains NaN or inf"),
    (dict(initial_states=np.zeros((3, 5))), r"initial_states must have shape"),
    (dict(n_inits=0), r"n_inits must be an integer >= 1"),
    (dict(noise=-1.0), r"noise must be"),
    (dict(optimizer="sgd"), r"unknown optimizer"),
])
def test_bad_input_raises_value_error_naming_it(bad, match):
    cell, p = model("gru")
    kw = dict(x=[0.0, 0.0], initial_states=np.zeros((3, 4)))
    kw.update(bad)
    with pytest.raises(ValueError, match=match):
        find_fixed_points(cell, p, kw.pop("x"), kw.pop("initial_states"), **kw)


def test_n_inits_and_noise_draw_reproducibly_from_trajectories():
    cell, p = model("rnn", init_scale=0.6)
    Z = torch.randn(3, 7, 4, dtype=F64)
    a = sample_initial_states(Z, 5, noise=0.1, random_state=0)
    b = sample_initial_states(Z, 5, noise=0.1, random_state=0)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (5, 4)
    with pytest.raises(ValueError, match="n_inits"):
        sample_initial_states(Z, 0)
    fps = find_fixed_points(cell, p, [0.0, 0.0], Z, n_inits=6, noise=0.05, random_state=0)
    assert fps.n_initial_states == 6


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_realistic_size_gru_batch():
    # the batched path at a size where the searches differ a lot (many inits, H = 32)
    cell = get_cell("gru", 3, 32)
    p = cell.init_params(torch.Generator().manual_seed(0), dtype=F64, init_scale=1.5)
    Z = torch.randn(128, 32, dtype=F64)
    fps = find_fixed_points(cell, p, [0.0, 0.0, 0.0], Z, slow_tol=1e-6, max_iter=300)
    assert len(fps) >= 1
    fixed = fps.select(fps.q <= fps.tol)
    for z, J in zip(fixed.states, fixed.jacobians):
        ref = _reference_jacobian(cell, p, torch.zeros(3, dtype=F64), torch.as_tensor(z), False)
        np.testing.assert_allclose(J, ref.numpy(), atol=1e-10)
    # unique: no two points closer than unique_tol
    S = fps.states
    d = np.linalg.norm(S[:, None] - S[None], axis=-1) + np.eye(len(S)) * 1e9
    assert d.min() > 1e-3


def test_far_away_points_are_dropped_as_outliers():
    # a linear map whose fixed point lies far outside the initial states
    cell, p = _linear(H=3)
    p["weight_hh"] = 0.5 * torch.eye(3, dtype=F64)
    p["bias"] = torch.tensor([50.0, 0.0, 0.0], dtype=F64)     # z* = (100, 0, 0)
    starts = torch.randn(20, 3, generator=torch.Generator().manual_seed(0), dtype=F64)
    fps = find_fixed_points(cell, p, None, starts)
    assert len(fps) == 0 and fps.n_outliers == 20 and fps.n_converged == 20
    kept = find_fixed_points(cell, p, None, starts, outlier_scale=None)
    np.testing.assert_allclose(kept.states, [[100.0, 0.0, 0.0]], atol=1e-9)


def test_node_flow_fixed_points_use_the_vector_field_and_the_imaginary_axis():
    # f(z) = -z + W tanh(z) with W = diag(2, 0.5): zeros (0, 0) (a saddle: df/dz = W - I has
    # eigenvalues 1, -0.5) and (+-z*, 0) with 2 tanh(z*) = z* (stable)
    cell = get_cell("node", 1, 2, solver="rk4", dt=0.5)
    p = {"weight_hh": torch.diag(torch.tensor([2.0, 0.5], dtype=F64)),
         "weight_ih": torch.zeros(2, 1, dtype=F64), "bias": torch.zeros(2, dtype=F64)}
    grid = torch.linspace(-2.5, 2.5, 7, dtype=F64)
    fps = find_fixed_points(cell, p, [0.0], torch.cartesian_prod(grid, grid))
    assert fps.continuous and fps.counts()["stable"] == 2 and fps.counts()["saddle"] == 1
    order = np.argsort(fps.states[:, 0])
    zs = fps.states[order[2], 0]
    np.testing.assert_allclose(2 * np.tanh(zs), zs, atol=1e-12)        # f(z*) = 0
    sad = np.sort(fps.eigenvalues[order[1]].real)
    np.testing.assert_allclose(sad, [0.5 - 1.0, 2.0 - 1.0], atol=1e-12)   # df/dz = -I + W
    assert (fps.eigenvalues[order[0]].real < 0).all()
