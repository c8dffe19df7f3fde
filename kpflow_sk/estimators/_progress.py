"""tqdm progress for the slow steps outside the epoch loop (snapshots, decompositions).

A *note* is a transient one-step bar (``leave=False``, on stderr) that shows that a slow step
is running and for how long; it is closed (and erased) when the step ends. Shown only when
the estimator's ``verbose`` is set.
"""

from __future__ import annotations

__all__ = ["note", "done"]


def note(est, desc):
    """Open a transient bar named ``desc`` when ``est.verbose``; returns it (or None)."""
    if not getattr(est, "verbose", 0):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=1, desc=desc, leave=False, bar_format="{desc}: {elapsed}")


def done(bar):
    """Finish and close a bar opened by :func:`note` (None is ignored)."""
    if bar is not None:
        bar.update(1)
        bar.close()
