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


# --------------------------------------------------------------------------- realistic sizes
# (B, T, H) = (16, 90, 32): N = 46080; a randomized partial trace onto time probes the other
# M = 512 entries, and its probe blocks hold block_columns(N * 90) = 4 probes, so 6 probes
# need two blocks (the path that crashed). Width 1 forces six.
REAL = (16, 90, 32)
RANK = 16


@pytest.fixture(scope="module")
def real_ops():
    from linalg_helpers import LowRankPlusShift

    lam = torch.exp(-torch.arange(RANK, dtype=torch.float64) / 4)
    return {dt: LowRankPlusShift(REAL, lam, shift=1e-4, seed=3, dtype=dt, time_scale=25.0)
            for dt in (torch.float64, torch.float32)}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("width", [1, None])
@pytest.mark.parametrize("gram", [False, True])
def test_randomized_partial_trace_multi_block_at_realistic_size(real_ops, dtype, width, gram):
    op = real_ops[dtype]
    ref = op.partial_trace(1)
    if gram:
        ref = ref - op.shift * (op.n // 90) * torch.eye(90, dtype=torch.float64)
    target = op.factor() if gram else op
    res = reduce_to_axis(target, "time", gram=gram, exact=False, n_probes=6, random_state=0,
                         block_width=width)
    assert not res.exact and res.n_probes == 6 and res.n_applications == 6 * 90
    assert res.matrix.dtype == dtype and res.rtol is None and not res.hit_cap
    R = res.matrix.double()
    # the error is what the reported standard error says it is (Frobenius, within 3 sigma)
    err = float(torch.linalg.norm(R - ref))
    assert 0 < res.stderr and err < 3 * res.stderr + 1e-4 * float(torch.linalg.norm(ref))
    lo, hi = (x.double() for x in res.interval)
    covered = ((lo <= ref + 1e-6) & (ref - 1e-6 <= hi)).double().mean()
    assert covered > 0.85
    # the group means average back to the estimate
    torch.testing.assert_close(res.groups.double().mean(0), R, rtol=1e-4, atol=1e-6)


def test_exact_partial_trace_at_realistic_size(real_ops):
    op = real_ops[torch.float64]
    A = op.factor()  # A A* has 16 input dimensions: exact over them, not over N = 46080
    res = reduce_to_axis(A, "time", gram=True)
    assert res.exact and res.n_applications == RANK == A.columns
    ref = op.partial_trace(1) - op.shift * 512 * torch.eye(90, dtype=torch.float64)
    torch.testing.assert_close(res.matrix, ref, rtol=1e-10, atol=1e-12)
    for axis in (0, 2):
        out = reduce_to_axis(A, axis, gram=True)
        n = REAL[axis]
        ref = op.partial_trace(axis) - op.shift * (op.n // n) * torch.eye(n, dtype=torch.float64)
        torch.testing.assert_close(out.matrix, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("width", [1, 2, 7])
def test_exact_basis_partial_trace_multi_block(width):
    # exact over the identity basis of the other axes in uneven blocks (M = 4 * 8 = 32)
    from linalg_helpers import LowRankPlusShift

    op = LowRankPlusShift((4, 30, 8), torch.linspace(1, 0.1, 20), shift=0.01, seed=1)
    res = reduce_to_axis(op, "time", exact=True, block_width=width)
    torch.testing.assert_close(res.matrix, op.partial_trace(1), rtol=1e-10, atol=1e-12)
    assert res.n_applications == 960


def test_adaptive_partial_trace_meets_rtol_or_says_cap(real_ops):
    from linalg_helpers import LowRankPlusShift

    op = LowRankPlusShift((6, 20, 8), torch.linspace(1, 0.2, 12), shift=0.05, seed=2,
                          time_scale=8.0)
    ref = op.partial_trace(1)
    res = reduce_to_axis(op, "time", exact=False, rtol=0.05, random_state=1)
    assert res.rtol == 0.05 and res.n_probes >= 32 and res.converged and not res.hit_cap
    rel = float(torch.linalg.norm(res.matrix - ref) / torch.linalg.norm(ref))
    assert rel <= 0.05
    # at the realistic size, a cap far below what rtol=1e-4 needs: stops there and says so
    capped = reduce_to_axis(real_ops[torch.float64].factor(), "time", gram=True, exact=False,
                            rtol=1e-4, n_probes=4, max_applications=12 * 90, random_state=1)
    assert capped.hit_cap and not capped.converged and capped.n_probes == 12
    assert "hit cap" in str(capped)


def test_adaptive_partial_trace_falls_back_to_exact_when_cheaper():
    from linalg_helpers import LowRankPlusShift

    # A A* with 300 input dimensions, time axis of 4: the first round (32 probes x 4) is
    # cheaper than exact (300), but 2% on this random factor would need far more probes
    op = LowRankPlusShift((50, 4, 40), torch.linspace(1, 0.5, 300), seed=4)
    A = op.factor()
    res = reduce_to_axis(A, "time", gram=True, random_state=0)
    assert res.exact and res.n_applications == 32 * 4 + 300 == A.columns
    torch.testing.assert_close(res.matrix, op.partial_trace(1), rtol=1e-10, atol=1e-12)
    A.columns = 0
    forced = reduce_to_axis(A, "time", gram=True, exact=False, random_state=0)
    assert not forced.exact and forced.n_applications == A.columns > 32 * 4
