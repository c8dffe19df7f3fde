"""The three named conventions of an "effective rank" (docs/conventions.md section 3.1).

The same operator gives different effective ranks under the definitions in use; each is
offered under its own name so that every number says which one it is:

``"default"`` (this package)
    K, P P* and Theta themselves (P and J through their Gram), whole space or reduced to one
    axis as requested (``reduce="trace"`` or ``"mean"``), ``"pr"`` or ``"var95"`` of the
    eigenvalues.
``"reference"`` (the reference code's ``Operator.effdim``)
    The Gram ``A A*`` of *every* operator A: K^2, P P*, Theta^2 (and (P P*)^2 for ``"PPt"``,
    J J* = K for ``"J"``), compressed with ``reduce="mean"``, participation ratio of the
    compressed Gram. Reproduces the numbers the reference code prints (e.g. its hidden-axis
    effdim of P K P*, 35.98 on a GRU H=64, B=20, T=90, is ``pr`` of mean-compressed Theta^2).
``"figure"`` (the paper's "effective rank over GD" figure, poster Fig. 4)
    The same mean-compressed Gram as ``"reference"``, on the time axis, measured by
    :func:`figure_rank`: var95 of the *squared* eigenvalues normalised over the top
    ``ncomp`` only. Reproduces the poster's left panel (``ncomp="all"``: before training)
    and right panel (``ncomp`` 20 for K, 60 for P: the authors' over-training script).
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["CONVENTIONS", "FIGURE_NCOMP", "FIGURE_LEVEL", "figure_rank", "check_convention",
           "resolve_measure", "resolve_ncomp"]

#: convention name -> what it measures (for tables and error messages).
CONVENTIONS = {
    "default": "this package: K, P P*, Theta as requested, pr or var95 of their eigenvalues",
    "reference": "reference code's Operator.effdim: pr of the mean-compressed Gram A A*",
    "figure": "paper's figure: var95 of squared eigenvalues of the mean-compressed Gram, "
              "top ncomp",
}
#: Default ``ncomp`` of the ``"figure"`` convention per operator: 20 for K and 60 for P as in
#: the authors' over-training script. The script has no value for Theta (and J); they get
#: K's 20 (Theta's rank is at most K's). The poster's before-training panel uses every
#: eigenvalue: pass ``ncomp="all"``.
FIGURE_NCOMP = {"K": 20, "J": 20, "P": 60, "PPt": 60, "Theta": 20}
#: The variance level of the figure's rank.
FIGURE_LEVEL = 0.95


def check_convention(convention):
    """``convention`` if it is one of :data:`CONVENTIONS`, else a ValueError naming it."""
    if not isinstance(convention, str) or convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}; valid choices: "
                         f"{sorted(CONVENTIONS)}")
    return convention


def resolve_measure(convention, axis, reduce, method, ncomp):
    """``(reduce, method)`` of a measure under ``convention``; a ValueError on a clash.

    ``"default"``: ``reduce`` (None: ``"trace"``) and ``method`` (None: ``"pr"``) as asked.
    ``"reference"`` and ``"figure"`` fix both: ``"mean"``, and ``"pr"`` or ``"figure"``.

    Examples
    --------
    >>> resolve_measure("default", None, None, None, None)
    ('trace', 'pr')
    >>> resolve_measure("figure", "time", None, None, 20)
    ('mean', 'figure')
    """
    check_convention(convention)
    if convention == "default":
        if ncomp is not None:
            raise ValueError("ncomp is a parameter of convention='figure' only")
        return ("trace" if reduce is None else reduce), ("pr" if method is None else method)
    if reduce not in (None, "mean"):
        raise ValueError(f"convention={convention!r} compresses with reduce='mean' (as the "
                         f"reference code does); got reduce={reduce!r}")
    want = "pr" if convention == "reference" else "figure"
    if method not in (None, want):
        raise ValueError(f"convention={convention!r} defines its own number "
                         f"(method={want!r}); got method={method!r}")
    if convention == "figure" and axis is None:
        raise ValueError("convention='figure' measures one axis (the paper's figure is the "
                         "time axis): pass axis='time'")
    if convention == "reference" and ncomp is not None:
        raise ValueError("ncomp is a parameter of convention='figure' only")
    return "mean", want


def resolve_ncomp(ncomp, name, n):
    """The number of leading eigenvalues the figure's rank uses, at most ``n``.

    Parameters
    ----------
    ncomp : None, "all" or int >= 1
        None: :data:`FIGURE_NCOMP` ``[name]``; ``"all"``: every eigenvalue.
    name : str
        Operator name (for the default).
    n : int
        Number of eigenvalues available (the size of the reduced axis).
    """
    if ncomp is None:
        ncomp = FIGURE_NCOMP.get(name, n)
    elif isinstance(ncomp, str):
        if ncomp != "all":
            raise ValueError(f"ncomp must be None, 'all' or an int >= 1, got {ncomp!r}")
        ncomp = n
    elif not isinstance(ncomp, numbers.Integral) or isinstance(ncomp, bool) or ncomp < 1:
        raise ValueError(f"ncomp must be None, 'all' or an int >= 1, got {ncomp!r}")
    return int(min(int(ncomp), n))


def figure_rank(eigenvalues, ncomp=None, level=FIGURE_LEVEL):
    """The paper's figure rank: var95 of squared eigenvalues over the top ``ncomp``.

    With ``l_1 >= l_2 >= ...`` the top ``ncomp`` eigenvalues (negative rounding clipped to
    0), ``v_i = l_i^2 / sum_j l_j^2`` (normalised over those ``ncomp`` only), ``c_i`` their
    cumulative sums (``c_0 = 0``) and ``i1`` the first index with ``c_i1 > level``:
    ``rank = (i1 - 1) + (level - c_(i1-1)) / (c_i1 - c_(i1-1))`` (docs/conventions.md section 3.1).
    One dominant eigenvalue gives about 0.95, not 1.

    Parameters
    ----------
    eigenvalues : array-like of shape (n,)
    ncomp : int or None
        Leading eigenvalues kept (None: all).
    level : float, default=0.95

    Returns
    -------
    float
        0.0 when every eigenvalue is 0.

    Examples
    --------
    >>> round(figure_rank([1.0, 0.0, 0.0]), 3)
    0.95
    >>> round(figure_rank([1.0, 1.0]), 3)
    1.9
    """
    lam = np.clip(np.sort(np.asarray(eigenvalues, dtype=np.float64))[::-1], 0, None)
    if ncomp is not None:
        lam = lam[:int(ncomp)]
    sq = lam**2
    total = float(sq.sum())
    if lam.size == 0 or total <= 0:
        return 0.0
    c = np.concatenate([[0.0], np.cumsum(sq) / total])
    hits = np.nonzero(c[1:] > level)[0]
    # rounding can leave c_n a hair below 1 > level: then the last index is the one
    i1 = int(hits[0]) + 1 if hits.size else lam.size
    return float((i1 - 1) + (level - c[i1 - 1]) / (c[i1] - c[i1 - 1]))
