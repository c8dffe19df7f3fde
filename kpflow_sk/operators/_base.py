"""Trajectory-space operators on linalg's protocol: the base built from a Trajectory, and the
axis compression.

Every operator here is a :class:`kpflow_sk.linalg.LinearOperator` (one ``_matmat`` hook on
probes along the last axis, ``_rmatmat`` for the adjoint, a ``self_adjoint`` flag, one
application counter); ``op @ q`` takes one vector ``(*in_shape)`` or a probe batch
``(*in_shape, k)``, ``op @ other`` composes, ``op.T`` is the adjoint. The cells'
linearizations work probes-first, ``(k, B, T, H)``: the operators move the probe axis at
their boundary (views, no copies).
"""

from __future__ import annotations

import math

from kpflow_sk.linalg import ComposedOperator, LinearOperator

__all__ = ["TrajectoryOperator", "AxisEmbedding", "AxisCompression"]


class TrajectoryOperator(LinearOperator):
    """A LinearOperator of one :class:`~kpflow_sk.operators.Trajectory`: its dtype and device,
    and its trajectory space ``(B, T, H)`` unless other shapes are given.

    Parameters
    ----------
    traj : Trajectory
    in_shape, out_shape : tuple of int, optional
        Default: ``traj.shape``.
    """

    # every trajectory operator reads its probes (expanded views included) without
    # writing them, and returns new memory
    broadcast_probes = True

    def __init__(self, traj, in_shape=None, out_shape=None):
        super().__init__(traj.shape if in_shape is None else in_shape,
                         traj.shape if out_shape is None else out_shape, traj.dtype,
                         traj.device)
        self.traj = traj


class AxisEmbedding(LinearOperator):
    """``E / sqrt(M)``: an axis vector ``(n,)`` broadcast along the other axes of ``shape``.

    E is the ``(N, n)`` embedding of inputs constant along the other axes (``M = N / n``
    entries each); the adjoint sums over them. ``E^T G E / M`` is the ``reduce="mean"``
    compression of G (DESIGN.md section 3).

    Parameters
    ----------
    shape : tuple of int
        The ``(B, T, H)`` space.
    axis : int
        0 (trial), 1 (time) or 2 (hidden).
    dtype, device
    """

    def __init__(self, shape, axis, dtype, device):
        if len(shape) != 3 or axis not in (0, 1, 2):
            raise ValueError(f"axis must be 0, 1 or 2 of a (B, T, H) space, got {axis!r}")
        n = shape[axis]
        super().__init__((n,), shape, dtype, device, name="E")
        self.axis = axis
        self.scale = 1.0 / math.sqrt(math.prod(shape) // n)

    def _matmat(self, Q):
        view = [1, 1, 1, Q.shape[-1]]
        view[self.axis] = Q.shape[0]
        return (Q * self.scale).reshape(view).expand(*self.out_shape, Q.shape[-1]).contiguous()

    def _rmatmat(self, R):
        dims = tuple(d for d in range(3) if d != self.axis)
        return R.sum(dims) * self.scale


class AxisCompression(ComposedOperator):
    """``A_ax = E^T op / sqrt(M)``: an operator on ``(B, T, H)`` summed onto one axis.

    With E the :class:`AxisEmbedding`, ``A_ax A_ax* = E^T op op* E / M`` is the
    ``reduce="mean"`` compression of the Gram ``op op*`` (the reference convention's
    ``Theta^2``, DESIGN.md 3.1). Passing it to ``kpflow_sk.linalg.effective_rank(...,
    gram=True, exact=False)`` estimates that compression's rank with as many probes as the
    budget allows instead of one application of ``op`` per axis index (the exact path).

    Parameters
    ----------
    op : LinearOperator
        With ``out_shape`` of length 3.
    axis : int
        0 (trial), 1 (time) or 2 (hidden).
    """

    def __init__(self, op, axis):
        if len(op.out_shape) != 3 or axis not in (0, 1, 2):
            raise ValueError(f"axis must be 0, 1 or 2 of a (B, T, H) space, got {axis!r}")
        E = AxisEmbedding(op.out_shape, axis, op.dtype, op.device)
        super().__init__(E.T, op, name=f"E^T {op.name}")
        self.op, self.axis, self.scale = op, axis, E.scale
