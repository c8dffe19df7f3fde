"""Shared fixtures of the linalg tests: PSD test operators with known spectra."""

import math

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    # Small dense LAPACK calls slow down by orders of magnitude when threads oversubscribe a
    # busy machine; the test sizes gain nothing from threads.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def orthogonal(n, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    Q, R = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=dtype))
    return Q * torch.sign(torch.diagonal(R))


def psd_matrix(eigenvalues, seed=0):
    """``U diag(eigenvalues) U^T`` with Haar-random orthogonal U (float64)."""
    lam = torch.as_tensor(eigenvalues, dtype=torch.float64)
    U = orthogonal(lam.numel(), seed)
    G = (U * lam) @ U.T
    return (G + G.T) / 2


class ShapedOperator:
    """A protocol operator (not a DenseOperator) on shaped spaces that logs its calls."""

    def __init__(self, matrix, in_shape, out_shape):
        self.M = matrix
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        self.dtype, self.device = matrix.dtype, matrix.device
        self.columns = 0  # probe vectors received, forward and adjoint
        self.calls = 0

    def matmat(self, Q):
        assert tuple(Q.shape[:-1]) == self.in_shape
        self.columns += Q.shape[-1]
        self.calls += 1
        k = Q.shape[-1]
        return (self.M @ Q.reshape(-1, k)).reshape(*self.out_shape, k)

    def rmatmat(self, R):
        assert tuple(R.shape[:-1]) == self.out_shape
        self.columns += R.shape[-1]
        self.calls += 1
        k = R.shape[-1]
        return (self.M.T @ R.reshape(-1, k)).reshape(*self.in_shape, k)


@pytest.fixture(scope="session")
def decaying_1000():
    """1000-dim PSD matrix with eigenvalues 1/i^2 and random eigenvectors."""
    lam = 1.0 / torch.arange(1, 1001, dtype=torch.float64) ** 2
    return psd_matrix(lam, seed=1), lam


@pytest.fixture(scope="session")
def trajectory_psd():
    """A PSD operator on a (B, T, H) = (3, 5, 4) space, as a ShapedOperator factory."""
    shape = (3, 5, 4)
    n = math.prod(shape)
    g = torch.Generator().manual_seed(7)
    X = torch.randn(n, 12, generator=g, dtype=torch.float64)
    G = X @ X.T + 0.1 * torch.eye(n, dtype=torch.float64)
    return G, shape
