"""Trajectory-space operators of KPFlow: J, K, P, P*, P^-1, Theta (docs/conventions.md s. 2).

All are :class:`kpflow_sk.linalg.LinearOperator` s (linalg owns the protocol);
``ComposedOperator`` and ``AdjointOperator`` are linalg's, re-exported here.
"""

from kpflow_sk.linalg import AdjointOperator, ComposedOperator, GramOperator, LinearOperator
from kpflow_sk.operators._base import AxisCompression, AxisEmbedding, TrajectoryOperator
from kpflow_sk.operators._operators import (
    PRECISIONS,
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
    "LinearOperator", "TrajectoryOperator", "ComposedOperator", "AdjointOperator",
    "GramOperator", "AxisEmbedding", "AxisCompression",
    "Trajectory", "ParameterSpace",
    "ParameterJacobian", "ParameterOperator", "Propagator", "InversePropagator", "HiddenNTK",
    "kp_operators", "STRATEGIES", "DEFAULT_MEMORY_BUDGET", "PRECISIONS",
]
