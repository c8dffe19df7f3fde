"""Structured K (affine-gated cells) against the generic autodiff path, float64."""

import pytest
import torch

from kpflow_sk.cells import AffineMap, AutodiffParameterLinearization, get_cell
from kpflow_sk.cells._gru import GRUCell
from kpflow_sk.cells._rnn import RNNCell
from kpflow_sk.linalg import reduce_to_axis
from kpflow_sk.operators import ParameterSpace, Trajectory, kp_operators

B, T, H, D = 3, 7, 5, 2


class NoBiasRNN(RNNCell):
    """tanh RNN without biases: every AffineMap has ``bias=None``."""

    def parameter_shapes(self):
        return {"weight_ih": (self.hidden_size, self.input_size),
                "weight_hh": (self.hidden_size, self.hidden_size)}

    def _preactivation(self, p, z_prev, x_t):
        return x_t @ p["weight_ih"].T + z_prev @ p["weight_hh"].T

    def affine_structure(self, params, z_prev, x):
        d = self._dphi(self._preactivation(params, z_prev, x)).unsqueeze(2)
        return [AffineMap("weight_hh", None, z_prev, d), AffineMap("weight_ih", None, x, d)], 0.0


class NoBiasGRU(GRUCell):
    """GRU without biases."""

    def parameter_shapes(self):
        H, D = self.hidden_size, self.input_size
        return {"weight_ih": (3 * H, D), "weight_hh": (3 * H, H)}

    def _gates(self, p, h, x):
        zero = {"bias_ih": 0.0, "bias_hh": 0.0}
        return super()._gates({**p, **zero}, h, x)

    def affine_structure(self, params, z_prev, x):
        maps, c = super().affine_structure(params, z_prev, x)
        return [AffineMap(m.weight, None, m.source, m.coef) for m in maps], c


CELLS = {
    "rnn": lambda: get_cell("rnn", D, H),
    "rnn_relu": lambda: get_cell("rnn", D, H, nonlinearity="relu"),
    "leaky_rnn": lambda: get_cell("leaky_rnn", D, H, alpha=0.3, nonlinearity="softplus"),
    "gru": lambda: get_cell("gru", D, H),
    "rnn_nobias": lambda: NoBiasRNN(D, H),
    "gru_nobias": lambda: NoBiasGRU(D, H),
}


def _traj(case, shape=(B, T, H), seed=0):
    b, t, h = shape
    g = torch.Generator().manual_seed(seed)
    cell = CELLS[case]() if shape[2] == H else type(CELLS[case]())(D, h)
    params = cell.init_params(g, dtype=torch.float64, init_scale=1.3)
    params = {n: v + 0.2 * torch.randn(v.shape, generator=g, dtype=torch.float64)
              if v.ndim == 1 else v for n, v in params.items()}
    X = torch.randn(b, t, D, generator=g, dtype=torch.float64)
    return Trajectory(cell, params, X)


def _generic_K(traj, U):
    """K U = J J* U through torch.func (the fallback every user cell takes)."""
    lin = AutodiffParameterLinearization(traj.cell, traj.params, traj.Z_prev, traj.X)
    space = ParameterSpace(traj.params)
    k = U.shape[0]
    return lin.jvp(space.unflatten(space.flatten(lin.vjp(U), k)))


def _rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


@pytest.mark.parametrize("case", list(CELLS))
@pytest.mark.parametrize("k", [1, 33])
@pytest.mark.parametrize("chunk_bytes", [256 * 1024**2, 4096])
def test_structured_K_equals_autodiff(case, k, chunk_bytes):
    traj = _traj(case)
    lin = traj.parameter_linearization
    assert lin.structured_kernel
    lin.chunk_bytes = chunk_bytes          # 4096 forces one probe per chunk
    U = torch.randn(k, B, T, H, generator=torch.Generator().manual_seed(k), dtype=torch.float64)
    ops = kp_operators(traj)
    assert ops["K"].structured
    ref = _generic_K(traj, U)
    assert _rel(lin.kernel_apply(U), ref) < 1e-10
    assert _rel(ops["K"].matmat(U.movedim(0, -1)).movedim(-1, 0), ref) < 1e-10
    # Theta = P K P* with the structured K equals (P J)(P J)* through parameter space
    PJ = ops["Theta"].PJ
    V = U.movedim(0, -1)
    assert _rel(ops["Theta"].matmat(V), PJ.matmat(PJ.rmatmat(V))) < 1e-10


