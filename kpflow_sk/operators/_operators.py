"""The KPFlow operators (docs/conventions.md s. 2): J, K = J J*, P, P*, P^-1 and Theta = P K P*."""

from __future__ import annotations

import torch

from kpflow_sk.operators._base import ComposedOperator, TrajectoryOperator
from kpflow_sk.operators._trajectory import Trajectory

__all__ = [
    "ParameterJacobian", "ParameterOperator", "Propagator", "InversePropagator",
    "HiddenNTK", "kp_operators",
]


class ParameterJacobian(TrajectoryOperator):
    """``J``: parameter space -> trajectory space, ``(J v)_t = dF/dtheta(z_{t-1}, x_t) v``.

    The forcing a parameter change induces at every step with the states held fixed.
    ``J*`` is one vjp over all (b, t) at once.
    """

    name = "J"

    def __init__(self, traj: Trajectory):
        super().__init__((traj.parameter_space.size,), traj.shape, traj.dtype, traj.device)
        self.traj = traj

    def _apply(self, V):
        return self.traj.param_jvp(V)

    def _rapply(self, U):
        return self.traj.param_vjp(U)


class ParameterOperator(ComposedOperator):
    """``K = J J*`` on trajectory space: self-adjoint, PSD, summed over (b, t).

    Kernel block between (b, t) and (b', t'): ``dF_bt/dtheta dF_b't'/dtheta^T``.
    """

    def __init__(self, J: ParameterJacobian):
        super().__init__(J, J.T, name="K")
        self.J = J

    @property
    def structured(self):
        """True when K is applied in its factored form (affine-gated cells, see
        ``AffineParameterLinearization.kernel_apply``) instead of through J and J*."""
        return getattr(self.J.traj.parameter_linearization, "structured_kernel", False)

    def _apply(self, V):
        if self.structured:
            return self.J.traj.parameter_linearization.kernel_apply(V)
        return super()._apply(V)

    def _rapply(self, U):
        return self._apply(U)

    def axis_mean(self, axis, square=False):
        """Exact mean compression of K (``square=False``) or K^2 onto axis 0, 1 or 2, or None
        when this cell has no structured form for it (then use :func:`kpflow_sk.linalg`)."""
        if not self.structured or (square and axis != 2):
            return None
        return self.J.traj.parameter_linearization.kernel_axis_mean(axis, square)

    @property
    def T(self):
        return self


class Propagator(TrajectoryOperator):
    """``P``: solves the variational recurrence ``r_t = q_t + A_t r_{t-1}``, ``r_0 = 0``.

    The adjoint ``P*`` runs backward, ``r_t = q_t + A_{t+1}^T r_{t+1}`` (exactly BPTT).
    """

    name = "P"

    def __init__(self, traj: Trajectory):
        super().__init__(traj.shape, traj.shape, traj.dtype, traj.device)
        self.traj = traj

    def _apply(self, V):
        return self.traj.state_linearization(V.shape[0]).propagate(V)

    def _rapply(self, U):
        return self.traj.state_linearization(U.shape[0]).propagate(U, adjoint=True)


class InversePropagator(TrajectoryOperator):
    """``P^-1 q = q_t - A_t q_{t-1}`` (no recurrence: all steps in one batched pass)."""

    name = "P^-1"

    def __init__(self, traj: Trajectory):
        super().__init__(traj.shape, traj.shape, traj.dtype, traj.device)
        self.traj = traj

    def _apply(self, V):
        lin = self.traj.state_linearization(V.shape[0])
        shifted = torch.zeros_like(V)
        shifted[:, :, 1:] = V[:, :, :-1]
        return V - lin.jvp(shifted)

    def _rapply(self, U):
        # (P^-1)* u = u_t - A_{t+1}^T u_{t+1}
        lin = self.traj.state_linearization(U.shape[0])
        g = lin.vjp(U)
        out = U.clone()
        out[:, :, :-1] -= g[:, :, 1:]
        return out


class HiddenNTK(ComposedOperator):
    """``Theta = P K P* = (P J)(P J)*``, the hidden-state NTK of the unrolled network."""

    def __init__(self, P: Propagator, J: ParameterJacobian, K: ParameterOperator = None):
        self.PJ = ComposedOperator(P, J, name="P J")
        super().__init__(self.PJ, self.PJ.T, name="Theta")
        self.P, self.K = P, (K if K is not None else ParameterOperator(J))

    def _apply(self, V):
        # P K P*: with a structured K this skips parameter space altogether
        return self.P._apply(self.K._apply(self.P._rapply(V)))

    def _rapply(self, U):
        return self._apply(U)

    @property
    def T(self):
        return self


def kp_operators(traj: Trajectory) -> dict:
    """All operators of one trajectory: ``J, K, P, Pinv, Theta, PPt``."""
    J = ParameterJacobian(traj)
    P = Propagator(traj)
    K = ParameterOperator(J)
    return {"J": J, "K": K, "P": P, "Pinv": InversePropagator(traj),
            "Theta": HiddenNTK(P, J, K), "PPt": ComposedOperator(P, P.T, name="P P*")}
