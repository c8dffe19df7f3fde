"""Model selection with the tasks' own metrics: scorers for ``cross_validate`` /
``GridSearchCV``, and cross-validated comparisons of cells (:mod:`kpflow_sk.compare`).

>>> from kpflow_sk.model_selection import task_scorer, task_scorers, compare, summarize
"""

from kpflow_sk.compare import compare, summarize
from kpflow_sk.model_selection._scorer import TaskScorer, subset_task, task_scorer, task_scorers

__all__ = ["task_scorer", "task_scorers", "TaskScorer", "subset_task", "compare", "summarize"]
