"""DenseOperator, as_operator and dense_matrix against plain matrix products."""

import numpy as np
import pytest
import torch
from linalg_helpers import ShapedOperator

from kpflow_sk.linalg import DenseOperator, LinearOperator, as_operator, dense_matrix


def test_dense_operator_matmat_rmatmat_shapes():
    g = torch.Generator().manual_seed(0)
    M = torch.randn(6, 12, generator=g, dtype=torch.float64)
    op = DenseOperator(M, in_shape=(2, 3, 2), out_shape=(3, 2))
    Q = torch.randn(2, 3, 2, 5, generator=g, dtype=torch.float64)
    out = op.matmat(Q)
    assert out.shape == (3, 2, 5)
    torch.testing.assert_close(out.reshape(6, 5), M @ Q.reshape(12, 5))
    R = torch.randn(3, 2, 4, generator=g, dtype=torch.float64)
    back = op.rmatmat(R)
    assert back.shape == (2, 3, 2, 4)
    torch.testing.assert_close(back.reshape(12, 4), M.T @ R.reshape(6, 4))
    assert op.T.in_shape == (3, 2) and op.T.out_shape == (2, 3, 2)
    torch.testing.assert_close(op.T.to_dense(), M.T)
    assert op.shape == (6, 12) and op.dtype == torch.float64
    assert isinstance(op, LinearOperator) and op.n_applications == 5 + 4 + 6  # .T: 6 probes


def test_dense_operator_defaults_and_numpy():
    op = DenseOperator(np.arange(6).reshape(2, 3))
    assert op.in_shape == (3,) and op.out_shape == (2,)
    assert op.dtype == torch.get_default_dtype()  # integers become floats
    assert as_operator(np.eye(3)).dtype == torch.float64


@pytest.mark.parametrize("kwargs, match", [
    (dict(in_shape=(2, 2)), "in_shape"),
    (dict(out_shape=(5,)), "out_shape"),
])
def test_dense_operator_bad_shapes(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DenseOperator(torch.zeros(4, 3), **kwargs)


def test_dense_operator_rejects_non_matrix_and_bad_probes():
    with pytest.raises(ValueError, match="2-D"):
        DenseOperator(torch.zeros(2, 2, 2))
    op = DenseOperator(torch.zeros(4, 6), in_shape=(2, 3))
    with pytest.raises(ValueError, match=r"\(2, 3, 'k'\)"):
        op.matmat(torch.zeros(6, 1))
    with pytest.raises(ValueError, match="rmatmat"):
        op.rmatmat(torch.zeros(4))


def test_as_operator_wraps_protocol_objects_and_passes_operators_through():
    shaped = ShapedOperator(torch.eye(4, dtype=torch.float64), (2, 2), (2, 2))
    wrapped = as_operator(shaped)
    assert isinstance(wrapped, LinearOperator) and wrapped.in_shape == (2, 2)
    assert wrapped.matmat(torch.ones(2, 2, 3, dtype=torch.float64)).shape == (2, 2, 3)
    assert shaped.columns == wrapped.n_applications == 3
    dense = DenseOperator(torch.eye(2))
    assert as_operator(dense) is dense
    with pytest.raises(TypeError, match="matmat"):
        as_operator([[1.0, 0.0], [0.0, 1.0]])


def test_dense_matrix_materialises_any_operator():
    g = torch.Generator().manual_seed(1)
    M = torch.randn(12, 10, generator=g, dtype=torch.float64)
    shaped = ShapedOperator(M, (2, 5), (3, 4))
    torch.testing.assert_close(dense_matrix(shaped, chunk=3), M)
    assert shaped.columns == 10
