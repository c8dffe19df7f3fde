"""Training callbacks, in skorch's manner: objects the training loop calls after every epoch.

A callback is any object with ``on_epoch_end(estimator, record)``; ``record`` is the epoch's
``history_`` entry (see :mod:`kpflow_sk.estimators._history`). Returning True, or raising
:class:`StopTraining`, ends training after that epoch (``stop_reason_ = "callback"``).
``on_train_begin(estimator)`` and ``on_train_end(estimator)`` are called when defined.

Unlike skorch, callbacks cannot change the random stream of training: shuffling uses the
estimator's own seeded generator, so the same ``random_state`` gives the same weights with or
without a callback that only observes (even one that calls ``predict`` or ``score``).

>>> class StopBelow:
...     def __init__(self, loss):
...         self.loss = loss
...     def on_epoch_end(self, est, record):
...         return record["loss"] < self.loss
"""

from __future__ import annotations

__all__ = ["Callback", "StopTraining", "check_callbacks"]


class StopTraining(Exception):
    """Raise from a callback's ``on_epoch_end`` to stop training after the current epoch."""


class Callback:
    """Base class with no-op hooks (subclassing it is optional; any object with
    ``on_epoch_end`` works)."""

    def on_train_begin(self, estimator):
        """Called once per ``fit`` / ``partial_fit`` call, before the first epoch."""

    def on_epoch_end(self, estimator, record):
        """Called after every completed epoch.

        Parameters
        ----------
        estimator : BaseRecurrentEstimator
            The estimator being trained (its ``history_`` already holds ``record``).
        record : dict
            This epoch's ``history_`` entry.

        Returns
        -------
        stop : bool or None
            True stops training after this epoch.
        """

    def on_train_end(self, estimator):
        """Called once per ``fit`` / ``partial_fit`` call, after the last epoch (not after
        an interrupt or an error)."""


def check_callbacks(callbacks):
    """The ``callbacks`` parameter as a list; ``TypeError`` naming it when malformed.

    Parameters
    ----------
    callbacks : list or tuple of objects with ``on_epoch_end``, or None

    Returns
    -------
    list
    """
    if callbacks is None:
        return []
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(
            f"callbacks must be a list of objects with an on_epoch_end(estimator, record) "
            f"method (or None); got {type(callbacks).__name__}")
    for i, cb in enumerate(callbacks):
        if not callable(getattr(cb, "on_epoch_end", None)):
            raise TypeError(
                f"callbacks[{i}] ({cb!r}) has no on_epoch_end(estimator, record) method")
        for hook in ("on_train_begin", "on_train_end"):
            if hasattr(cb, hook) and not callable(getattr(cb, hook)):
                raise TypeError(f"callbacks[{i}].{hook} is not callable")
    return list(callbacks)
