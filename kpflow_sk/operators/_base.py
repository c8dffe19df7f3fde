"""Linear operators on trajectory space ``(B, T, H)`` and parameter space ``(n_params,)``.

Every operator follows one protocol (also what :mod:`kpflow_sk.linalg` consumes):
``in_shape``, ``out_shape``, ``dtype``, ``device``, ``matmat(Q)`` with Q of shape
``(*in_shape, k)`` and ``rmatmat(R)`` (the adjoint). ``op @ q`` takes one vector
``(*in_shape)`` or a probe batch ``(*in_shape, k)`` (all k probes in one pass), ``op @ other``
composes, ``op.T`` is the adjoint. Subclasses implement ``_apply`` / ``_rapply`` on probes-first
tensors ``(k, *shape)``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["TrajectoryOperator", "ComposedOperator", "AdjointOperator"]


class TrajectoryOperator:
    """Base class of the KPFlow operators.

    Attributes
    ----------
    in_shape, out_shape : tuple of int
    dtype : torch.dtype
    device : torch.device
    n_applications : int
        Probe vectors pushed through this operator or its adjoint so far (via ``@``,
        ``matmat``, ``rmatmat``).
    """

    name = "operator"

    def __init__(self, in_shape, out_shape, dtype, device):
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        self.dtype, self.device = dtype, device
        self.n_applications = 0

    # -- subclass hooks: probes-first (k, *in_shape) -> (k, *out_shape)
    def _apply(self, V):
        raise NotImplementedError

    def _rapply(self, U):
        raise NotImplementedError

    # -- protocol
    @property
    def shape(self):
        """Flat matrix shape ``(prod(out_shape), prod(in_shape))``."""
        return (math.prod(self.out_shape), math.prod(self.in_shape))

    def _check(self, Q, space, role):
        expected = self.in_shape if space == "in" else self.out_shape
        if not torch.is_tensor(Q):
            Q = torch.as_tensor(np.asarray(Q))
        if tuple(Q.shape[:-1]) != expected:
            raise ValueError(
                f"{role} of shape {tuple(Q.shape)} does not fit {self.name}: expected "
                f"{expected + ('k',)} (a batch of k probes along the last axis)")
        return Q.to(dtype=self.dtype, device=self.device)

    def matmat(self, Q):
        """Apply to k probes. Q: (*in_shape, k) -> (*out_shape, k)."""
        Q = self._check(Q, "in", "probe")
        self.n_applications += Q.shape[-1]
        return self._apply(Q.movedim(-1, 0)).movedim(0, -1)

    def rmatmat(self, R):
        """Apply the adjoint to k probes. R: (*out_shape, k) -> (*in_shape, k)."""
        R = self._check(R, "out", "probe")
        self.n_applications += R.shape[-1]
        return self._rapply(R.movedim(-1, 0)).movedim(0, -1)

    def __matmul__(self, other):
        if isinstance(other, TrajectoryOperator):
            return ComposedOperator(self, other)
        q = other if torch.is_tensor(other) else torch.as_tensor(np.asarray(other))
        if tuple(q.shape) == self.in_shape:
            return self.matmat(q.unsqueeze(-1)).squeeze(-1)
        if tuple(q.shape[:-1]) == self.in_shape:
            return self.matmat(q)
        raise ValueError(
            f"probe of shape {tuple(q.shape)} does not fit {self.name}: expected "
            f"{self.in_shape} or {self.in_shape + ('k',)}")

    @property
    def T(self):
        """The adjoint operator ``A*``."""
        return AdjointOperator(self)

    def gram(self):
        """``A A*`` (self-adjoint, PSD)."""
        return ComposedOperator(self, self.T, name=f"{self.name} {self.name}*")

    # -- export
    def to_dense(self, chunk=256):
        """The flat matrix ``(prod(out_shape), prod(in_shape))``; for small operators only."""
        n_in = math.prod(self.in_shape)
        cols = []
        for s in range(0, n_in, chunk):
            k = min(chunk, n_in - s)
            E = torch.zeros(n_in, k, dtype=self.dtype, device=self.device)
            E[torch.arange(s, s + k), torch.arange(k)] = 1
            cols.append(self.matmat(E.reshape(*self.in_shape, k)).reshape(-1, k))
        return torch.cat(cols, dim=1)

    def to_scipy(self):
        """A ``scipy.sparse.linalg.LinearOperator`` on flat numpy vectors (float64)."""
        from scipy.sparse.linalg import LinearOperator

        def mm(Xn, adjoint=False):
            Xn = np.asarray(Xn, dtype=np.float64)
            one = Xn.ndim == 1
            shape = self.out_shape if adjoint else self.in_shape
            Q = torch.as_tensor(Xn.reshape(*shape, -1), dtype=self.dtype, device=self.device)
            Y = (self.rmatmat if adjoint else self.matmat)(Q)
            Y = Y.reshape(-1, Y.shape[-1]).detach().cpu().numpy().astype(np.float64)
            return Y[:, 0] if one else Y

        return LinearOperator(self.shape, matvec=mm, matmat=mm, dtype=np.float64,
                              rmatvec=lambda x: mm(x, True), rmatmat=lambda x: mm(x, True))

    def __repr__(self):
        return f"<{self.name}: {self.in_shape} -> {self.out_shape}, {self.dtype}>"


class ComposedOperator(TrajectoryOperator):
    """``A @ B``: apply B, then A."""

    def __init__(self, A, B, name=None):
        if A.in_shape != B.out_shape:
            raise ValueError(f"cannot compose {A.name} {A.in_shape} with {B.name} output "
                             f"{B.out_shape}")
        super().__init__(B.in_shape, A.out_shape, A.dtype, A.device)
        self.A, self.B = A, B
        self.name = name or f"{A.name} {B.name}"

    def _apply(self, V):
        return self.A._apply(self.B._apply(V))

    def _rapply(self, U):
        return self.B._rapply(self.A._rapply(U))


class AdjointOperator(TrajectoryOperator):
    """``A*`` of an operator (``.T``)."""

    def __init__(self, A):
        super().__init__(A.out_shape, A.in_shape, A.dtype, A.device)
        self.A = A
        self.name = A.name[:-1] if A.name.endswith("*") else A.name + "*"

    def _apply(self, V):
        return self.A._rapply(V)

    def _rapply(self, U):
        return self.A._apply(U)

    @property
    def T(self):
        return self.A


class AxisCompression(TrajectoryOperator):
    """``A_ax = E^T op / sqrt(M)``: an operator on ``(B, T, H)`` summed onto one axis.

    E is the ``(N, n)`` embedding that broadcasts an axis vector along the other axes
    (``M = N / n`` entries each), so ``A_ax A_ax* = E^T op op* E / M`` is the ``reduce="mean"``
    compression of the Gram ``op op*`` (the reference convention's ``Theta^2``, DESIGN.md
    3.1). Passing it to ``kpflow_sk.linalg.effective_rank(..., gram=True, exact=False)``
    estimates that compression's rank with as many probes as the budget allows instead of
    one application of ``op`` per axis index (the exact path).

    Parameters
    ----------
    op : TrajectoryOperator
        With ``out_shape`` of length 3.
    axis : int
        0 (trial), 1 (time) or 2 (hidden).
    """

    def __init__(self, op, axis):
        if len(op.out_shape) != 3 or axis not in (0, 1, 2):
            raise ValueError(f"axis must be 0, 1 or 2 of a (B, T, H) space, got {axis!r}")
        n = op.out_shape[axis]
        super().__init__(op.in_shape, (n,), op.dtype, op.device)
        self.op, self.axis = op, axis
        self.scale = 1.0 / math.sqrt(math.prod(op.out_shape) // n)
        self.name = f"E^T {op.name}"

    def _apply(self, V):
        Y = self.op._apply(V)
        dims = tuple(d + 1 for d in range(3) if d != self.axis)
        return Y.sum(dims) * self.scale

    def _rapply(self, U):
        shape = [U.shape[0], 1, 1, 1]
        shape[self.axis + 1] = U.shape[1]
        E = (U * self.scale).reshape(shape).expand(U.shape[0], *self.op.out_shape)
        return self.op._rapply(E.contiguous())
