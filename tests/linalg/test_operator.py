"""The LinearOperator protocol: hooks, adjoint, self-adjoint flag, checked composition, one
application counter, and GramOperator's root (against plain matrix products, float64)."""

import pytest
import torch
from linalg_helpers import ShapedOperator

from kpflow_sk.linalg import (
    AdjointOperator,
    ComposedOperator,
    DenseOperator,
    GramOperator,
    LinearOperator,
    ProtocolOperator,
    alignment,
    as_operator,
    effective_rank,
    spectrum,
)
from kpflow_sk.linalg._operator import same_device


class Reshaped(LinearOperator):
    """Only the two hooks, on probes along the last axis: a matrix on shaped spaces."""

    name = "M"

    def __init__(self, M, in_shape, out_shape):
        super().__init__(in_shape, out_shape, M.dtype, M.device)
        self.M = M

    def _matmat(self, Q):
        return (self.M @ Q.reshape(-1, Q.shape[-1])).reshape(*self.out_shape, Q.shape[-1])

    def _rmatmat(self, R):
        return (self.M.T @ R.reshape(-1, R.shape[-1])).reshape(*self.in_shape, R.shape[-1])


class SymmetricOnly(LinearOperator):
    """A self-adjoint operator that implements ``_matmat`` only."""

    self_adjoint = True

    def __init__(self, G, shape):
        super().__init__(shape, shape, G.dtype, G.device, name="G")
        self.G = G

    def _matmat(self, Q):
        return (self.G @ Q.reshape(-1, Q.shape[-1])).reshape(Q.shape)


