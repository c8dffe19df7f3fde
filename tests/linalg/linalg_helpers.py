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


class LowRankPlusShift:
    """``G = F diag(lam) F^T + c I`` on a shaped space: a PSD operator with a known spectrum.

    F has r orthonormal columns (QR of a Gaussian matrix), so the eigenvalues are
    ``lam + c`` (r of them) and ``c`` (the other N - r). ``factor()`` gives the protocol
    operator ``A = F diag(sqrt(lam))`` from ``(r,)`` to the space, with ``A A* = G - c I``.
    """

    def __init__(self, shape, lam, shift=0.0, seed=0, dtype=torch.float64, time_scale=None):
        self.in_shape = self.out_shape = tuple(shape)
        n = 1
        for s in shape:
            n *= s
        g = torch.Generator().manual_seed(seed)
        lam = torch.as_tensor(lam, dtype=torch.float64)
        X = torch.randn(*shape, lam.numel(), generator=g, dtype=torch.float64)
        if time_scale is not None:  # structure along axis 1: modes decay in time
            t = torch.arange(shape[1], dtype=torch.float64)
            X = X * torch.exp(-t / time_scale)[:, None, None]
        F, R = torch.linalg.qr(X.reshape(n, lam.numel()))
        self.F = (F * torch.sign(torch.diagonal(R))).to(dtype)
        self.lam, self.shift = lam.to(dtype), float(shift)
        self.n, self.dtype, self.device = n, dtype, self.F.device
        self.columns = 0

    def eigenvalues(self):
        """All N eigenvalues, descending (float64)."""
        lam = self.lam.double() + self.shift
        rest = torch.full((self.n - lam.numel(),), self.shift, dtype=torch.float64)
        return torch.cat([lam.sort(descending=True).values, rest])

    def matmat(self, Q):
        k = Q.shape[-1]
        self.columns += k
        X = Q.reshape(-1, k)
        Y = self.F @ (self.lam[:, None] * (self.F.T @ X)) + self.shift * X
        return Y.reshape(*self.out_shape, k)

    rmatmat = matmat

    def partial_trace(self, axis):
        """Exact partial trace onto ``axis`` from the factor (float64)."""
        F = self.F.double().reshape(*self.in_shape, -1).movedim(axis, -2)
        F = F.reshape(-1, self.in_shape[axis], F.shape[-1])
        R = torch.einsum("mir,r,mjr->ij", F, self.lam.double(), F)
        M = self.n // self.in_shape[axis]
        return R + self.shift * M * torch.eye(self.in_shape[axis], dtype=torch.float64)

    def factor(self):
        """The protocol operator ``A = F diag(sqrt(lam))``: ``(r,) -> shape``."""
        return ShapedOperator(self.F * self.lam.sqrt(), (self.lam.numel(),), self.in_shape)
