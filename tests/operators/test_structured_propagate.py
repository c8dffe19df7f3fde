"""``propagate`` (P and P*) of every state-linearization form against a dense recurrence, float64.

Covers the memory layouts the operators pass (probes last, probes first, time-major, no unit
stride), probe counts on both sides of the factored form's batched threshold, and probes that
start late or are zero (the materialized form skips them until they start).
"""

import pytest
import torch

from kpflow_sk.cells import (
    AutodiffLinearization,
    FactoredLinearization,
    MaterializedLinearization,
    StateLinearization,
    get_cell,
)
from kpflow_sk.operators import Trajectory, kp_operators

D = 2


def _traj(name, shape, seed=0):
    B, T, H = shape
    g = torch.Generator().manual_seed(seed)
    cell = get_cell(name, D, H)
    params = cell.init_params(g, dtype=torch.float64, init_scale=1.2)
    X = torch.randn(B, T, D, generator=g, dtype=torch.float64)
    return Trajectory(cell, params, X)


def _forms(traj):
    lin = traj._lin_free
    A = lin.dense()
    forms = {"materialized": MaterializedLinearization(A),
             "autodiff": AutodiffLinearization(traj.cell, traj.params, traj.Z_prev, traj.X)}
    if isinstance(lin, FactoredLinearization):
        forms["factored"] = lin
    return A, forms


def _dense_propagate(A, V, adjoint):
    """The recurrence written out with the dense A (B, T, H, H): independent of the forms."""
    out = torch.zeros_like(V)
    T = V.shape[2]
    steps = range(T - 1, -1, -1) if adjoint else range(T)
    r = None
    for t in steps:
        r = V[:, :, t] if r is None else V[:, :, t] + (
            torch.einsum("bji,kbj->kbi", A[:, t + 1], r) if adjoint
            else torch.einsum("bij,kbj->kbi", A[:, t], r))
        out[:, :, t] = r
    return out


def _layouts(V):
    k, b, t, h = V.shape
    big = torch.zeros(2 * k, b, t, h, dtype=V.dtype)
    big[::2] = V
    return {"probes_first": V.contiguous(),
            "probes_last": V.permute(1, 2, 3, 0).contiguous().permute(3, 0, 1, 2),
            "time_major": V.permute(2, 1, 3, 0).contiguous().permute(3, 1, 0, 2),
            "strided": big[::2]}


def _probes(kind, k, shape, seed=0):
    B, T, H = shape
    V = torch.randn(k, B, T, H, generator=torch.Generator().manual_seed(seed),
                    dtype=torch.float64)
    if kind == "late":          # probe p supported on step p % T only (the time-axis basis)
        mask = torch.zeros(k, 1, T, 1, dtype=torch.float64)
        mask[torch.arange(k), 0, torch.arange(k) % T, 0] = 1
        V = V * mask
    elif kind == "gaps":        # zero probes among started ones, and a probe starting mid-way
        V[k // 2] = 0
        V[-1, :, : T // 2] = 0
        V[-1, :, T // 2 + 1:] = 0
    return V


def _rel(a, b):
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


@pytest.mark.parametrize("name", ["gru", "rnn", "leaky_rnn", "node"])
@pytest.mark.parametrize("k", [1, 5, 9, 33])
@pytest.mark.parametrize("kind", ["dense", "late", "gaps"])
@pytest.mark.parametrize("adjoint", [False, True])
def test_propagate_equals_dense_recurrence(name, k, kind, adjoint):
    shape = (3, 6, 5)
    traj = _traj(name, shape)
    A, forms = _forms(traj)
    V0 = _probes(kind, k, shape, seed=k)
    ref = _dense_propagate(A, V0, adjoint)
    for form_name, lin in forms.items():
        for layout, V in _layouts(V0).items():
            out = lin.propagate(V, adjoint=adjoint)
            assert out.shape == V0.shape
            assert _rel(out, ref) < 1e-12, (form_name, layout)
            # the generic per-step loop (base class) agrees too
            generic = StateLinearization.propagate(lin, V, adjoint=adjoint)
            assert _rel(generic, ref) < 1e-12, (form_name, layout, "generic")


def test_zero_probes_stay_exactly_zero():
    traj = _traj("gru", (2, 7, 4))
    A, forms = _forms(traj)
    V = _probes("late", 7, (2, 7, 4))
    V[3] = 0
    for adjoint in (False, True):
        out = forms["materialized"].propagate(V, adjoint=adjoint)
        assert torch.all(out[3] == 0)
        # a probe supported on step p: P leaves steps before p zero, P* steps after p
        for p in range(7):
            if p == 3:
                continue
            zero = out[p, :, p + 1:] if adjoint else out[p, :, :p]
            assert torch.all(zero == 0)
            assert torch.any(out[p] != 0)


def test_propagator_operator_uses_propagate_at_realistic_size():
    """P and P* through the operator protocol (probes last), materialized and matrix-free,
    GRU H = 24 with 40 probes (above the materialization threshold) and 3 probes."""
    shape = (4, 15, 24)
    for strategy in ("materialized", "matrix_free", "auto"):
        traj = _traj("gru", shape)
        traj.strategy = strategy
        A = traj._lin_free.dense()
        ops = kp_operators(traj)
        for k in (3, 40):
            V0 = _probes("dense", k, shape, seed=k)
            Q = V0.movedim(0, -1)
            assert _rel(ops["P"].matmat(Q).movedim(-1, 0), _dense_propagate(A, V0, False)) < 1e-12
            assert _rel(ops["P"].rmatmat(Q).movedim(-1, 0), _dense_propagate(A, V0, True)) < 1e-12
