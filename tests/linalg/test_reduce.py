"""reduce_to_axis against partial traces / compressions built by index arithmetic."""

import math

import numpy as np
import pytest
import torch
from linalg_helpers import ShapedOperator

from kpflow_sk.linalg import reduce_to_axis

SHAPE = (3, 5, 4)
N = math.prod(SHAPE)


def _index_sets(shape, axis):
    """idx[m, i]: flat index of the entry with position i along `axis`, m over the others."""
    idx = np.arange(math.prod(shape)).reshape(shape)
    return np.moveaxis(idx, axis, -1).reshape(-1, shape[axis])


def dense_partial_trace(G, shape, axis):
    out = torch.zeros(shape[axis], shape[axis], dtype=G.dtype)
    for rows in _index_sets(shape, axis):
        out += G[np.ix_(rows, rows)]
    return out


def dense_mean(G, shape, axis):
    idx = _index_sets(shape, axis)
    E = torch.zeros(G.shape[0], shape[axis], dtype=G.dtype)
    for i in range(shape[axis]):
        E[idx[:, i], i] = 1.0
    return E.T @ G @ E / idx.shape[0]


@pytest.mark.parametrize("axis", [0, 1, 2, "trial", "time", "hidden", -1])
@pytest.mark.parametrize("reduce", ["trace", "mean"])
def test_exact_reductions_match_index_arithmetic(trajectory_psd, axis, reduce):
    G, shape = trajectory_psd
    op = ShapedOperator(G, shape, shape)
    res = reduce_to_axis(op, axis, reduce)
    a = {"trial": 0, "time": 1, "hidden": 2}.get(axis, axis) % 3
    ref = (dense_partial_trace if reduce == "trace" else dense_mean)(G, shape, a)
    assert res.exact and res.axis == a and res.reduce == reduce
    torch.testing.assert_close(res.matrix, ref, rtol=1e-12, atol=1e-12)
    assert res.n_applications == op.columns == (N if reduce == "trace" else shape[a])


@pytest.mark.parametrize("reduce", ["trace", "mean"])
def test_gram_reductions_use_the_cheaper_side(reduce):
    g = torch.Generator().manual_seed(5)
    A = torch.randn(N, 17, generator=g, dtype=torch.float64)
    op = ShapedOperator(A, (17,), SHAPE)
    res = reduce_to_axis(op, "time", reduce, gram=True)
    G = A @ A.T
    ref = (dense_partial_trace if reduce == "trace" else dense_mean)(G, SHAPE, 1)
    torch.testing.assert_close(res.matrix, ref, rtol=1e-12, atol=1e-12)
    # exact partial trace of A A*: over A's 17 input basis vectors (< N = 60)
    assert res.n_applications == op.columns == (17 if reduce == "trace" else 5)
    assert torch.linalg.eigvalsh(res.matrix).min() > -1e-12


def test_randomized_partial_trace_is_unbiased_and_counted(trajectory_psd):
    G, shape = trajectory_psd
    op = ShapedOperator(G, shape, shape)
    ref = dense_partial_trace(G, shape, 2)
    res = reduce_to_axis(op, "hidden", exact=False, n_probes=6, random_state=0)
    assert not res.exact and res.n_probes == 6
    assert res.n_applications == op.columns == 6 * 4
    mean = sum(reduce_to_axis(op, 2, exact=False, n_probes=8, random_state=s).matrix
               for s in range(300)) / 300
    torch.testing.assert_close(mean.to(ref.dtype), ref, rtol=0.03, atol=0.03 * ref.abs().max())
    again = reduce_to_axis(op, "hidden", exact=False, n_probes=6, random_state=0)
    torch.testing.assert_close(again.matrix, res.matrix, rtol=0, atol=0)


def test_randomized_partial_trace_gram_matches_on_average():
    g = torch.Generator().manual_seed(6)
    A = torch.randn(N, 9, generator=g, dtype=torch.float64)
    ref = dense_partial_trace(A @ A.T, SHAPE, 0)
    op = ShapedOperator(A, (9,), SHAPE)
    mean = sum(reduce_to_axis(op, 0, gram=True, exact=False, n_probes=8, random_state=s).matrix
               for s in range(300)) / 300
    torch.testing.assert_close(mean, ref, rtol=0.03, atol=0.03 * ref.abs().max())


def test_exact_default_switches_on_size():
    big = torch.eye(2 * 3 * 700, dtype=torch.float64)  # N = 4200 > 4096, M = 1400 > 32
    op = ShapedOperator(big, (2, 3, 700), (2, 3, 700))
    res = reduce_to_axis(op, "time", random_state=0)
    assert not res.exact and res.n_applications == 32 * 3 == op.columns
    torch.testing.assert_close(res.matrix, 1400 * torch.eye(3, dtype=torch.float64))


def test_reduce_bad_input(trajectory_psd):
    G, shape = trajectory_psd
    op = ShapedOperator(G, shape, shape)
    with pytest.raises(ValueError, match=r"axis 'space'.*valid choices.*hidden.*time.*trial"):
        reduce_to_axis(op, "space")
    with pytest.raises(ValueError, match="out of range"):
        reduce_to_axis(op, 3)
    with pytest.raises(ValueError, match=r"reduce 'sum'.*valid choices.*mean.*trace"):
        reduce_to_axis(op, "time", "sum")
    with pytest.raises(ValueError, match=r"\(B, T, H\)"):
        reduce_to_axis(torch.eye(4), "time")
    with pytest.raises(ValueError, match="n_probes"):
        reduce_to_axis(op, "time", n_probes=0)
    flat = reduce_to_axis(G, 0)  # a flat (N,) space: axis 0 is the whole space, M = 1
    torch.testing.assert_close(flat.matrix, G)
    with pytest.raises(ValueError, match="in_shape == out_shape"):
        reduce_to_axis(ShapedOperator(torch.zeros(N, 7), (7,), shape), "time")
