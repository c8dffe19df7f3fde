"""top_eigenvalues and spectrum against torch.linalg.eigvalsh on the dense matrix."""

import numpy as np
import pytest
import torch
from linalg_helpers import ShapedOperator, psd_matrix

from kpflow_sk.linalg import spectrum, top_eigenvalues


def _dense_top(G, k):
    return torch.linalg.eigvalsh(G).flip(0)[:k].numpy()


@pytest.fixture(scope="module")
def exp_600():
    lam = torch.exp(-torch.arange(600, dtype=torch.float64) / 8)
    return psd_matrix(lam, seed=11)


# Lanczos converges to machine precision on this spectrum; the randomized range finder (2
# power iterations, 10 oversamples; same cost here) to 1e-5 at the top, 3e-3 at k = 10.
RTOL = {"lanczos": 1e-8, "randomized": 1e-2}


@pytest.mark.parametrize("method", ["lanczos", "randomized"])
def test_top_eigenvalues_match_dense(exp_600, method):
    res = top_eigenvalues(exp_600, 10, method=method, random_state=0)
    assert not res.exact and res.method == method
    assert res.values.shape == (10,) and np.all(np.diff(res.values) <= 0)
    np.testing.assert_allclose(res.values, _dense_top(exp_600, 10), rtol=RTOL[method])


def test_lanczos_counts_and_budget(exp_600):
    op = ShapedOperator(exp_600, (6, 10, 10), (6, 10, 10))
    res = top_eigenvalues(op, 5, n_applications=40, block_size=4, random_state=1)
    assert res.n_applications == op.columns == 40
    assert op.calls == 10  # one call per block of 4 probes
    np.testing.assert_allclose(res.values, _dense_top(exp_600, 5), rtol=1e-4)


def test_randomized_counts(exp_600):
    op = ShapedOperator(exp_600, (600,), (600,))
    res = top_eigenvalues(op, 5, method="randomized", n_oversamples=5, n_power_iter=3,
                          random_state=0)
    assert res.n_applications == op.columns == (3 + 1) * 10


def test_gram_eigenvalues_are_squared_singular_values():
    g = torch.Generator().manual_seed(2)
    U = torch.linalg.qr(torch.randn(500, 500, generator=g, dtype=torch.float64))[0]
    V = torch.linalg.qr(torch.randn(80, 80, generator=g, dtype=torch.float64))[0]
    s = torch.exp(-torch.arange(80, dtype=torch.float64) / 6)  # spectrum of A A*: s^2
    A = (U[:, :80] * s) @ V.T  # (500, 80), singular values s
    op = ShapedOperator(A, (80,), (5, 100))
    ref = (s**2)[:6].numpy()
    for method in ("lanczos", "randomized"):
        res = top_eigenvalues(op, 6, method=method, gram=True, n_applications=64, exact=False,
                              random_state=0)
        assert res.n_applications <= 64
        np.testing.assert_allclose(res.values, ref, rtol=RTOL[method])
    dense = top_eigenvalues(op, 6, gram=True, exact=True)
    assert dense.exact and dense.n_applications == 80
    np.testing.assert_allclose(dense.values, ref, rtol=1e-10)


def test_low_rank_operator_exhausting_the_krylov_space():
    g = torch.Generator().manual_seed(3)
    X = torch.randn(400, 3, generator=g, dtype=torch.float64)
    G = X @ X.T  # rank 3: the Krylov space stops growing after one block
    res = top_eigenvalues(G, 6, n_applications=60, random_state=0)
    np.testing.assert_allclose(res.values[:3], _dense_top(G, 3), rtol=1e-10)
    np.testing.assert_allclose(res.values[3:], 0, atol=1e-10)


def test_small_operator_is_dense_and_exact():
    G = psd_matrix(torch.linspace(0, 1, 30), seed=4)
    res = top_eigenvalues(G, 4)
    assert res.exact and res.n_applications == 30
    np.testing.assert_allclose(res.values, _dense_top(G, 4), rtol=1e-12)


def test_float32_operator():
    G = psd_matrix(torch.exp(-torch.arange(300, dtype=torch.float64) / 5), seed=5)
    res = top_eigenvalues(G.float(), 5, n_applications=80, random_state=0)
    np.testing.assert_allclose(res.values, _dense_top(G, 5), rtol=1e-4)


def test_spectrum_whole_space_and_axis(trajectory_psd):
    G, shape = trajectory_psd
    whole = spectrum(G, k=100)
    assert whole.exact and whole.values.shape == (60,)  # k capped at the dimension
    np.testing.assert_allclose(whole.values, _dense_top(G, 60), rtol=1e-10)
    blocks = G.reshape(3, 5, 4, 3, 5, 4)
    time_trace = torch.einsum("bthbsh->ts", blocks)
    res = spectrum(ShapedOperator(G, shape, shape), k=3, axis="time")
    assert res.axis == 1 and res.reduce == "trace" and res.exact
    np.testing.assert_allclose(res.values, _dense_top(time_trace, 3), rtol=1e-10)


