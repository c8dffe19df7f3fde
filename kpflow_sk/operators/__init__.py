"""Trajectory-space operators of KPFlow: J, K, P, P*, P^-1, Theta (docs/conventions.md s. 2)."""

from kpflow_sk.operators._base import (
    AdjointOperator,
    AxisCompression,
    ComposedOperator,
    TrajectoryOperator,
)
from kpflow_sk.operators._operators import (
    HiddenNTK,
    InversePropagator,
    ParameterJacobian,
    ParameterOperator,
    Propagator,
    kp_operators,
)
from kpflow_sk.operators._trajectory import (
    DEFAULT_MEMORY_BUDGET,
    STRATEGIES,
    ParameterSpace,
    Trajectory,
)

__all__ = [
    "TrajectoryOperator", "ComposedOperator", "AdjointOperator", "AxisCompression",
    "Trajectory", "ParameterSpace",
    "ParameterJacobian", "ParameterOperator", "Propagator", "InversePropagator", "HiddenNTK",
    "kp_operators", "STRATEGIES", "DEFAULT_MEMORY_BUDGET",
]
