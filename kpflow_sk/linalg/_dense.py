"""Dense matrices as operators, and the normaliser every linalg routine starts with.

:class:`DenseOperator` is the :class:`~kpflow_sk.linalg.LinearOperator` of a matrix on shaped
spaces; :func:`as_operator` turns a tensor, an array or any duck-typed object with the
protocol's attributes (``in_shape``, ``out_shape``, ``dtype``, ``device``, ``matmat`` and
optionally ``rmatmat``) into a LinearOperator, so that every routine counts applications in
one place (the operator's ``n_applications``).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from kpflow_sk.linalg._operator import LinearOperator

__all__ = ["DenseOperator", "ProtocolOperator", "as_operator", "dense_matrix"]

_PROTOCOL = ("in_shape", "out_shape", "dtype", "device", "matmat")


class DenseOperator(LinearOperator):
    """A dense matrix seen as an operator between shaped spaces.

    Parameters
    ----------
    matrix : torch.Tensor or array-like of shape (n_out, n_in)
        Integer or boolean input is converted to torch's default float dtype.
    in_shape : tuple of int, optional
        Shape of the input space, ``prod(in_shape) == n_in``; default ``(n_in,)``.
    out_shape : tuple of int, optional
        Shape of the output space, ``prod(out_shape) == n_out``; default ``(n_out,)``.
    self_adjoint : bool, default=False
        Declares the matrix Hermitian (not checked numerically): ``.T`` is the operator.

    Examples
    --------
    >>> import torch
    >>> op = DenseOperator(torch.eye(6, dtype=torch.float64), (1, 2, 3), (1, 2, 3))
    >>> op.matmat(torch.ones(1, 2, 3, 4, dtype=torch.float64)).shape
    torch.Size([1, 2, 3, 4])
    >>> op.n_applications
    4
    """

    name = "DenseOperator"

    def __init__(self, matrix, in_shape=None, out_shape=None, *, self_adjoint=False):
        M = matrix if torch.is_tensor(matrix) else torch.as_tensor(np.asarray(matrix))
        if M.ndim != 2:
            raise ValueError(f"matrix must be 2-D (n_out, n_in), got shape {tuple(M.shape)}")
        if not (M.is_floating_point() or M.is_complex()):
            M = M.to(torch.get_default_dtype())
        n_out, n_in = M.shape
        super().__init__(_check_shape("in_shape", in_shape, n_in),
                         _check_shape("out_shape", out_shape, n_out), M.dtype, M.device,
                         self_adjoint=self_adjoint)
        self.matrix = M

    def _matmat(self, Q):
        k = Q.shape[-1]
        return (self.matrix @ Q.reshape(-1, k)).reshape(*self.out_shape, k)

    def _rmatmat(self, R):
        k = R.shape[-1]
        return (self.matrix.mH @ R.reshape(-1, k)).reshape(*self.in_shape, k)

    def to_dense(self, chunk=256):
        """The matrix ``(n_out, n_in)`` (no applications)."""
        return self.matrix

    def __repr__(self):
        return f"DenseOperator({self.in_shape} -> {self.out_shape}, {self.dtype})"


class ProtocolOperator(LinearOperator):
    """A duck-typed operator object (``matmat``, optionally ``rmatmat``) as a LinearOperator.

    Parameters
    ----------
    op : object
        With ``in_shape``, ``out_shape``, ``dtype``, ``device`` and ``matmat``; its
        ``rmatmat`` is the adjoint (a routine that needs it raises a TypeError without it).
    """

    def __init__(self, op):
        super().__init__(op.in_shape, op.out_shape, op.dtype, op.device,
                         name=getattr(op, "name", type(op).__name__))
        self.op = op

    def _matmat(self, Q):
        return self.op.matmat(Q)

    def _rmatmat(self, R):
        if not hasattr(self.op, "rmatmat"):
            raise TypeError(f"{self.name} has no rmatmat (adjoint), which this routine needs")
        return self.op.rmatmat(R)


def as_operator(x):
    """Return ``x`` as a :class:`~kpflow_sk.linalg.LinearOperator`.

    Parameters
    ----------
    x : LinearOperator, protocol object, torch.Tensor or numpy.ndarray
        A 2-D tensor or array becomes a :class:`DenseOperator` on flat vectors; another
        object with the protocol's attributes a :class:`ProtocolOperator`.

    Returns
    -------
    LinearOperator
        ``x`` itself when it is one.
    """
    if isinstance(x, LinearOperator):
        return x
    if torch.is_tensor(x) or isinstance(x, np.ndarray):
        return DenseOperator(x)
    if all(hasattr(x, name) for name in _PROTOCOL):
        return ProtocolOperator(x)
    missing = [name for name in _PROTOCOL if not hasattr(x, name)]
    raise TypeError(
        f"expected an operator (attributes {', '.join(_PROTOCOL)}, rmatmat), a torch tensor "
        f"or a numpy array; got {type(x).__name__} lacking {', '.join(missing)}")


def dense_matrix(op, *, chunk=256):
    """Materialise any operator as its flat matrix ``(n_out, n_in)``.

    Uses one probe per input basis vector (``prod(in_shape)`` applications), ``chunk`` per
    call (none for a :class:`DenseOperator`). For small operators and tests.
    """
    return as_operator(op).to_dense(chunk=chunk)


def _check_shape(name, shape, size):
    if shape is None:
        return (size,)
    shape = tuple(int(s) for s in shape)
    if math.prod(shape) != size:
        raise ValueError(f"{name} {shape} has {math.prod(shape)} entries, the matrix has {size}")
    return shape
