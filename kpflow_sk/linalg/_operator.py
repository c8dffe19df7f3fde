"""The one linear-operator protocol: :class:`LinearOperator`, its adjoint, compositions, Grams.

An operator maps a shaped input space to a shaped output space, e.g. ``(n_params,) ->
(B, T, H)``. A subclass implements one hook on a batch of k probes along the LAST axis,

- ``_matmat(Q)``: ``(*in_shape, k) -> (*out_shape, k)``,

and, unless it is self-adjoint (``self_adjoint = True``, then the adjoint is the operator
itself), the adjoint hook

- ``_rmatmat(R)``: ``(*out_shape, k) -> (*in_shape, k)``.

The public side is written once here: ``matmat`` / ``rmatmat`` check the probes (shape,
then cast to the operator's dtype and device), count them in the operator's one application
counter (``n_applications``, shared with its adjoint view ``.T``) and check the hook's
output; ``op @ q`` applies to one vector ``(*in_shape)`` or a batch ``(*in_shape, k)``;
``op @ other`` composes (shape, dtype and device checked); ``op.T`` is the adjoint (``op``
itself when self-adjoint); ``op.gram()`` is the :class:`GramOperator` ``op op*``.

A composition's hooks call its factors' hooks, so applying ``A @ B`` to k probes counts k on
``A @ B`` (what the caller applied), not on A and B as well.

(The structure follows curvlinops' ``_torch_base`` and linear_operator's
``RootLinearOperator``; hand-written because both work on flat vectors and neither takes
shaped spaces with probes along a trailing axis.)
"""

from __future__ import annotations

import math

import numpy as np
import torch

from kpflow_sk.linalg._syrk import column_gram

__all__ = ["LinearOperator", "ComposedOperator", "AdjointOperator", "GramOperator",
           "basis_block"]


class _Tally:
    """The application counter an operator shares with its adjoint view (a plain int:
    counting never syncs a device)."""

    __slots__ = ("n",)

    def __init__(self):
        self.n = 0


def _device_key(device):
    """``(type, index)`` of a device, the current CUDA device for a bare ``"cuda"``."""
    d = torch.device(device)
    if d.index is not None:
        return d.type, d.index
    if d.type == "cuda" and torch.cuda.is_available():
        return d.type, torch.cuda.current_device()
    return d.type, 0


def same_device(a, b):
    """True when two devices name the same place (``"cuda"`` and ``"cuda:0"`` do)."""
    return _device_key(a) == _device_key(b)


