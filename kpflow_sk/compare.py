"""Cross-validated comparisons of cells: kept as ``kpflow_sk.compare`` for the README and
``docs/scaling.md``; the implementation lives in :mod:`kpflow_sk.model_selection`.

>>> from kpflow_sk.compare import compare, summarize
>>> from kpflow_sk import model_selection
>>> compare is model_selection.compare
True
"""

from kpflow_sk.model_selection import (
    RECORD_FIELDS,
    SUMMARY_FIELDS,
    SchedulerUnreachableError,
    WorkerLostError,
    check_scheduler_address,
    compare,
    dask_backend,
    default_n_threads,
    summarize,
)

__all__ = ["compare", "summarize", "dask_backend", "default_n_threads", "check_scheduler_address",
           "WorkerLostError", "SchedulerUnreachableError", "RECORD_FIELDS", "SUMMARY_FIELDS"]
