"""KPFlow analysis: the decomposition of a model's gradient flow, its measures, and tracking
during fit (the analysis batch and the ``kp_history_`` record schema)."""

from kpflow_sk.analysis._collapse import COLLAPSE_DIM, collapse_dim
from kpflow_sk.analysis._conventions import CONVENTIONS, FIGURE_NCOMP, figure_rank
from kpflow_sk.analysis._decomposition import MEASURED_OPERATORS, KPDecomposition
from kpflow_sk.analysis._grouping import (
    ACROSS,
    GROUPING_TASKS,
    ONSET,
    WITHIN,
    cosine_matrix,
    grouping_index,
    grouping_verdict,
    onset,
    trajectory_grouping,
)
from kpflow_sk.analysis._network import network_decomposition
from kpflow_sk.analysis._tracking import (
    HISTORY_FIELDS,
    HISTORY_LABELS,
    RANK_FIELDS,
    SUMMARY_FIELDS,
    TABLE_FIELDS,
    analysis_batch,
    select_analysis_trials,
    snapshot,
)

__all__ = ["KPDecomposition", "MEASURED_OPERATORS", "collapse_dim", "COLLAPSE_DIM",
           "CONVENTIONS", "FIGURE_NCOMP", "figure_rank", "HISTORY_FIELDS", "HISTORY_LABELS",
           "RANK_FIELDS", "TABLE_FIELDS", "SUMMARY_FIELDS",
           "analysis_batch", "network_decomposition", "select_analysis_trials", "snapshot",
           "GROUPING_TASKS", "WITHIN", "ACROSS", "ONSET", "cosine_matrix", "grouping_index",
           "onset", "trajectory_grouping", "grouping_verdict"]
