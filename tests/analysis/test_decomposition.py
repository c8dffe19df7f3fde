"""KPDecomposition against dense autograd references (float64, small models)."""

import numpy as np
import pytest
import torch
from kp_models import float64_params
from kp_reference import dense_J, dense_JZ, dense_P, unroll

from kpflow_sk import KPDecomposition
from kpflow_sk.cells import get_cell

B, T, H, D = 3, 5, 4, 2


def _setup(cell_name="gru", seed=0, **kw):
    g = torch.Generator().manual_seed(seed)
    cell = get_cell(cell_name, D, H, solver="rk4")
    params = float64_params(cell, g, init_scale=1.3, biases_only=False)
    X = torch.randn(B, T, D, generator=g, dtype=torch.float64)
    W = torch.randn(2, H, generator=g, dtype=torch.float64)
    Y = torch.randn(B, T, 2, generator=g, dtype=torch.float64)
    mask = torch.rand(B, T, generator=g, dtype=torch.float64)

    def loss_fn(Z):
        return (mask[..., None] * (Z @ W.T - Y) ** 2).sum() / mask.sum()

    Dec = KPDecomposition(cell, params, X, loss_fn=loss_fn, random_state=0, **kw)
    return cell, params, X, loss_fn, Dec


def _rel(a, b):
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    return float((a - b).abs().max() / b.abs().max())


@pytest.mark.parametrize("cell_name", ["rnn", "gru", "leaky_rnn", "node"])
def test_err_adjoint_dz(cell_name):
    cell, params, X, loss_fn, Dec = _setup(cell_name)
    Zl = Dec.Z.clone().requires_grad_(True)
    (err,) = torch.autograd.grad(loss_fn(Zl), Zl)
    assert _rel(Dec.err, err) < 1e-14
    eps = torch.zeros(B, T, H, dtype=torch.float64, requires_grad=True)
    (bptt,) = torch.autograd.grad(loss_fn(unroll(cell, params, X, None, eps)), eps)
    assert _rel(Dec.adjoint, bptt) < 1e-12
    JZ = dense_JZ(cell, params, X, None)
    assert _rel(Dec.dz.reshape(-1), -(JZ @ (JZ.T @ err.reshape(-1)))) < 1e-11


def _dense_gram(name, cell, params, Dec):
    Pd = dense_P(cell, params, Dec.X, None)
    Jd = dense_J(cell, params, Dec.trajectory.Z_prev, Dec.X, None)
    return {"K": Jd @ Jd.T, "P": Pd @ Pd.T, "Theta": Pd @ Jd @ Jd.T @ Pd.T}[name]


def _pr(G):
    ev = torch.linalg.eigvalsh(G).clamp_min(0)
    return float(ev.sum() ** 2 / (ev**2).sum())


@pytest.mark.parametrize("name", ["K", "P", "Theta"])
def test_effective_rank_matches_dense(name):
    cell, params, X, _, Dec = _setup()
    G = _dense_gram(name, cell, params, Dec)
    assert abs(Dec.effective_rank(name) - _pr(G)) < 1e-8 * _pr(G)
    G4 = G.reshape(B, T, H, B, T, H)
    # time axis, reduce="mean": inputs constant over trials and hidden, outputs averaged
    Gt = G4.sum(dim=(0, 2, 3, 5)) / (B * H)
    assert abs(Dec.effective_rank(name, axis="time", reduce="mean") - _pr(Gt)) < 1e-8
    # hidden axis, reduce="trace": partial trace over (trial, time)
    Gh = torch.einsum("btibtj->ij", G4)
    assert abs(Dec.effective_rank(name, axis="hidden", reduce="trace") - _pr(Gh)) < 1e-8
    assert Dec.collapse_dim() == pytest.approx(Dec.effective_rank("Theta"))


