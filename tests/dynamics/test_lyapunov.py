"""Lyapunov spectra (Benettin QR): exact for normal linear maps, equal to a dense autograd
reference for every built-in cell and a user cell."""

import numpy as np
import pytest
import torch
from dynamics_models import CELL_CASES, LinearCell, model, normal_matrix
from torch.autograd.functional import jacobian

from kpflow_sk.cells import rollout
from kpflow_sk.dynamics import lyapunov_spectrum

F64 = torch.float64


def _linear(W, D=1):
    H = W.shape[0]
    cell = LinearCell(D, H)
    g = torch.Generator().manual_seed(5)
    return cell, {"weight_hh": W, "weight_ih": torch.randn(H, D, generator=g, dtype=F64),
                  "bias": torch.randn(H, generator=g, dtype=F64)}


@pytest.mark.parametrize("rotation", [False, True])
@pytest.mark.parametrize("strategy", ["materialized", "matrix_free"])
def test_normal_linear_map_exponents_are_log_abs_eigenvalues(rotation, strategy):
    moduli = [1.3, 1.3, 0.9, 0.5, 0.5, 0.2] if rotation else [1.3, 1.1, 0.9, 0.5, 0.3, 0.2]
    W = normal_matrix(6, moduli, seed=2, rotation=rotation)
    ref = np.sort(np.log(np.abs(np.linalg.eigvals(W.numpy()))))[::-1]
    np.testing.assert_allclose(sorted(np.log(moduli))[::-1], ref, atol=1e-12)
    cell, p = _linear(W)
    X = torch.randn(3, 400, 1, dtype=F64)          # input-driven: a linear map ignores it
    spec = lyapunov_spectrum(cell, p, X, burn_in=150, strategy=strategy)
    assert spec.exponents.shape == (3, 6) and spec.local.shape == (3, 400, 6)
    np.testing.assert_allclose(spec.exponents, np.broadcast_to(ref, (3, 6)), atol=1e-6)
    np.testing.assert_allclose(spec.mean, ref, atol=1e-6)
    assert spec.running().shape == (3, 250, 6)


def test_leading_k_exponents_only():
    W = normal_matrix(6, [1.3, 1.1, 0.9, 0.5, 0.3, 0.2], seed=2)
    cell, p = _linear(W)
    spec = lyapunov_spectrum(cell, p, torch.zeros(2, 300, 1, dtype=F64), k=2, burn_in=100)
    np.testing.assert_allclose(spec.mean, np.log([1.3, 1.1]), atol=1e-6)


def _dense_benettin(cell, params, X, k, Q0, burn_in):
    """Independent reference: autograd Jacobians along the rollout, numpy QR."""
    Z, aux = rollout(cell, params, X)
    B, T, H = Z.shape
    Zp = torch.cat([torch.zeros(B, 1, H, dtype=F64), Z[:, :-1]], 1)
    out = np.zeros((B, k))
    for b in range(B):
        Q = Q0.copy()
        acc = np.zeros(k)
        for t in range(T):
            a = None if aux is None else aux[b:b + 1, t]
            A = jacobian(lambda z: cell.step(params, z, X[b:b + 1, t], a), Zp[b:b + 1, t])
            Q, R = np.linalg.qr(A[0, :, 0].numpy() @ Q)
            if t >= burn_in:
                acc += np.log(np.abs(np.diag(R)))
        out[b] = np.sort(acc / (T - burn_in))[::-1]
    return out


@pytest.mark.parametrize("case", list(CELL_CASES))
def test_every_cell_matches_a_dense_autograd_reference(case):
    cell, p = model(case)
    H = cell.hidden_size
    X = torch.randn(2, 25, 2, generator=torch.Generator().manual_seed(1), dtype=F64)
    k = 3
    spec = lyapunov_spectrum(cell, p, X, k=k, burn_in=5, random_state=4)
    G = torch.randn(H, k, generator=torch.Generator().manual_seed(4), dtype=F64)
    Q0 = torch.linalg.qr(G).Q.numpy()
    ref = _dense_benettin(cell, p, X, k, Q0, 5)
    np.testing.assert_allclose(spec.exponents, ref, atol=1e-9)


@pytest.mark.parametrize("bad, match", [
    (dict(k=0), r"k must be an integer in \[1, 4\]"),
    (dict(k=5), r"k must be"),
    (dict(burn_in=30), r"burn_in must be"),
    (dict(X=np.zeros((2, 30))), r"X must have shape \(B, T, D\)"),
    (dict(X=np.full((2, 30, 2), np.nan)), r"X contains NaN"),
    (dict(Z=np.full((2, 30, 4), np.inf)), r"Z contains NaN or inf"),
    (dict(h0=np.full((2, 4), np.nan)), r"h0 contains NaN or inf"),
    (dict(h0=np.zeros((3, 4))), r"h0 must have shape"),
])
def test_bad_input(bad, match):
    cell, p = model("gru")
    kw = dict(X=np.zeros((2, 30, 2)))
    kw.update(bad)
    with pytest.raises(ValueError, match=match):
        lyapunov_spectrum(cell, p, kw.pop("X"), **kw)


@pytest.mark.parametrize("name", ["rnn", "leaky_rnn", "gru"])
@pytest.mark.parametrize("k", [3, 10])
@pytest.mark.parametrize("strategy", ["matrix_free", "materialized"])
def test_factored_cells_dense_step_and_matrix_free_paths(name, k, strategy):
    # H = 10: k >= 8 takes the per-step dense path of the analytic factored A_t
    from kpflow_sk.cells import get_cell

    cell = get_cell(name, 2, 10)
    p = cell.init_params(torch.Generator().manual_seed(3), dtype=F64, init_scale=1.5)
    X = torch.randn(2, 20, 2, generator=torch.Generator().manual_seed(1), dtype=F64)
    spec = lyapunov_spectrum(cell, p, X, k=k, burn_in=3, random_state=2, strategy=strategy)
    G = torch.randn(10, k, generator=torch.Generator().manual_seed(2), dtype=F64)
    ref = _dense_benettin(cell, p, X, k, torch.linalg.qr(G).Q.numpy(), 3)
    np.testing.assert_allclose(spec.exponents, ref, atol=1e-9)
