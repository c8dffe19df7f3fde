"""``propagate_gram`` (P V's images summed into their Gram, not kept) against the Gram of an
independent dense recurrence, float64, every form, ring sizes 2 to T, late-starting probes;
and ``Propagator.rmatmat_gram`` and the P P* axis measure through it."""

import pytest
import torch
from test_structured_propagate import _dense_propagate, _forms, _layouts, _probes, _rel, _traj

import kpflow_sk.cells._materialized as materialized
from kpflow_sk import linalg
from kpflow_sk.operators import kp_operators


def _gram(R):
    F = R.movedim(0, -1).reshape(-1, R.shape[0])
    return F.T @ F


@pytest.mark.parametrize("name", ["gru", "rnn", "node"])
@pytest.mark.parametrize("kind", ["dense", "late", "gaps"])
@pytest.mark.parametrize("adjoint", [False, True])
@pytest.mark.parametrize("rows", [1, 40, 10**6])      # ring of 2 steps, of 3, of all T
def test_propagate_gram_equals_gram_of_dense_recurrence(name, kind, adjoint, rows,
                                                        monkeypatch):
    monkeypatch.setattr(materialized, "_GRAM_ROWS", rows)
    shape = (3, 7, 5)
    traj = _traj(name, shape)
    A, forms = _forms(traj)
    V0 = _probes(kind, 9, shape, seed=3)
    ref = _gram(_dense_propagate(A, V0, adjoint))
    for form_name, lin in forms.items():
        for layout, V in _layouts(V0).items():
            keep = V.clone()
            G = lin.propagate_gram(V, adjoint=adjoint)
            assert G.shape == (9, 9)
            assert torch.equal(G, G.T)
            assert _rel(G, ref) < 1e-12, (form_name, layout)
            assert torch.equal(V, keep), (form_name, layout)   # probes untouched


def test_rmatmat_gram_counts_and_equals_the_adjoint_images_gram():
    shape = (4, 12, 6)
    traj = _traj("gru", shape)
    P = kp_operators(traj)["P"]
    R = _probes("dense", 20, shape, seed=1).movedim(0, -1)        # (B, T, H, 20)
    before = P.n_applications
    G = P.rmatmat_gram(R)
    assert P.n_applications - before == 20
    ref = _gram(P.rmatmat(R).movedim(-1, 0))
    assert _rel(G, ref) < 1e-12
    with pytest.raises(ValueError, match="does not fit"):
        P.rmatmat_gram(R[:, :, :5])


@pytest.mark.parametrize("axis", ["hidden", "time", "trial"])
@pytest.mark.parametrize("strategy", ["materialized", "matrix_free"])
def test_ppt_mean_axis_rank_matches_dense(axis, strategy, monkeypatch):
    """The mean-compressed Gram of P (P P*, through rmatmat_gram) against E^T (P P*) E from
    the dense propagator matrix."""
    shape = (3, 8, 6)
    traj = _traj("gru", shape)
    traj.strategy = strategy
    ops = kp_operators(traj)
    calls = []
    fused = type(ops["P"]).rmatmat_gram
    monkeypatch.setattr(type(ops["P"]), "rmatmat_gram",
                        lambda self, R: calls.append(R.shape) or fused(self, R))
    res = linalg.effective_rank(ops["P"], axis=axis, reduce="mean", gram=True)
    assert calls, "the fused Gram was not used"
    Pd = linalg.dense_matrix(ops["P"])                             # (n, n)
    a = {"trial": 0, "time": 1, "hidden": 2}[axis]
    n_axis = shape[a]
    E = torch.zeros(*shape, n_axis, dtype=torch.float64)
    idx = [slice(None)] * 3
    for j in range(n_axis):
        idx[a] = j
        E[tuple(idx) + (j,)] = 1
    E = E.reshape(-1, n_axis)
    C = E.T @ Pd @ Pd.T @ E
    lam = torch.linalg.eigvalsh(C / (Pd.shape[0] // n_axis))
    ref = float(lam.sum() ** 2 / (lam ** 2).sum())
    assert abs(res.value - ref) / ref < 1e-10
