"""The one definition (and budget) of the collapse dimension (docs/conventions.md section 3).

``collapse_dim_``, the last ``kp_history_`` record, ``KPDecomposition.summary()``, the CLI,
the report and the zoo cards all call :func:`collapse_dim`, so the same weights and trials
give the same number everywhere.
"""

from __future__ import annotations

__all__ = ["collapse_dim", "COLLAPSE_DIM"]

#: What the collapse dimension is, for tables and figure captions.
COLLAPSE_DIM = ("participation ratio of Theta = P K P* on the whole trajectory space "
                "(convention 'default')")


def collapse_dim(D, *, rtol=None, return_result=False):
    """Collapse dimension of a decomposition: ``pr`` of Theta on the whole trajectory space.

    The number of independent directions in which gradient descent can still move the hidden
    dynamics (the effective rank of the hidden-state NTK). Uses the decomposition's own seed
    (``D.random_state``) and the accuracy contract's default tolerance
    (``linalg.DEFAULT_RTOL`` = 2%: the budget grows until the ~95% interval is within 2% of
    the value, up to linalg's cap), or the fixed budget ``D.n_probes`` when one was set;
    dense when the space is small enough to be exact.

    Parameters
    ----------
    D : KPDecomposition
    rtol : float, optional
        Another relative tolerance (only for explicit calls: the tracked, printed and stored
        collapse dim always uses the default).
    return_result : bool, default=False
        Return the :class:`kpflow_sk.linalg.EffectiveRank` result (value, applications used,
        exactness) instead of the float.

    Returns
    -------
    float or EffectiveRank
    """
    res = D.effective_rank("Theta", axis=None, method="pr", rtol=rtol, return_result=True)
    return res if return_result else float(res.value)
