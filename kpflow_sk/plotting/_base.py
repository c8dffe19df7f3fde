"""Shared plumbing of the figures: array conversion and getting a Figure and its Axes."""

from __future__ import annotations

import numpy as np

__all__ = ["as_array", "figure_and_axes", "root_figure"]


def as_array(x, name):
    """``x`` as a float64 ndarray; torch tensors are detached and moved to the CPU first."""
    if hasattr(x, "detach"):  # a torch.Tensor, without importing torch here
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric array-like, got {type(x).__name__}") from exc


def root_figure(ax):
    """The top-level Figure holding ``ax`` (not a SubFigure)."""
    try:
        return ax.get_figure(root=True)
    except TypeError:  # matplotlib < 3.10 has no `root`; there .figure is the root
        fig = ax.figure
        while hasattr(fig, "figure") and fig.figure is not fig and fig.figure is not None:
            fig = fig.figure
        return fig


def figure_and_axes(ax, *, n=1, figsize, subplot_kw=None, name="ax"):
    """Return ``(fig, axes)``: the caller's Axes, or fresh ones on a new pyplot-free Figure.

    Parameters
    ----------
    ax : matplotlib.axes.Axes, sequence of ``n`` Axes, or None
    n : int
        Number of panels the plot draws (side by side when created here).
    figsize : tuple of float
    subplot_kw : dict, optional
        Passed to ``Figure.subplots`` (e.g. ``{"projection": "3d"}``).
    name : str
        Argument name used in error messages.

    Returns
    -------
    fig : matplotlib.figure.Figure
    axes : Axes (``n == 1``) or list of ``n`` Axes
    """
    if ax is None:
        # A bare Figure is never registered with pyplot, so no global state changes and
        # no window opens under any backend.
        from matplotlib.figure import Figure

        fig = Figure(figsize=figsize, layout="constrained")
        axes = fig.subplots(1, n, squeeze=False, subplot_kw=subplot_kw)[0]
        return fig, (axes[0] if n == 1 else list(axes))
    if n == 1:
        if isinstance(ax, (list, tuple, np.ndarray)):
            raise ValueError(f"{name} must be one Axes, got a sequence")
        return root_figure(ax), ax
    axes = list(np.ravel(np.asarray(ax, dtype=object)))
    if len(axes) != n:
        raise ValueError(f"{name} must be a sequence of {n} Axes, got {len(axes)}")
    return root_figure(axes[0]), axes
