"""``precision="medium"`` (bfloat16 GEMMs in the structured K) against float64 autodiff."""

import pytest
import torch

from kpflow_sk.analysis import KPDecomposition
from kpflow_sk.cells import AutodiffParameterLinearization, get_cell
from kpflow_sk.linalg import effective_rank
from kpflow_sk.operators import PRECISIONS, ParameterSpace, Trajectory, kp_operators

B, T, D = 3, 9, 2
CELLS = {
    "rnn": lambda h: get_cell("rnn", D, h),
    "leaky_rnn": lambda h: get_cell("leaky_rnn", D, h, alpha=0.3, nonlinearity="softplus"),
    "gru": lambda h: get_cell("gru", D, h),
}


def _model(case, H=6, seed=0):
    """float64 parameters and inputs (non-zero biases) of one cell."""
    g = torch.Generator().manual_seed(seed)
    cell = CELLS[case](H)
    params = cell.init_params(g, dtype=torch.float64, init_scale=1.3)
    params = {n: v + 0.2 * torch.randn(v.shape, generator=g, dtype=torch.float64)
              if v.ndim == 1 else v for n, v in params.items()}
    return cell, params, torch.randn(B, T, D, generator=g, dtype=torch.float64)


def _dense_K(traj, U):
    """K U = J J* U through torch.func, float64 (independent of the structured path)."""
    lin = AutodiffParameterLinearization(traj.cell, traj.params, traj.Z_prev, traj.X)
    space = ParameterSpace(traj.params)
    return lin.jvp(space.unflatten(space.flatten(lin.vjp(U), U.shape[0])))


def _float32(params, X):
    return {n: v.float() for n, v in params.items()}, X.float()


@pytest.mark.parametrize("case", list(CELLS))
@pytest.mark.parametrize("k", [1, 33])
def test_medium_K_is_bfloat16_accurate(case, k):
    cell, p64, X64 = _model(case)
    U = torch.randn(k, B, T, cell.hidden_size, generator=torch.Generator().manual_seed(1),
                    dtype=torch.float64)
    exact = _dense_K(Trajectory(cell, p64, X64), U)
    p32, X32 = _float32(p64, X64)
    ops = kp_operators(Trajectory(cell, p32, X32), precision="medium")
    assert ops["K"].gemm_dtype == torch.bfloat16
    got = (ops["K"] @ U.float().movedim(0, -1)).movedim(-1, 0).double()
    err = float((got - exact).norm() / exact.norm())
    # bfloat16 keeps 8 significant bits (relative rounding 2^-9 = 2e-3 per operand)
    assert 1e-5 < err < 2e-2      # (above 1e-5: the bfloat16 path really ran)
    # and it is really the low-precision path: float32 "highest" is ~1e-7 from float64
    high = kp_operators(Trajectory(cell, p32, X32))["K"]
    got_high = (high @ U.float().movedim(0, -1)).movedim(-1, 0).double()
    assert float((got_high - exact).norm() / exact.norm()) < 1e-5


def test_medium_leaves_float64_exact():
    cell, p64, X64 = _model("gru")
    traj = Trajectory(cell, p64, X64)
    med, high = kp_operators(traj, precision="medium"), kp_operators(traj)
    assert med["K"].gemm_dtype is None
    U = torch.randn(B, T, cell.hidden_size, 5, dtype=torch.float64)
    assert torch.equal(med["Theta"] @ U, high["Theta"] @ U)


def test_medium_measures_within_tolerance():
    """Hidden-axis rank of Theta (Theta^2, mean) and K's: medium float32 vs float64 exact."""
    cell, p64, X64 = _model("gru", H=16)
    exact = KPDecomposition(cell, p64, X64)
    p32, X32 = _float32(p64, X64)
    med = KPDecomposition(cell, p32, X32, precision="medium")
    assert med.precision == "medium"
    for name in ("Theta", "K"):
        e = effective_rank(exact.operator(name), axis="hidden", reduce="mean", gram=True)
        m = effective_rank(med.operator(name), axis="hidden", reduce="mean", gram=True)
        assert abs(m.value - e.value) / e.value < 1e-2, name


@pytest.mark.parametrize("bad", ["low", "bf16", None, "HIGHEST"])
def test_precision_is_checked(bad):
    cell, p64, X64 = _model("rnn")
    with pytest.raises(ValueError, match="precision"):
        kp_operators(Trajectory(cell, p64, X64), precision=bad)
    assert set(PRECISIONS) == {"highest", "medium"}
