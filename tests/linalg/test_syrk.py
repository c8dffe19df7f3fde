"""``GramAccumulator`` (BLAS syrk on the CPU, torch elsewhere) against float64 ``C^T C``."""

import numpy as np
import pytest
import torch

from kpflow_sk.linalg import GramAccumulator
from kpflow_sk.linalg._syrk import column_gram


def _ref(*blocks):
    return sum(b.double().T @ b.double() for b in blocks)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-13), (torch.float32, 2e-6)])
@pytest.mark.parametrize("k", [1, 7, 64])
def test_blocks_sum_to_the_gram(dtype, tol, k):
    g = torch.Generator().manual_seed(k)
    blocks = [torch.randn(m, k, generator=g, dtype=dtype) for m in (1, 50, 333)]
    acc = GramAccumulator(k, dtype, "cpu")
    for b in blocks:
        acc.add(b)
    G = acc.result()
    ref = _ref(*blocks)
    assert G.dtype == dtype and G.shape == (k, k)
    assert torch.equal(G, G.T)
    assert float((G.double() - ref).abs().max() / ref.abs().max()) < tol


def test_layouts_and_column_slices_take_the_same_sum():
    """A strided (column-major, sliced) block goes through torch, a row-major one through
    BLAS; column slices update their sub-block only."""
    g = torch.Generator().manual_seed(0)
    C = torch.randn(40, 6, generator=g, dtype=torch.float64)
    Ct = C.T.contiguous().T                       # same values, column-major memory
    wide = torch.randn(40, 9, generator=g, dtype=torch.float64)
    acc = GramAccumulator(6, torch.float64, "cpu")
    acc.add(C).add(Ct).add(wide[:, :6])           # row-major, column-major, strided rows
    acc.add(C[:, 2:5], slice(2, 5))
    ref = 2 * _ref(C) + _ref(wide[:, :6])
    ref[2:5, 2:5] += _ref(C[:, 2:5])
    assert float((acc.result() - ref).abs().max()) < 1e-12


def test_inputs_are_not_modified_and_empty_blocks_add_nothing():
    C = torch.randn(30, 4, dtype=torch.float32)
    keep = C.clone()
    acc = GramAccumulator(4, torch.float32, "cpu").add(C).add(C[:0])
    assert torch.equal(C, keep)
    np.testing.assert_allclose(acc.result().numpy(), (C.T @ C).numpy(), rtol=1e-5, atol=1e-4)


def test_wrong_width_is_refused():
    with pytest.raises(ValueError, match="3 columns, expected 4"):
        GramAccumulator(4, torch.float64, "cpu").add(torch.zeros(5, 3, dtype=torch.float64))


@pytest.mark.parametrize("n", [5, 100])
def test_column_gram_cpu_and_blocked_paths_agree(n):
    C = torch.randn(300, n, dtype=torch.float64)
    ref = _ref(C)
    assert float((column_gram(C) - ref).abs().max() / ref.abs().max()) < 1e-13
    strided = torch.cat([C, C], 1)[:, ::2]       # no unit column stride: the blocked path
    assert float((column_gram(strided) - _ref(strided)).abs().max() / ref.abs().max()) < 1e-13
