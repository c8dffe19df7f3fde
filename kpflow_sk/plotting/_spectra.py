"""Operator spectra: leading eigenvalues of K, P P*, Theta (or any named PSD operator)."""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import MaxNLocator

from ._base import as_array, figure_and_axes
from ._training import OPERATOR_COLORS, OPERATOR_LABELS

__all__ = ["plot_spectra"]


def plot_spectra(spectra, *, normalize=True, ax=None, figsize=(5, 3.8)):
    """Leading eigenvalues of several operators on one log-scale axis.

    Parameters
    ----------
    spectra : dict of str -> array-like of shape (k,)
        Operator name -> eigenvalues in descending order, e.g.
        ``{"K": D.spectrum("K"), "Theta": D.spectrum("Theta")}``. Lengths may differ.
        ``linalg.Spectrum`` results are accepted too (their ``values`` are used). Known
        names (``"K"``, ``"P"``, ``"Theta"``, ``"PPt"``) are drawn as ``K``, ``P``, ``Θ``,
        ``P P*`` in fixed colours.
    normalize : bool, default=True
        Divide each spectrum by its leading eigenvalue, so operators of different scales
        share the axis (``λ_i / λ_1``).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new Figure when None.
    figsize : tuple of float, default=(5, 3.8)
        Size of the new Figure (ignored when ``ax`` is given).

    Returns
    -------
    fig : matplotlib.figure.Figure
        One line per operator, eigenvalue index (from 1) on x, log y, with a legend.
        Non-positive eigenvalues (rounding noise of a PSD operator) are left out.

    Raises
    ------
    ValueError
        If ``spectra`` is empty or a spectrum is not a non-empty 1-D array.
    """
    if not isinstance(spectra, dict) or not spectra:
        raise ValueError("spectra must be a non-empty dict of name -> 1-D eigenvalues")
    fig, ax = figure_and_axes(ax, figsize=figsize)
    for name, values in spectra.items():
        lam = as_array(getattr(values, "values", values), f"spectra[{name!r}]")
        if lam.ndim != 1 or lam.size == 0:
            raise ValueError(f"spectra[{name!r}] must be a non-empty 1-D array, "
                             f"got shape {lam.shape}")
        lam = np.where(lam > 0, lam, np.nan)  # a log axis cannot show them
        if normalize:
            top = np.nanmax(lam) if np.isfinite(lam).any() else np.nan
            lam = lam / top
        idx = np.arange(1, lam.size + 1)
        ax.plot(idx, lam, marker="." if lam.size <= 50 else None,
                color=OPERATOR_COLORS.get(name), label=OPERATOR_LABELS.get(name, str(name)))
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("eigenvalue index $i$")
    ax.set_ylabel(r"$\lambda_i / \lambda_1$" if normalize else r"eigenvalue $\lambda_i$")
    ax.set_title("Operator spectra")
    ax.legend(loc="upper right", fontsize=8)
    return fig
