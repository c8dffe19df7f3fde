"""The KPFlow operators (docs/conventions.md s. 2): J, K = J J*, P, P*, P^-1 and Theta = P K P*.

K, Theta and P P* are :class:`kpflow_sk.linalg.GramOperator` s: each knows its root (J,
P J, P), so a measure asks ``op.root`` for the factor of its Gram.
"""

from __future__ import annotations

import torch

from kpflow_sk.linalg import GramOperator
from kpflow_sk.operators._base import TrajectoryOperator
from kpflow_sk.operators._trajectory import Trajectory

__all__ = [
    "ParameterJacobian", "ParameterOperator", "Propagator", "InversePropagator",
    "HiddenNTK", "kp_operators", "PRECISIONS",
]

#: ``precision`` of the operators' GEMMs (the names of ``torch.set_float32_matmul_precision``):
#: ``"highest"`` in the parameters' dtype; ``"medium"`` bfloat16 operands with float32
#: accumulation in the structured K and in the propagator's steps (P, P*) of float32
#: models (float64 stays exact, as in torch).
PRECISIONS = ("highest", "medium")


def check_precision(precision):
    """Validate ``precision`` (one of :data:`PRECISIONS`)."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; valid choices: {list(PRECISIONS)}")
    return precision


def gemm_dtype_of(precision, dtype):
    """The GEMM operand dtype of ``precision`` for a model of ``dtype`` (None: its own)."""
    if precision == "medium" and dtype == torch.float32:
        return torch.bfloat16
    return None


class ParameterJacobian(TrajectoryOperator):
    """``J``: parameter space -> trajectory space, ``(J v)_t = dF/dtheta(z_{t-1}, x_t) v``.

    The forcing a parameter change induces at every step with the states held fixed.
    ``J*`` is one vjp over all (b, t) at once.
    """

    name = "J"

    def __init__(self, traj: Trajectory):
        super().__init__(traj, in_shape=(traj.parameter_space.size,))

    def _matmat(self, Q):
        return self.traj.param_jvp(Q.mT).movedim(0, -1)

    def _rmatmat(self, R):
        return self.traj.param_vjp(R.movedim(-1, 0)).mT


class ParameterOperator(GramOperator):
    """``K = J J*`` on trajectory space: self-adjoint, PSD, summed over (b, t); root ``J``.

    Kernel block between (b, t) and (b', t'): ``dF_bt/dtheta dF_b't'/dtheta^T``.

    ``precision="medium"`` applies the structured K of a float32 model with bfloat16 GEMM
    operands (float32 accumulation; relative error a few 1e-3, about half the time on CPUs
    with AVX512-BF16 and on GPUs); ``"highest"`` (default) is exact to the model's dtype.
    The generic path (J J*: node and user cells), the root J and the axis closed forms are
    always computed in the model's dtype. (P has the same switch: :class:`Propagator`.)
    """

    def __init__(self, J: ParameterJacobian, precision="highest"):
        super().__init__(J, name="K")
        self.J = J
        self.precision = check_precision(precision)

    @property
    def gemm_dtype(self):
        """The dtype of the structured K's GEMMs (None: the model's own)."""
        return gemm_dtype_of(self.precision, self.dtype)

    @property
    def structured(self):
        """True when K is applied in its factored form (affine-gated cells, see
        ``AffineParameterLinearization.kernel_apply``) instead of through J and J*."""
        return getattr(self.J.traj.parameter_linearization, "structured_kernel", False)

    def _matmat(self, Q, overwrite=False):
        # overwrite: the structured K may write K Q into Q's memory (Theta's chain)
        if self.structured:
            lin = self.J.traj.parameter_linearization
            return lin.kernel_apply(Q.movedim(-1, 0), self.gemm_dtype,
                                    overwrite).movedim(0, -1)
        return super()._matmat(Q)

    def axis_mean(self, axis, square=False):
        """Exact mean compression of K (``square=False``) or K^2 onto axis 0, 1 or 2, or None
        when this cell has no structured form for it (then use :func:`kpflow_sk.linalg`)."""
        if not self.structured or (square and axis != 2):
            return None
        return self.J.traj.parameter_linearization.kernel_axis_mean(axis, square)


class Propagator(TrajectoryOperator):
    """``P``: solves the variational recurrence ``r_t = q_t + A_t r_{t-1}``, ``r_0 = 0``.

    The adjoint ``P*`` runs backward, ``r_t = q_t + A_{t+1}^T r_{t+1}`` (exactly BPTT).

    ``precision="medium"``: each step's GEMM takes bfloat16 operands (``A_t`` materialized,
    used from 8 probes up, or the factored form's ``W``, from 16 probes up; the previous
    step rounded to 8 significant bits) and its product is added to ``q_t`` in float32
    (relative error a few 1e-3, a third of the time on CPUs with AVX512-BF16;
    ``tests/operators/test_propagate_medium.py``). Fewer probes, the autodiff form (node,
    user cells) and float64 models stay exact.
    """

    name = "P"

    def __init__(self, traj: Trajectory, precision="highest"):
        super().__init__(traj)
        self.precision = check_precision(precision)

    @property
    def gemm_dtype(self):
        """The dtype of the steps' GEMM operands (None: the model's own)."""
        return gemm_dtype_of(self.precision, self.dtype)

    def _matmat(self, Q, overwrite=False):
        # overwrite: P Q may take Q's memory (Theta's chain)
        lin = self.traj.state_linearization(Q.shape[-1])
        return lin.propagate(Q.movedim(-1, 0), overwrite=overwrite,
                             gemm_dtype=self.gemm_dtype).movedim(0, -1)

    def _rmatmat(self, R, overwrite=False):
        # overwrite: P* R may take R's memory (Theta's chain, with matmat(overwrite=True))
        lin = self.traj.state_linearization(R.shape[-1])
        return lin.propagate(R.movedim(-1, 0), adjoint=True, overwrite=overwrite,
                             gemm_dtype=self.gemm_dtype).movedim(0, -1)

    def _matmat_gram(self, Q):
        """``(P Q)^T (P Q)`` of k probes Q ``(B, T, H, k)`` (no tally: Theta's last factor),
        each step's images added and dropped in the dense form."""
        lin = self.traj.state_linearization(Q.shape[-1])
        return lin.propagate_gram(Q.movedim(-1, 0), gemm_dtype=self.gemm_dtype)

    def _rmatmat_gram(self, R):
        # rmatmat_gram: the Gram of P*'s images (E^T P P* E, the mean reduction of P P*),
        # each step's images added and dropped where the dense form is used (no probe block)
        lin = self.traj.state_linearization(R.shape[-1])
        return lin.propagate_gram(R.movedim(-1, 0), adjoint=True, gemm_dtype=self.gemm_dtype)


class InversePropagator(TrajectoryOperator):
    """``P^-1 q = q_t - A_t q_{t-1}`` (no recurrence: all steps in one batched pass)."""

    name = "P^-1"

    def _matmat(self, Q):
        V = Q.movedim(-1, 0)
        lin = self.traj.state_linearization(V.shape[0])
        shifted = torch.zeros_like(V)
        shifted[:, :, 1:] = V[:, :, :-1]
        return (V - lin.jvp(shifted)).movedim(0, -1)

    def _rmatmat(self, R):
        # (P^-1)* u = u_t - A_{t+1}^T u_{t+1}
        U = R.movedim(-1, 0)
        lin = self.traj.state_linearization(U.shape[0])
        g = lin.vjp(U)
        out = U.clone()
        out[:, :, :-1] -= g[:, :, 1:]
        return out.movedim(0, -1)


class HiddenNTK(GramOperator):
    """``Theta = P K P* = (P J)(P J)*``, the hidden-state NTK of the unrolled network; root
    ``P J`` (``dZ/dtheta``), applied as ``P K P*`` (with a structured K this skips parameter
    space altogether)."""

    def __init__(self, P: Propagator, J: ParameterJacobian, K: ParameterOperator = None):
        super().__init__(P @ J, name="Theta")
        self.root.name = "P J"
        self.P, self.K = P, (K if K is not None else ParameterOperator(J))

    @property
    def PJ(self):
        """The root ``P J`` (the paper's name for it)."""
        return self.root

    # matmat(Q, overwrite=True) may apply Theta in Q's memory (see _matmat)
    overwrite_probes = True

    def _matmat(self, Q, overwrite=False):
        # P* Q is new memory (in Q's own with overwrite: each step of the backward
        # recurrence reads only q_t and the step before, so in place is safe), which K and
        # then P overwrite: one probe block of memory instead of three (fewer page faults,
        # a third of the peak at large sizes), or none beside the caller's probes
        return self.P._matmat(self._K_Pstar(Q, overwrite), overwrite=True)

    def _K_Pstar(self, Q, overwrite=False):
        return self.K._matmat(self.P._rmatmat(Q, overwrite=overwrite), overwrite=True)

    def _rmatmat_gram(self, R):
        # rmatmat_gram, the mean reduction of Theta^2 (the reference convention): P* R and K
        # as in matmat, then the last P's images are added to the Gram step by step and
        # dropped (Propagator._matmat_gram) instead of kept
        return self.P._matmat_gram(self._K_Pstar(R))


def kp_operators(traj: Trajectory, precision="highest") -> dict:
    """All operators of one trajectory: ``J, K, P, Pinv, Theta, PPt``.

    ``precision``: of K's and P's GEMMs, hence of Theta's and P P*'s (see
    :class:`ParameterOperator` and :class:`Propagator`)."""
    J = ParameterJacobian(traj)
    P = Propagator(traj, precision)
    K = ParameterOperator(J, precision)
    return {"J": J, "K": K, "P": P, "Pinv": InversePropagator(traj),
            "Theta": HiddenNTK(P, J, K), "PPt": GramOperator(P, name="P P*")}
