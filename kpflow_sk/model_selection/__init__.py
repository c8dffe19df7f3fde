"""Model selection: scorers with the tasks' own metrics for ``cross_validate`` /
``GridSearchCV``, cross-validated comparisons of cells (:func:`compare`, :func:`summarize`)
and joblib's Dask backend made safe against dead workers (:func:`dask_backend`).

>>> from kpflow_sk.model_selection import task_scorer, task_scorers, compare, summarize
"""

from kpflow_sk.model_selection._compare import RECORD_FIELDS, SUMMARY_FIELDS, compare, summarize
from kpflow_sk.model_selection._dask import check_scheduler_address, dask_backend
from kpflow_sk.model_selection._errors import SchedulerUnreachableError, WorkerLostError
from kpflow_sk.model_selection._scorer import TaskScorer, subset_task, task_scorer, task_scorers
from kpflow_sk.model_selection._threads import default_n_threads

__all__ = ["task_scorer", "task_scorers", "TaskScorer", "subset_task", "compare", "summarize",
           "dask_backend", "default_n_threads", "check_scheduler_address", "WorkerLostError",
           "SchedulerUnreachableError", "RECORD_FIELDS", "SUMMARY_FIELDS"]
