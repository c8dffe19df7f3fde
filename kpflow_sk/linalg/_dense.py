"""The operator protocol for dense matrices, and the normaliser every routine starts with.

Protocol (duck-typed; :mod:`kpflow_sk.operators` follows it): ``in_shape``, ``out_shape``
(tuples), ``dtype``, ``device``, ``matmat(Q)`` with Q of shape ``(*in_shape, k)`` returning
``(*out_shape, k)``, and ``rmatmat(R)``, the adjoint, ``(*out_shape, k) -> (*in_shape, k)``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["DenseOperator", "as_operator", "dense_matrix"]

_PROTOCOL = ("in_shape", "out_shape", "dtype", "device", "matmat")


class DenseOperator:
    """A dense matrix seen as an operator between shaped spaces.

    Parameters
    ----------
    matrix : torch.Tensor or array-like of shape (n_out, n_in)
        Integer or boolean input is converted to torch's default float dtype.
    in_shape : tuple of int, optional
        Shape of the input space, ``prod(in_shape) == n_in``; default ``(n_in,)``.
    out_shape : tuple of int, optional
        Shape of the output space, ``prod(out_shape) == n_out``; default ``(n_out,)``.

    Examples
    --------
    >>> import torch
    >>> op = DenseOperator(torch.eye(6, dtype=torch.float64), (1, 2, 3), (1, 2, 3))
    >>> op.matmat(torch.ones(1, 2, 3, 4, dtype=torch.float64)).shape
    torch.Size([1, 2, 3, 4])
    """

    def __init__(self, matrix, in_shape=None, out_shape=None):
        M = matrix if torch.is_tensor(matrix) else torch.as_tensor(np.asarray(matrix))
        if M.ndim != 2:
            raise ValueError(f"matrix must be 2-D (n_out, n_in), got shape {tuple(M.shape)}")
        if not (M.is_floating_point() or M.is_complex()):
            M = M.to(torch.get_default_dtype())
        n_out, n_in = M.shape
        self.in_shape = _check_shape("in_shape", in_shape, n_in)
        self.out_shape = _check_shape("out_shape", out_shape, n_out)
        self.matrix = M

    @property
    def dtype(self):
        return self.matrix.dtype

    @property
    def device(self):
        return self.matrix.device

    @property
    def shape(self):
        """Flat matrix shape ``(n_out, n_in)``."""
        return tuple(self.matrix.shape)

    def matmat(self, Q):
        """Apply to k probes: ``(*in_shape, k) -> (*out_shape, k)``."""
        Q = _check_probes(Q, self.in_shape, "matmat")
        k = Q.shape[-1]
        return (self.matrix @ Q.reshape(-1, k)).reshape(*self.out_shape, k)

    def rmatmat(self, R):
        """Apply the adjoint to k probes: ``(*out_shape, k) -> (*in_shape, k)``."""
        R = _check_probes(R, self.out_shape, "rmatmat")
        k = R.shape[-1]
        return (self.matrix.mH @ R.reshape(-1, k)).reshape(*self.in_shape, k)

    @property
    def T(self):
        """The adjoint, as a DenseOperator."""
        return DenseOperator(self.matrix.mH, self.out_shape, self.in_shape)

    def to_dense(self):
        """The matrix ``(n_out, n_in)``."""
        return self.matrix

    def __repr__(self):
        return f"DenseOperator({self.in_shape} -> {self.out_shape}, {self.dtype})"


def as_operator(x):
    """Return ``x`` as an object following the operator protocol.

    Parameters
    ----------
    x : protocol object, torch.Tensor or numpy.ndarray
        A 2-D tensor or array becomes a :class:`DenseOperator` on flat vectors.

    Returns
    -------
    op
        ``x`` itself when it already follows the protocol.
    """
    if all(hasattr(x, name) for name in _PROTOCOL):
        return x
    if torch.is_tensor(x) or isinstance(x, np.ndarray):
        return DenseOperator(x)
    missing = [name for name in _PROTOCOL if not hasattr(x, name)]
    raise TypeError(
        f"expected an operator (attributes {', '.join(_PROTOCOL)}, rmatmat), a torch tensor "
        f"or a numpy array; got {type(x).__name__} lacking {', '.join(missing)}")


def dense_matrix(op, *, chunk=256):
    """Materialise any protocol operator as its flat matrix ``(n_out, n_in)``.

    Uses one probe per input basis vector (``prod(in_shape)`` applications), ``chunk`` per
    call. For small operators and tests.
    """
    op = as_operator(op)
    if isinstance(op, DenseOperator):
        return op.matrix
    n_in = math.prod(op.in_shape)
    cols = []
    for start in range(0, n_in, chunk):
        E = basis_block(n_in, start, min(chunk, n_in - start), op.dtype, op.device)
        cols.append(op.matmat(E.reshape(*op.in_shape, -1)).reshape(-1, E.shape[1]))
    return torch.cat(cols, dim=1)


def basis_block(n, start, width, dtype, device):
    """Columns ``start .. start+width`` of the n x n identity."""
    E = torch.zeros(n, width, dtype=dtype, device=device)
    idx = torch.arange(width, device=device)
    E[idx + start, idx] = 1
    return E


def _check_shape(name, shape, size):
    if shape is None:
        return (size,)
    shape = tuple(int(s) for s in shape)
    if math.prod(shape) != size:
        raise ValueError(f"{name} {shape} has {math.prod(shape)} entries, the matrix has {size}")
    return shape


def _check_probes(Q, shape, where):
    if not torch.is_tensor(Q):
        Q = torch.as_tensor(np.asarray(Q))
    if Q.ndim != len(shape) + 1 or tuple(Q.shape[:-1]) != tuple(shape):
        raise ValueError(f"{where}: probes of shape {tuple(Q.shape)} do not fit; expected "
                         f"{tuple(shape) + ('k',)} (k probes along the last axis)")
    return Q
