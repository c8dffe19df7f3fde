"""KPFlow analysis: the decomposition of a model's gradient flow and its measures."""

from kpflow_sk.analysis._decomposition import MEASURED_OPERATORS, KPDecomposition

__all__ = ["KPDecomposition", "MEASURED_OPERATORS"]