class LinearOperator:
    """A linear map between shaped spaces, applied to probe batches along the last axis.

    Parameters
    ----------
    in_shape, out_shape : tuple of int
        Shapes of the input and output spaces, e.g. ``(B, T, H)`` or ``(n_params,)``.
    dtype : torch.dtype
    device : torch.device or str
    name : str, optional
        Used in messages and ``repr`` (default: the class attribute ``name``).
    self_adjoint : bool, optional
        Declares ``A* = A`` (needs ``in_shape == out_shape``): ``.T`` is the operator itself
        and the adjoint hook defaults to ``_matmat``. Default: the class attribute.

    Attributes
    ----------
    n_applications : int
        Probe vectors applied so far through ``matmat``, ``rmatmat`` or ``@``, on this
        operator or its adjoint view ``.T`` (one counter for both); settable (e.g. to 0).
    broadcast_probes : bool
        Class attribute: True when the hooks accept probes with zero strides (expanded
        views) and never write into them; the ``mean`` axis reduction then passes its
        embedding E as a view instead of materializing it (default False).
    overwrite_probes : bool
        Class attribute: True when ``_matmat`` takes ``overwrite=True``, a permission to use
        its probes' memory for its work and its result (which may then be the probes
        themselves); ``matmat(Q, overwrite=True)`` passes it on (default False).

    Examples
    --------
    >>> import torch
    >>> class Double(LinearOperator):
    ...     self_adjoint = True
    ...     def _matmat(self, Q):
    ...         return 2 * Q
    >>> op = Double((2, 3), (2, 3), torch.float64, "cpu")
    >>> (op @ torch.ones(2, 3, dtype=torch.float64)).sum().item()
    12.0
    >>> op.T is op, op.n_applications
    (True, 1)
    """

    name = "operator"
    self_adjoint = False
    broadcast_probes = False
    overwrite_probes = False

    def __init__(self, in_shape, out_shape, dtype, device, *, name=None, self_adjoint=None):
        self.in_shape = tuple(int(s) for s in in_shape)
        self.out_shape = tuple(int(s) for s in out_shape)
        self.dtype = dtype
        self.device = torch.device(device)
        if name is not None:
            self.name = name
        if self_adjoint is not None:
            self.self_adjoint = bool(self_adjoint)
        if self.self_adjoint and self.in_shape != self.out_shape:
            raise ValueError(f"{self.name} maps {self.in_shape} -> {self.out_shape}; a "
                             "self-adjoint operator needs in_shape == out_shape")
        self._tally = _Tally()

    # -- hooks (probes along the last axis; already checked, cast and counted)
    def _matmat(self, Q):
        """``(*in_shape, k) -> (*out_shape, k)`` (with ``overwrite_probes``, also
        ``_matmat(Q, overwrite=True)``, which may write into Q)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _matmat")

    def _rmatmat(self, R):
        """The adjoint, ``(*out_shape, k) -> (*in_shape, k)``; ``_matmat`` if self-adjoint."""
        if self.self_adjoint:
            return self._matmat(R)
        raise NotImplementedError(f"{type(self).__name__} does not implement _rmatmat (the "
                                  "adjoint) and is not self-adjoint")

    # -- counter
    @property
    def n_applications(self):
        return self._tally.n

    @n_applications.setter
    def n_applications(self, value):
        self._tally.n = int(value)

    # -- protocol
    @property
    def shape(self):
        """Flat matrix shape ``(prod(out_shape), prod(in_shape))``."""
        return (math.prod(self.out_shape), math.prod(self.in_shape))

    def _probes(self, Q, expected, where):
        if not torch.is_tensor(Q):
            Q = torch.as_tensor(np.asarray(Q))
        if Q.ndim != len(expected) + 1 or tuple(Q.shape[:-1]) != expected:
            raise ValueError(
                f"{where}: probe of shape {tuple(Q.shape)} does not fit {self.name}: expected "
                f"{expected + ('k',)} (a batch of k probes along the last axis)")
        return Q.to(dtype=self.dtype, device=self.device)

    def _result(self, Y, expected, k, where):
        if tuple(Y.shape) != expected + (k,):
            raise ValueError(f"{self.name}.{where} returned shape {tuple(Y.shape)}, expected "
                             f"{expected + (k,)}")
        return Y

    def matmat(self, Q, *, overwrite=False):
        """Apply to k probes: ``(*in_shape, k) -> (*out_shape, k)``.

        Q is never written unless ``overwrite=True``: that lets an operator declaring
        :attr:`overwrite_probes` use Q's memory (Q's values are then undefined, and the
        result may share its memory), one probe block less at the peak. Other operators,
        and probes with zero strides (broadcast views), ignore it.
        """
        Q = self._probes(Q, self.in_shape, "matmat")
        k = Q.shape[-1]
        self._tally.n += k
        if overwrite and self.overwrite_probes and _writable(Q):
            return self._result(self._matmat(Q, overwrite=True), self.out_shape, k, "matmat")
        return self._result(self._matmat(Q), self.out_shape, k, "matmat")

    def rmatmat_gram(self, R):
        """``(A* R)^T (A* R)`` of k probes ``(*out_shape, k)``: the ``(k, k)`` Gram of the
        adjoint's images (k applications). Computed by the hook ``_rmatmat_gram``: here
        from ``_rmatmat``; an operator that can sum the Gram without keeping the images
        overrides the hook (the propagator P, Theta)."""
        R = self._probes(R, self.out_shape, "rmatmat_gram")
        self._tally.n += R.shape[-1]
        return self._rmatmat_gram(R)

    def _rmatmat_gram(self, R):
        Y = self._result(self._rmatmat(R), self.in_shape, R.shape[-1], "rmatmat")
        return column_gram(Y.reshape(-1, Y.shape[-1]))

    def rmatmat(self, R):
        """Apply the adjoint to k probes: ``(*out_shape, k) -> (*in_shape, k)``."""
        R = self._probes(R, self.out_shape, "rmatmat")
        k = R.shape[-1]
        self._tally.n += k
        return self._result(self._rmatmat(R), self.in_shape, k, "rmatmat")

    def __matmul__(self, other):
        if isinstance(other, LinearOperator):
            return ComposedOperator(self, other)
        try:
            q = other if torch.is_tensor(other) else torch.as_tensor(np.asarray(other))
        except (TypeError, ValueError, RuntimeError) as exc:
            raise TypeError(f"{self.name} @ x needs a LinearOperator or a tensor, got "
                            f"{type(other).__name__}") from exc
        if tuple(q.shape) == self.in_shape:
            return self.matmat(q.unsqueeze(-1)).squeeze(-1)
        if tuple(q.shape[:-1]) == self.in_shape:
            return self.matmat(q)
        raise ValueError(
            f"probe of shape {tuple(q.shape)} does not fit {self.name}: expected "
            f"{self.in_shape} or {self.in_shape + ('k',)}")

    @property
    def T(self):
        """The adjoint ``A*``: the operator itself when self-adjoint."""
        return self if self.self_adjoint else AdjointOperator(self)

    def gram(self):
        """``A A*`` as a :class:`GramOperator` with root ``A`` (self-adjoint, PSD)."""
        return GramOperator(self)

    # -- export
    def to_dense(self, chunk=256):
        """The flat matrix ``(prod(out_shape), prod(in_shape))``, one probe per basis vector
        (``chunk`` per call); for small operators."""
        n_in = math.prod(self.in_shape)
        cols = []
        for start in range(0, n_in, chunk):
            E = basis_block(n_in, start, min(chunk, n_in - start), self.dtype, self.device)
            cols.append(self.matmat(E.reshape(*self.in_shape, -1)).reshape(-1, E.shape[1]))
        return torch.cat(cols, dim=1)

    def to_scipy(self):
        """A ``scipy.sparse.linalg.LinearOperator`` on flat numpy vectors (float64)."""
        from scipy.sparse.linalg import LinearOperator as ScipyOperator

        def mm(Xn, adjoint=False):
            Xn = np.asarray(Xn, dtype=np.float64)
            one = Xn.ndim == 1
            shape = self.out_shape if adjoint else self.in_shape
            Q = torch.as_tensor(Xn.reshape(*shape, -1), dtype=self.dtype, device=self.device)
            Y = (self.rmatmat if adjoint else self.matmat)(Q)
            Y = Y.reshape(-1, Y.shape[-1]).detach().cpu().numpy().astype(np.float64)
            return Y[:, 0] if one else Y

        return ScipyOperator(self.shape, matvec=mm, matmat=mm, dtype=np.float64,
                             rmatvec=lambda x: mm(x, True), rmatmat=lambda x: mm(x, True))

    def __repr__(self):
        return f"<{self.name}: {self.in_shape} -> {self.out_shape}, {self.dtype}>"


class ComposedOperator(LinearOperator):
    """``A @ B``: apply B, then A.

    Raises a ValueError naming both operators when A's input space is not B's output space,
    or their dtypes or devices differ (checked once, here, not on every application).
    """

    def __init__(self, A, B, name=None):
        for role, op in (("left", A), ("right", B)):
            if not isinstance(op, LinearOperator):
                raise TypeError(f"cannot compose: the {role} factor is a "
                                f"{type(op).__name__}, not a LinearOperator")
        if A.in_shape != B.out_shape:
            raise ValueError(f"cannot compose {A.name} (input {A.in_shape}) with {B.name} "
                             f"(output {B.out_shape}): the shapes differ")
        if A.dtype != B.dtype:
            raise ValueError(f"cannot compose {A.name} ({A.dtype}) with {B.name} "
                             f"({B.dtype}): the dtypes differ")
        if not same_device(A.device, B.device):
            raise ValueError(f"cannot compose {A.name} (on {A.device}) with {B.name} (on "
                             f"{B.device}): the devices differ")
        super().__init__(B.in_shape, A.out_shape, A.dtype, A.device,
                         name=name or f"{A.name} {B.name}")
        self.A, self.B = A, B

    @property
    def broadcast_probes(self):
        return self.A.broadcast_probes and self.B.broadcast_probes

    def _matmat(self, Q):
        return self.A._matmat(self.B._matmat(Q))

    def _rmatmat(self, R):
        return self.B._rmatmat(self.A._rmatmat(R))


class AdjointOperator(LinearOperator):
    """``A*`` of an operator that is not self-adjoint (what ``A.T`` returns); ``.T`` gives A
    back. Shares A's application counter."""

    def __init__(self, A):
        name = A.name[:-1] if A.name.endswith("*") else A.name + "*"
        super().__init__(A.out_shape, A.in_shape, A.dtype, A.device, name=name)
        self.A = A
        self._tally = A._tally

    @property
    def broadcast_probes(self):
        return self.A.broadcast_probes

    def _matmat(self, Q):
        return self.A._rmatmat(Q)

    def _rmatmat(self, R):
        return self.A._matmat(R)

    @property
    def T(self):
        return self.A


