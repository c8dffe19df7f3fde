"""Operators seen as flat matrices, with an honest count of the probe vectors pushed through.

Every routine works on these views: ``FlatView`` (A as an ``(n_out, n_in)`` matrix) and
``SymmetricView`` (``G = A`` for a self-adjoint A, or ``G = A A*``). The count is the
operators' own (:attr:`LinearOperator.n_applications`, one counter per operator and its
adjoint); a :class:`Counter` reads how much it grew during one estimate.
"""

from __future__ import annotations

import math

import torch

from kpflow_sk.linalg._dense import as_operator
from kpflow_sk.linalg._operator import basis_block

__all__ = ["Counter", "FlatView", "SymmetricView", "block_columns"]

# Most entries of one probe block passed to the operator by the dense / reduction paths.
_BLOCK_ENTRIES = 2**24


def block_columns(n, minimum=1, maximum=256):
    """Columns per probe block for vectors of length ``n`` (bounded memory per call)."""
    return max(minimum, min(maximum, _BLOCK_ENTRIES // max(n, 1)))


class Counter:
    """Applications one estimate spent: how far its operators' counters moved since it began.

    ``n`` is the growth of every tracked operator's ``n_applications`` since it was tracked
    (an operator and its adjoint view share one counter, tracked once). Not meant for an
    operator that other threads apply at the same time (their probes would count too).
    """

    def __init__(self):
        self._start = {}

    def track(self, op):
        """Start counting ``op``'s applications (a LinearOperator)."""
        tally = op._tally
        self._start.setdefault(id(tally), (tally, tally.n))

    @property
    def n(self):
        return sum(tally.n - start for tally, start in self._start.values())


class FlatView:
    """``op`` as a matrix ``(n_out, n_in)`` acting on columns ``(n_in, k)``."""

    def __init__(self, op, counter=None, name="operator"):
        self.op = as_operator(op)
        self.name = name
        self.counter = counter if counter is not None else Counter()
        self.counter.track(self.op)
        self.in_shape = tuple(int(s) for s in self.op.in_shape)
        self.out_shape = tuple(int(s) for s in self.op.out_shape)
        self.n_in, self.n_out = math.prod(self.in_shape), math.prod(self.out_shape)
        self.dtype = self.op.dtype
        self.device = torch.device(self.op.device)
        if not self.dtype.is_floating_point:
            raise ValueError(f"{name} has dtype {self.dtype}; a real floating dtype is needed")

    def mm(self, X, overwrite=False):
        """``A X`` for X of shape ``(n_in, k)``; ``overwrite``: X may be consumed (see
        :meth:`LinearOperator.matmat`)."""
        return self.op.matmat(X.reshape(*self.in_shape, X.shape[1]),
                              overwrite=overwrite).reshape(self.n_out, -1)

    def rmm(self, Y):
        """``A* Y`` for Y of shape ``(n_out, k)``."""
        return self.op.rmatmat(Y.reshape(*self.out_shape, Y.shape[1])).reshape(self.n_in, -1)

    def dense(self):
        """The flat matrix, by the cheaper side: ``min(n_in, n_out)`` applications."""
        if self.n_in <= self.n_out:
            return _columns(self.mm, self.n_in, self.n_out, self.dtype, self.device)
        return _columns(self.rmm, self.n_out, self.n_in, self.dtype, self.device).mT

    @property
    def dense_cost(self):
        return min(self.n_in, self.n_out)


class SymmetricView:
    """The self-adjoint matrix ``G`` a routine works on: ``op`` itself, or ``op op*``.

    Parameters
    ----------
    op : protocol object
        Self-adjoint with ``in_shape == out_shape`` when ``gram`` is False (not checked
        numerically: the caller promises it).
    gram : bool
        If True, ``G = A A*`` on A's output space; one G-application costs 2.
    """

    def __init__(self, op, gram=False, counter=None, name="operator"):
        self.A = FlatView(op, counter, name)
        self.gram = bool(gram)
        if not self.gram and self.A.in_shape != self.A.out_shape:
            raise ValueError(
                f"{name} maps {self.A.in_shape} -> {self.A.out_shape}; a self-adjoint operator "
                "needs in_shape == out_shape (pass gram=True to use A A* instead)")
        self.shape = self.A.out_shape
        self.n = self.A.n_out
        self.dtype, self.device = self.A.dtype, self.A.device
        self.counter = self.A.counter
        self.cost = 2 if self.gram else 1  # applications per G-vector

    def mm(self, X, overwrite=False):
        """``G X`` for X of shape ``(n, k)``; ``overwrite``: X may be consumed (its memory
        may hold the result; a permission, used by operators that declare
        ``overwrite_probes`` and not by ``A A*``)."""
        return self.A.mm(self.A.rmm(X)) if self.gram else self.A.mm(X, overwrite)

    def quad(self, Z):
        """``z^T G z`` for every column z of Z, at one application per column."""
        if self.gram:
            return self.A.rmm(Z).square().sum(0)
        return (Z * self.A.mm(Z)).sum(0)

    def dense(self):
        """The dense symmetric matrix G (``dense_cost`` applications)."""
        if self.gram:
            if self.A.n_in <= self.A.n_out:  # A by columns, G = A A^T
                M = _columns(self.A.mm, self.A.n_in, self.A.n_out, self.dtype, self.device)
                return M @ M.mT
            C = _columns(self.A.rmm, self.n, self.A.n_in, self.dtype, self.device)
            return C.mT @ C
        G = _columns(self.A.mm, self.n, self.n, self.dtype, self.device)
        return (G + G.mT) / 2

    def dense_spectrum(self):
        """Eigenvalues of G, descending, float64, from the smaller dense matrix.

        For ``A A*`` with fewer input than output dimensions, ``A* A`` (n_in x n_in) has the
        same nonzero eigenvalues; the missing ones are zeros, padded to ``n``.
        """
        if self.gram and self.A.n_in < self.A.n_out:
            M = _columns(self.A.mm, self.A.n_in, self.A.n_out, self.dtype, self.device)
            small = torch.linalg.eigvalsh((M.mT @ M).double()).flip(0)
            pad = torch.zeros(self.n - small.numel(), dtype=small.dtype, device=small.device)
            return torch.cat([small, pad])
        return torch.linalg.eigvalsh(self.dense().double()).flip(0)

    @property
    def dense_cost(self):
        return self.A.dense_cost if self.gram else self.n


def _columns(apply, n_in, n_out, dtype, device):
    """``apply`` on every basis vector of R^n_in, in blocks: the (n_out, n_in) matrix."""
    width = block_columns(max(n_in, n_out))
    out = torch.empty(n_out, n_in, dtype=dtype, device=device)
    for start in range(0, n_in, width):
        w = min(width, n_in - start)
        out[:, start:start + w] = apply(basis_block(n_in, start, w, dtype, device))
    return out
