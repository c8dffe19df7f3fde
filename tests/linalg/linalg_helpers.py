"""Test operators with known spectra for the linalg tests."""

import torch


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
