"""The per-epoch training record: one ``history_`` entry per completed epoch.

``history_`` is a plain list of dicts with the keys :data:`HISTORY_KEYS`, so
``pandas.DataFrame(est.history_)`` is a table and the list serialises to JSON as is:

- ``epoch``: 1-based epoch number (continues across ``warm_start`` / ``partial_fit`` calls);
- ``loss``: the training loss of the epoch (weighted mean of its mini-batch losses, the same
  number as ``loss_curve_``);
- ``validation_score``: the score on the held-out set (``early_stopping=True``), else None;
- ``duration``: wall-clock seconds of the epoch's optimisation and validation (not of KPFlow
  tracking or callbacks);
- ``learning_rate``: the optimizer's learning rate during the epoch.
"""

from __future__ import annotations

__all__ = ["HISTORY_KEYS", "epoch_record"]

HISTORY_KEYS = ("epoch", "loss", "validation_score", "duration", "learning_rate")


def epoch_record(epoch, loss, validation_score, duration, learning_rate):
    """One ``history_`` entry (plain Python numbers).

    Returns
    -------
    dict
        Keys :data:`HISTORY_KEYS`.
    """
    return {"epoch": int(epoch), "loss": float(loss),
            "validation_score": None if validation_score is None else float(validation_score),
            "duration": float(duration), "learning_rate": float(learning_rate)}
