"""The two ways a distributed comparison fails without an answer: a worker died, or the
scheduler could not be reached (:func:`~kpflow_sk.model_selection.compare`,
:func:`~kpflow_sk.model_selection.dask_backend`)."""

from __future__ import annotations

__all__ = ["WorkerLostError", "SchedulerUnreachableError"]


class WorkerLostError(RuntimeError):
    """A worker process died (killed by a signal, the OOM killer or a batch scheduler) while
    running a fold, and no retry was left; the comparison is abandoned.

    Attributes
    ----------
    workers : list of str
        Addresses of the Dask workers that were lost (empty when unknown, e.g. loky).
    """

    def __init__(self, message, workers=()):
        super().__init__(message)
        self.workers = list(workers)


class SchedulerUnreachableError(ConnectionError):
    """The Dask scheduler given to :func:`compare` could not be reached in time."""


def _is_worker_loss(exc):
    """Whether ``exc`` says that a worker process died (rather than that a fold failed)."""
    from concurrent.futures.process import BrokenProcessPool

    # loky: TerminatedWorkerError (a BrokenProcessPool); Dask: distributed.KilledWorker, or a
    # task cancelled because the scheduler forgot it (FutureCancelledError)
    return (isinstance(exc, (BrokenProcessPool, WorkerLostError))
            or type(exc).__name__ in ("KilledWorker", "FutureCancelledError"))