class GramOperator(LinearOperator):
    """``G = R R*`` for a root ``R``: self-adjoint and PSD, on R's output space.

    The operator knows its factor: a measure of G that works through a root (an effective
    rank through ``R* R`` on the smaller side, a Gram-assembled axis reduction) asks for
    ``G.root`` instead of keeping a table beside the operator. Subclasses may apply G in a
    faster form than ``R (R* Q)`` (the KPFlow K and Theta do); the root stays exact.

    Parameters
    ----------
    root : LinearOperator
    name : str, optional

    Examples
    --------
    >>> import torch
    >>> from kpflow_sk.linalg import DenseOperator
    >>> R = DenseOperator(torch.tensor([[1.0], [2.0]], dtype=torch.float64))
    >>> G = GramOperator(R)
    >>> G.root is R, G.T is G
    (True, True)
    >>> G.to_dense()
    tensor([[1., 2.],
            [2., 4.]], dtype=torch.float64)
    """

    self_adjoint = True

    def __init__(self, root, name=None):
        if not isinstance(root, LinearOperator):
            raise TypeError(f"root must be a LinearOperator, got {type(root).__name__}")
        super().__init__(root.out_shape, root.out_shape, root.dtype, root.device,
                         name=name or f"{root.name} {root.name}*")
        self.root = root

    @property
    def broadcast_probes(self):
        # (subclasses that apply G in another form say so themselves)
        return self.root.broadcast_probes

    def _matmat(self, Q):
        return self.root._matmat(self.root._rmatmat(Q))


def _writable(Q):
    """True unless Q has a zero stride along an axis of size > 1 (a broadcast view, whose
    entries share memory: writing one would change others)."""
    return all(st != 0 or n == 1 for st, n in zip(Q.stride(), Q.shape))


def basis_block(n, start, width, dtype, device):
    """Columns ``start .. start+width`` of the n x n identity, shape ``(n, width)``."""
    E = torch.zeros(n, width, dtype=dtype, device=device)
    idx = torch.arange(width, device=device)
    E[idx + start, idx] = 1
    return E