@pytest.mark.parametrize("case", list(CELLS))
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_structured_axis_mean_equals_generic(case, axis):
    traj = _traj(case, shape=(4, 9, 6))
    K = kp_operators(traj)["K"]
    J = kp_operators(traj)["J"]
    ref = reduce_to_axis(J, axis, "mean", gram=True).matrix         # E^T J J* E / M
    assert _rel(K.axis_mean(axis), ref) < 1e-10
    if axis == 2:
        ref2 = reduce_to_axis(K, axis, "mean", gram=True).matrix    # E^T K K* E / M
        assert _rel(K.axis_mean(axis, square=True), ref2) < 1e-10
    else:
        assert K.axis_mean(axis, square=True) is None


def test_user_cell_keeps_generic_path():
    traj = Trajectory(get_cell("node", D, H, solver="rk4", dt=0.5, step_size=0.25),
                      get_cell("node", D, H, solver="rk4", dt=0.5, step_size=0.25)
                      .init_params(torch.Generator().manual_seed(0), dtype=torch.float64),
                      torch.randn(2, 4, D, dtype=torch.float64))
    K = kp_operators(traj)["K"]
    assert not K.structured and K.axis_mean(2) is None


def _layouts(U):
    """The same probes (k, B, T, H) in four memory layouts (all logical views of U)."""
    k, b, t, h = U.shape
    big = torch.zeros(2 * k, b, t, h, dtype=U.dtype)
    big[::2] = U
    return {
        "probes_first": U.contiguous(),
        "probes_last": U.permute(1, 2, 3, 0).contiguous().permute(3, 0, 1, 2),
        "time_major": U.permute(2, 1, 3, 0).contiguous().permute(3, 1, 0, 2),
        "strided": big[::2],                      # no unit stride along probes or hidden
    }


@pytest.mark.parametrize("case", ["gru", "rnn", "leaky_rnn", "gru_nobias"])
@pytest.mark.parametrize("block_columns", [1, 64, 4096])
def test_structured_K_layouts_and_blocks(case, block_columns, monkeypatch):
    """Every memory layout and block width (1: one unit or probe per block) gives the same K U,
    equal to autodiff J J*, at a size with many blocks."""
    import kpflow_sk.cells._structured_kernel as sk

    monkeypatch.setattr(sk, "_BLOCK_COLUMNS", block_columns)
    traj = _traj(case, shape=(4, 6, 11))
    U = torch.randn(9, 4, 6, 11, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    ref = _generic_K(traj, U)
    K = traj.parameter_linearization.kernel
    for name, V in _layouts(U).items():
        out = K.apply(V)
        assert out.shape == U.shape
        assert _rel(out, ref) < 1e-10, name


def test_structured_K_realistic_size():
    """GRU with H = 40 and 33 probes: multi-block paths (units and probes) against autodiff."""
    traj = _traj("gru", shape=(5, 12, 40))
    U = torch.randn(33, 5, 12, 40, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    ref = _generic_K(traj, U)
    K = traj.parameter_linearization.kernel
    for V in _layouts(U).values():
        assert _rel(K.apply(V), ref) < 1e-10
    # r, z and hidden-n share M = [z, x, 1] (S = H + D + 1); input-n reads [x, 1] alone
    assert K.flops_per_probe == 4 * 5 * 12 * 40 * (3 * (40 + D + 1) + D + 1)


def test_structured_K_float32_matches_float64():
    traj = _traj("gru", shape=(3, 7, 16))
    traj32 = Trajectory(traj.cell, {n: v.float() for n, v in traj.params.items()}, traj.X.float())
    U = torch.randn(5, 3, 7, 16, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    ref = traj.parameter_linearization.kernel_apply(U)
    out = traj32.parameter_linearization.kernel_apply(U.float())
    assert out.dtype == torch.float32
    assert _rel(out.double(), ref) < 1e-5
