"""hutchpp_trace, trace_of_square, frobenius_norm against dense traces."""

import math

import pytest
import torch
from linalg_helpers import ShapedOperator, psd_matrix

from kpflow_sk.linalg import frobenius_norm, hutchpp_trace, trace_of_square


@pytest.mark.parametrize("seed", range(10))
def test_hutchpp_within_one_percent_with_30_applications(decaying_1000, seed):
    # Acceptance: 1000-dim PSD, eigenvalues 1/i^2, random eigenvectors, <= 30 applications.
    G, lam = decaying_1000
    est = hutchpp_trace(G, 30, random_state=seed)
    assert not est.exact and est.n_applications <= 30
    assert abs(est.value / lam.sum().item() - 1) < 0.01


def test_hutchpp_classic_sketch_is_unbiased_and_counted(decaying_1000):
    G, lam = decaying_1000
    values = [hutchpp_trace(G, 30, random_state=s, sketch="classic") for s in range(20)]
    assert all(v.n_applications == 30 and v.method == "hutch++-classic" for v in values)
    mean = sum(v.value for v in values) / len(values)
    assert abs(mean / lam.sum().item() - 1) < 0.01


def test_hutchpp_counts_every_probe_column():
    G = psd_matrix(torch.linspace(1.0, 0.01, 60) ** 3, seed=2)
    op = ShapedOperator(G, (3, 4, 5), (3, 4, 5))
    est = hutchpp_trace(op, 25, random_state=0)
    assert est.n_applications == op.columns == 25


def test_hutchpp_gram_counts_and_value():
    g = torch.Generator().manual_seed(3)
    A = torch.randn(40, 300, generator=g, dtype=torch.float64) / torch.arange(1, 301) ** 1.5
    op = ShapedOperator(A, (300,), (2, 20))
    est = hutchpp_trace(op, 31, gram=True, random_state=0, exact=False)
    assert est.n_applications == op.columns <= 31
    assert est.value == pytest.approx(A.square().sum().item(), rel=0.02)


def test_hutchpp_exact_paths():
    G = psd_matrix(torch.rand(50, generator=torch.Generator().manual_seed(0)), seed=3)
    ref = torch.trace(G).item()
    dense = hutchpp_trace(G, 50)  # the budget reaches the dimension: dense
    assert dense.exact and dense.n_applications == 50 and dense.stderr == 0.0
    assert dense.value == pytest.approx(ref, rel=1e-12)
    forced = hutchpp_trace(G, 5, exact=True)
    assert forced.exact and forced.value == pytest.approx(ref, rel=1e-12)
    # a Krylov sketch that fills the space is exact too
    full = hutchpp_trace(G, 60, exact=False, random_state=0)
    assert not full.exact and full.value == pytest.approx(ref, rel=1e-10)


def test_hutchpp_gram_dense_uses_cheaper_side():
    A = torch.randn(7, 90, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    op = ShapedOperator(A, (90,), (7,))
    est = hutchpp_trace(op, 30, gram=True)
    assert est.exact and op.columns == 7 == est.n_applications
    assert est.value == pytest.approx(A.square().sum().item(), rel=1e-12)


def test_hutchpp_on_indefinite_self_adjoint():
    lam = torch.linspace(-1.0, 2.0, 200, dtype=torch.float64)
    G = psd_matrix(lam, seed=5)
    values = [hutchpp_trace(G, 60, random_state=s).value for s in range(10)]
    assert sum(values) / 10 == pytest.approx(lam.sum().item(), abs=3.0)


def test_trace_of_square_and_frobenius(decaying_1000):
    G, lam = decaying_1000
    sq = trace_of_square(G, 30, random_state=0)
    assert sq.n_applications == 30 and not sq.exact
    assert sq.value == pytest.approx((lam**2).sum().item(), rel=1e-3)
    fro = frobenius_norm(G, 30, random_state=0)
    assert fro.value == pytest.approx(math.sqrt((lam**2).sum().item()), rel=1e-2)
    small = psd_matrix(torch.linspace(0, 1, 20), seed=6)
    assert trace_of_square(small).exact
    assert trace_of_square(small).value == pytest.approx(torch.trace(small @ small).item())
    assert frobenius_norm(small).value == pytest.approx(torch.linalg.norm(small).item())


def test_gram_square_and_norm_match_dense():
    g = torch.Generator().manual_seed(8)
    A = torch.randn(30, 12, generator=g, dtype=torch.float64)
    AAt = A @ A.T
    ref_sq = torch.trace(AAt @ AAt).item()
    assert trace_of_square(A, gram=True).value == pytest.approx(ref_sq, rel=1e-12)
    assert frobenius_norm(A, gram=True).value == pytest.approx(math.sqrt(ref_sq), rel=1e-12)
    est = trace_of_square(A, 40, gram=True, exact=False, random_state=1)
    assert est.n_applications <= 40
    assert est.value == pytest.approx(ref_sq, rel=0.05)
    rect = frobenius_norm(A)  # any operator: ||A||_F
    assert rect.value == pytest.approx(torch.linalg.norm(A).item(), rel=1e-12)


def test_trace_bad_input():
    G = torch.eye(5, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"sketch.*valid choices.*classic.*krylov"):
        hutchpp_trace(G, sketch="nope")
    with pytest.raises(ValueError, match="n_applications"):
        hutchpp_trace(G, 0)
    with pytest.raises(ValueError, match="in_shape == out_shape"):
        hutchpp_trace(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="exact"):
        trace_of_square(G, exact="yes")
    with pytest.raises(ValueError, match="real floating"):
        hutchpp_trace(torch.eye(3, dtype=torch.complex64))