def test_spectrum_large_operator_is_estimated():
    lam = torch.exp(-torch.arange(5000, dtype=torch.float64) / 3)
    diag = torch.diag(lam)  # dimension above EXACT_MAX_DIM: Lanczos
    res = spectrum(diag, k=4, random_state=0)
    assert not res.exact and res.method == "lanczos"
    np.testing.assert_allclose(res.values, lam[:4].numpy(), rtol=1e-8)


def test_spectrum_and_top_eigenvalues_bad_input(exp_600):
    with pytest.raises(ValueError, match=r"method.*valid choices.*lanczos.*randomized"):
        top_eigenvalues(exp_600, 3, method="arnoldi")
    with pytest.raises(ValueError, match="k=700 exceeds"):
        top_eigenvalues(exp_600, 700)
    with pytest.raises(ValueError, match="k must be"):
        top_eigenvalues(exp_600, 0)
    with pytest.raises(ValueError, match="raise n_applications"):
        top_eigenvalues(exp_600, 10, n_applications=8, exact=False)
    with pytest.raises(ValueError, match="too small"):
        top_eigenvalues(exp_600, 10, method="randomized", n_applications=8, exact=False)
    with pytest.raises(ValueError, match=r"reduce.*valid choices.*mean.*trace"):
        spectrum(exp_600, reduce="max")
    with pytest.raises(ValueError, match=r"axis.*valid choices"):
        spectrum(exp_600, axis="space")


# --------------------------------------------------------------------------- realistic sizes
class _LowRankPlusDiagonal:
    """``F diag(lam) F^T + diag(d)`` on (8, 90, 16): no closed-form spectrum (eigsh decides)."""

    def __init__(self, dtype):
        g = torch.Generator().manual_seed(12)
        self.in_shape = self.out_shape = (8, 90, 16)
        n = 8 * 90 * 16
        self.F = torch.linalg.qr(torch.randn(n, 24, generator=g, dtype=torch.float64))[0]
        self.lam = torch.exp(-torch.arange(24, dtype=torch.float64) / 5)
        self.d = 0.05 * torch.rand(n, generator=g, dtype=torch.float64) ** 4
        self.dtype, self.device = dtype, torch.device("cpu")

    def _apply(self, X):
        return self.F @ (self.lam[:, None] * (self.F.T @ X)) + self.d[:, None] * X

    def matmat(self, Q):
        k = Q.shape[-1]
        return self._apply(Q.reshape(-1, k).double()).to(self.dtype).reshape(*self.in_shape, k)

    rmatmat = matmat

    def scipy(self):
        from scipy.sparse.linalg import LinearOperator

        n = self.F.shape[0]
        return LinearOperator((n, n), matvec=lambda x: self._apply(
            torch.as_tensor(x).reshape(n, -1)).numpy().ravel(), dtype=np.float64)


@pytest.fixture(scope="module")
def eigsh_reference():
    from scipy.sparse.linalg import eigsh

    op = _LowRankPlusDiagonal(torch.float64)
    vals = eigsh(op.scipy(), k=12, which="LA", tol=1e-12, return_eigenvectors=False)
    return np.sort(vals)[::-1]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("method", ["lanczos", "randomized"])
def test_whole_space_spectrum_against_eigsh(eigsh_reference, dtype, method):
    op = _LowRankPlusDiagonal(dtype)
    res = spectrum(op, k=10, method=method, random_state=0)  # N = 11520 > 4096: estimated
    assert not res.exact and res.converged and not res.hit_cap
    tol = 1e-6 if dtype == torch.float64 and method == "lanczos" else 2e-2
    np.testing.assert_allclose(res.values, eigsh_reference[:10], rtol=tol)
    lo, hi = res.interval
    slack = 1e-9 if dtype == torch.float64 else 1e-4
    assert np.all(lo <= eigsh_reference[:10] + slack) and np.all(eigsh_reference[:10] <= hi
                                                                 + slack)


@pytest.mark.parametrize("width", [2, 5])
def test_axis_spectrum_randomized_multi_block_realistic(monkeypatch, width):
    from linalg_helpers import LowRankPlusShift

    import kpflow_sk.linalg._reduce as reduce_mod

    monkeypatch.setattr(reduce_mod, "block_columns", lambda n, *a, **k: width)
    op = LowRankPlusShift((16, 90, 32), torch.exp(-torch.arange(16.0) / 4), seed=3,
                          time_scale=25.0)
    A = op.factor()
    ref = torch.linalg.eigvalsh(op.partial_trace(1)).flip(0)[:5].numpy()
    res = spectrum(A, k=5, axis="time", gram=True, exact=False, n_probes=40, random_state=0)
    assert not res.exact and res.n_applications == 40 * 90 and A.calls == -(-40 // width)
    assert res.method == "partial-trace" and np.all(res.errors > 0)
    assert np.all(np.abs(res.values - ref) < 4 * res.errors + 1e-12), (res.values, ref)
    # noise spreads the eigenvalues of a 40-probe estimate (top ones up ~10% here)
    np.testing.assert_allclose(res.values, ref, rtol=0.2)