def _mat(n_out, n_in, seed, dtype=torch.float64):
    return torch.randn(n_out, n_in, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize("k", [1, 7])
def test_hooks_matmat_rmatmat_and_matmul(k):
    M = _mat(12, 6, 0)
    op = Reshaped(M, (2, 3), (3, 4))
    Q = _mat(6, k, 1).reshape(2, 3, k)
    torch.testing.assert_close(op.matmat(Q).reshape(12, k), M @ Q.reshape(6, k))
    R = _mat(12, k, 2).reshape(3, 4, k)
    torch.testing.assert_close(op.rmatmat(R).reshape(6, k), M.T @ R.reshape(12, k))
    torch.testing.assert_close(op @ Q[..., 0], (M @ Q.reshape(6, k)[:, 0]).reshape(3, 4))
    torch.testing.assert_close(op.to_dense(chunk=4), M)
    assert op.shape == (12, 6)
    # float32 probes are cast to the operator's dtype
    assert op.matmat(Q.float()).dtype == torch.float64


def test_probe_and_hook_output_shapes_are_checked():
    op = Reshaped(_mat(12, 6, 0), (2, 3), (3, 4))
    with pytest.raises(ValueError, match=r"matmat: probe of shape \(6, 1\).*\(2, 3, 'k'\)"):
        op.matmat(torch.zeros(6, 1, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"rmatmat: probe of shape \(3, 4\)"):
        op.rmatmat(torch.zeros(3, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"probe of shape \(5,\) does not fit M"):
        op @ torch.zeros(5, dtype=torch.float64)
    with pytest.raises(TypeError, match="LinearOperator or a tensor"):
        op @ object()

    class Broken(Reshaped):
        def _matmat(self, Q):
            return Q

    with pytest.raises(ValueError, match=r"M.matmat returned shape \(2, 3, 1\), expected "
                                         r"\(3, 4, 1\)"):
        Broken(_mat(12, 6, 0), (2, 3), (3, 4)).matmat(torch.zeros(2, 3, 1, dtype=torch.float64))


def test_adjoint_view_and_self_adjoint_flag():
    op = Reshaped(_mat(12, 6, 0), (2, 3), (3, 4))
    assert isinstance(op.T, AdjointOperator) and op.T.T is op
    assert op.T.in_shape == (3, 4) and op.T.out_shape == (2, 3) and op.T.name == "M*"
    torch.testing.assert_close(op.T.to_dense(), op.M.T)
    G = _mat(6, 6, 3)
    G = G @ G.T
    sym = SymmetricOnly(G, (2, 3))
    assert sym.T is sym                                  # the flag, not an overridden .T
    R = _mat(6, 2, 4).reshape(2, 3, 2)
    torch.testing.assert_close(sym.rmatmat(R), sym.matmat(R))   # _rmatmat defaults to _matmat
    assert DenseOperator(G, self_adjoint=True).T.self_adjoint
    with pytest.raises(ValueError, match="self-adjoint operator needs in_shape == out_shape"):
        DenseOperator(_mat(4, 6, 0), self_adjoint=True)

    class ForwardOnly(LinearOperator):
        def _matmat(self, Q):
            return Q

    fwd = ForwardOnly((3,), (3,), torch.float64, "cpu")
    with pytest.raises(NotImplementedError, match="_rmatmat"):
        fwd.rmatmat(torch.zeros(3, 1, dtype=torch.float64))


def test_composition_is_correct_and_counts_once():
    MA, MB = _mat(12, 6, 0), _mat(6, 10, 1)
    A, B = Reshaped(MA, (2, 3), (3, 4)), Reshaped(MB, (10,), (2, 3))
    AB = A @ B
    assert isinstance(AB, ComposedOperator) and AB.name == "M M"
    assert AB.in_shape == (10,) and AB.out_shape == (3, 4)
    torch.testing.assert_close(AB.to_dense(), MA @ MB)
    torch.testing.assert_close(AB.T.to_dense(), (MA @ MB).T)
    # the composite counts what was applied to it (10 + 12 through its adjoint view, one
    # counter); its factors' hooks run uncounted
    assert AB.n_applications == 22 and A.n_applications == B.n_applications == 0


@pytest.mark.parametrize("left, right, match", [
    (DenseOperator(_mat(4, 5, 0)), DenseOperator(_mat(4, 3, 1)),
     r"cannot compose DenseOperator \(input \(5,\)\) with DenseOperator \(output \(4,\)\)"),
    (DenseOperator(_mat(4, 5, 0)), DenseOperator(_mat(5, 3, 1, torch.float32)),
     r"DenseOperator \(torch.float64\) with DenseOperator \(torch.float32\).*dtypes"),
    (DenseOperator(_mat(4, 5, 0)), DenseOperator(torch.zeros(5, 3, dtype=torch.float64,
                                                             device="meta")),
     r"\(on cpu\) with DenseOperator \(on meta\).*devices"),
])
def test_composition_checks_shape_dtype_device(left, right, match):
    with pytest.raises(ValueError, match=match):
        left @ right
    with pytest.raises(ValueError, match=match):
        ComposedOperator(left, right)


def test_composition_names_both_operators_and_rejects_non_operators():
    A = Reshaped(_mat(12, 6, 0), (2, 3), (3, 4))
    A.name = "Theta"
    B = DenseOperator(_mat(5, 5, 1))
    with pytest.raises(ValueError, match="Theta.*DenseOperator"):
        A @ B
    with pytest.raises(TypeError, match="right factor is a ShapedOperator"):
        ComposedOperator(A, ShapedOperator(_mat(6, 6, 2), (6,), (2, 3)))


def test_same_device():
    assert same_device("cpu", torch.device("cpu"))
    assert not same_device("cpu", "meta")
    assert same_device("cuda", "cuda:0") == (not torch.cuda.is_available()
                                             or torch.cuda.current_device() == 0)


def test_one_counter_shared_by_operator_adjoint_and_linalg():
    M = _mat(30, 30, 5)
    op = DenseOperator(M @ M.T, (5, 6), (5, 6))
    op.matmat(torch.zeros(5, 6, 3, dtype=torch.float64))
    op.T.rmatmat(torch.zeros(5, 6, 2, dtype=torch.float64))
    assert op.n_applications == op.T.n_applications == 5
    op.n_applications = 0
    res = effective_rank(op, exact=False, n_applications=40, random_state=0)
    assert 0 < res.n_applications == op.n_applications <= 40  # the result reads the counter
    before = op.n_applications
    al = alignment(op, op.T, n_applications=20, random_state=0)  # one counter, both sides
    assert 0 < al.n_applications == op.n_applications - before <= 20


def test_gram_operator_knows_its_root():
    M = _mat(12, 5, 6)
    R = Reshaped(M, (5,), (3, 4))
    G = GramOperator(R)
    assert G.root is R and G.self_adjoint and G.T is G
    assert G.in_shape == G.out_shape == (3, 4) and G.name == "M M*"
    torch.testing.assert_close(G.to_dense(), M @ M.T)
    assert R.gram().root is R
    # a measure of G through its root (A* A on the smaller side) equals the measure of G
    direct = effective_rank(G, exact=True).value
    through_root = effective_rank(G.root, gram=True, exact=True).value
    assert direct == pytest.approx(through_root, rel=1e-10)
    top = spectrum(G, k=3, exact=True).values
    root_top = spectrum(G.root, k=3, gram=True, exact=True).values
    torch.testing.assert_close(torch.tensor(top), torch.tensor(root_top))
    with pytest.raises(TypeError, match="root must be a LinearOperator"):
        GramOperator(M)


def test_duck_typed_objects_become_protocol_operators():
    M = _mat(6, 4, 7)
    duck = ShapedOperator(M, (4,), (2, 3))
    op = as_operator(duck)
    assert isinstance(op, ProtocolOperator) and op.name == "ShapedOperator"
    torch.testing.assert_close(op.to_dense(), M)
    assert duck.columns == op.n_applications == 4

    class NoAdjoint:
        in_shape, out_shape, dtype, device = (4,), (4,), torch.float64, torch.device("cpu")

        def matmat(self, Q):
            return Q

    with pytest.raises(TypeError, match="NoAdjoint has no rmatmat"):
        as_operator(NoAdjoint()).rmatmat(torch.zeros(4, 1, dtype=torch.float64))
