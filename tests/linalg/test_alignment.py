"""alignment (Frobenius cosine of operators) and cosine (of tensors) against dense values."""

import math

import numpy as np
import pytest
import torch
from linalg_helpers import ShapedOperator

from kpflow_sk.linalg import alignment, cosine


def _pair(n_out=40, n_in=300, mix=0.6, seed=0):
    g = torch.Generator().manual_seed(seed)
    decay = torch.arange(1, n_in + 1, dtype=torch.float64) ** -1.0
    A = torch.randn(n_out, n_in, generator=g, dtype=torch.float64) * decay
    N = torch.randn(n_out, n_in, generator=g, dtype=torch.float64) * decay
    return A, mix * A + (1 - mix) * N


def _dense_cos(A, B):
    return ((A * B).sum() / (A.norm() * B.norm())).item()


def test_alignment_dense_matches_formula():
    A, B = _pair(n_out=6, n_in=9)
    res = alignment(A, B)
    assert res.exact and res.n_applications == 12  # 6 columns each, by the cheaper side
    assert res.value == pytest.approx(_dense_cos(A, B), rel=1e-12)
    assert res.inner == pytest.approx(torch.trace(A @ B.T).item(), rel=1e-12)
    assert res.norm_a2 == pytest.approx(A.square().sum().item(), rel=1e-12)
    assert alignment(A, A).value == pytest.approx(1.0)
    assert alignment(A, -A).value == pytest.approx(-1.0)


def test_alignment_randomized_close_and_counted():
    A, B = _pair()
    ref = _dense_cos(A, B)
    opA = ShapedOperator(A, (3, 100), (4, 10))
    opB = ShapedOperator(B, (3, 100), (4, 10))
    res = alignment(opA, opB, 60, random_state=0, exact=False)
    assert not res.exact
    assert res.n_applications == opA.columns + opB.columns <= 60
    assert res.value == pytest.approx(ref, abs=0.03)
    again = alignment(opA, opB, 60, random_state=0, exact=False)
    assert again == res


def test_alignment_randomized_unbiased_traces():
    A, B = _pair(seed=1)
    runs = [alignment(A, B, 40, random_state=s, exact=False) for s in range(30)]
    assert np.mean([r.inner for r in runs]) == pytest.approx((A * B).sum().item(), rel=0.02)


def test_alignment_zero_operator_is_nan():
    A, _ = _pair(n_out=4, n_in=5)
    assert math.isnan(alignment(A, torch.zeros_like(A)).value)


def test_alignment_bad_input():
    with pytest.raises(ValueError, match="same shapes"):
        alignment(torch.zeros(3, 4), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="dtype"):
        alignment(torch.zeros(3, 3, dtype=torch.float32), torch.zeros(3, 3, dtype=torch.float64))


def test_cosine():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    y = torch.tensor([[2.0, 0.0], [1.0, -1.0]])
    ref = (x * y).sum() / (x.norm() * y.norm())
    assert cosine(x, y) == pytest.approx(ref.item(), rel=1e-6)
    assert cosine(np.ones(3), np.ones(3)) == pytest.approx(1.0)
    assert math.isnan(cosine(torch.zeros(3), torch.ones(3)))
    with pytest.raises(ValueError, match="same shape"):
        cosine(torch.zeros(3), torch.zeros(4))