def test_randomized_effective_rank_close_to_exact():
    _, _, _, _, Dec = _setup()
    exact = Dec.effective_rank("Theta", exact=True)
    approx = Dec.effective_rank("Theta", exact=False, n_applications=60)
    assert abs(approx - exact) < 0.05 * exact


def test_task_alignment_matches_dense():
    cell, params, X, loss_fn, _ = _setup()
    labels = np.array(["b", "a", "b"])
    Dec = KPDecomposition(cell, params, X, loss_fn=loss_fn, task_ids=labels)
    A = Dec.task_alignment()
    assert A.shape == (2, 2)
    assert np.allclose(A, A.T) and np.allclose(np.diag(A), 1)
    JZ = dense_JZ(cell, params, X, None)
    Theta = JZ @ JZ.T
    dzs = []
    for lab in ("a", "b"):                       # sorted label order
        e = Dec.err.clone()
        e[torch.as_tensor(labels != lab)] = 0
        dzs.append(-(Theta @ e.reshape(-1)))
    cos = float(dzs[0] @ dzs[1] / (dzs[0].norm() * dzs[1].norm()))
    assert A[0, 1] == pytest.approx(cos, abs=1e-10)
    assert KPDecomposition(cell, params, X, loss_fn=loss_fn).task_alignment() is None


def test_history_record_and_table():
    _, _, _, _, Dec = _setup()
    rec = Dec.history_record()
    for key in ("rank_K", "rank_P", "rank_Theta", "rank_K_time", "rank_P_time",
                "rank_Theta_time", "collapse_dim"):
        assert np.isfinite(rec[key]) and rec[key] >= 1 - 1e-9
    rows = Dec.table(names=("K",), methods=("pr",))
    assert len(rows) == 1 + 3 * 2
    assert Dec.summary()["n_params"] == Dec.trajectory.parameter_space.size


def test_bad_input():
    cell, params, X, loss_fn, Dec = _setup()
    with pytest.raises(ValueError, match="task_ids must have shape"):
        KPDecomposition(cell, params, X, loss_fn=loss_fn, task_ids=[0, 1])
    with pytest.raises(ValueError, match="err must have the shape of Z"):
        KPDecomposition(cell, params, X, err=torch.zeros(B, T, H + 1))
    with pytest.raises(ValueError, match="unknown operator 'Q'"):
        Dec.effective_rank("Q")
    with pytest.raises(ValueError, match="X contains NaN"):
        KPDecomposition(cell, params, X * float("nan"))


def test_factor_asks_the_operator_for_its_root():
    *_, Dec = _setup("gru")
    # "default": K, P P*, Theta are Grams; their measure goes through the root
    assert Dec.factor("K") is Dec.J and Dec.factor("PPt") is Dec.P
    assert Dec.factor("Theta") is Dec.Theta.root and Dec.factor("P") is Dec.P
    # the whole-space measure takes the smaller side: J itself while n_params > B T H ...
    assert Dec.J.in_shape[0] == 96 > B * T * H
    assert Dec.factor("K", smaller_side=True) is Dec.J
    # ... and J* on 10 trials (B T H = 200 > 96)
    cell = get_cell("gru", D, H)
    big = KPDecomposition(cell, cell.init_params(torch.Generator().manual_seed(1),
                                                 dtype=torch.float64),
                          torch.randn(10, T, D, dtype=torch.float64))
    side = big.factor("K", smaller_side=True)
    assert side.T is big.J and side.in_shape == (10, T, H)
    assert big.factor("Theta", smaller_side=True).T is big.Theta.root
    # "reference" / "figure": the Gram of the operator itself (K^2, Theta^2)
    assert Dec.factor("Theta", "reference") is Dec.Theta
    G = Dec.factor("Theta").to_dense()
    assert _rel(Dec.Theta.to_dense(), G @ G.T) < 1e-12
    with pytest.raises(ValueError, match="unknown operator 'Pinv'"):
        Dec.factor("Pinv")
