"""tqdm progress: the epoch bar of ``fit`` and notes for the slow steps outside the epoch loop
(snapshots, decompositions).

A *note* is a transient one-step bar (``leave=False``, on stderr) that shows that a slow step
is running and for how long; it is closed (and erased) when the step ends. Shown only when
the estimator's ``verbose`` is set.
"""

from __future__ import annotations

__all__ = ["note", "done", "epoch_bar", "epoch_done"]


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


def epoch_bar(est, n_epochs):
    """The epoch bar of ``fit`` (kept on screen) when ``est.verbose``; else None."""
    if not getattr(est, "verbose", 0):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=n_epochs, desc=type(est).__name__, leave=True)


def epoch_done(bar, loss, score=None):
    """Advance the epoch bar by one and show the epoch's loss (and validation score)."""
    if bar is None:
        return
    bar.update(1)
    postfix = {"loss": f"{loss:.4g}"}
    if score is not None:
        postfix["val_score"] = f"{score:.4g}"
    bar.set_postfix(postfix)
