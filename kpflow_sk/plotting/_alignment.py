"""Task-alignment heatmap: cosines between the per-task hidden-trajectory updates."""

from __future__ import annotations

import numpy as np

from ._base import as_array, figure_and_axes

__all__ = ["plot_task_alignment"]


def plot_task_alignment(matrix, task_names, *, ax=None, annotate=True,
                        title="Task alignment", figsize=None):
    """Heatmap of an ``(n_tasks, n_tasks)`` alignment matrix with values in [-1, 1].

    Parameters
    ----------
    matrix : array-like of shape (n_tasks, n_tasks)
        Entry (i, j) is the cosine of ``dz_i`` and ``dz_j`` (docs/conventions.md section 3,
        ``est.task_alignment_``); NaN entries are drawn blank.
    task_names : sequence of str of length n_tasks
        Row and column labels, in the matrix's order (``bunch.task_names``).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (the colorbar takes space from it); a new Figure when None.
    annotate : bool, default=True
        Write each value in its cell.
    title : str, default="Task alignment"
    figsize : tuple of float, optional
        Size of the new Figure; grows with ``n_tasks`` when None.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One image (diverging colormap, fixed ``vmin=-1``, ``vmax=1``), tick labels set to
        the task names, one text per finite cell when ``annotate``, and a colorbar.

    Raises
    ------
    ValueError
        If ``matrix`` is not square, the names do not match its size, or a value lies
        outside [-1, 1].
    """
    M = as_array(matrix, "matrix")
    if M.ndim != 2 or M.shape[0] != M.shape[1] or M.shape[0] == 0:
        raise ValueError(f"matrix must be a non-empty square (n_tasks, n_tasks) array, "
                         f"got shape {M.shape}")
    names = [str(s) for s in task_names]
    n = M.shape[0]
    if len(names) != n:
        raise ValueError(f"task_names has {len(names)} names but matrix is {n} x {n}")
    finite = M[np.isfinite(M)]
    if finite.size and np.abs(finite).max() > 1 + 1e-6:
        raise ValueError(f"matrix values must lie in [-1, 1] (cosines), got max |value| "
                         f"{np.abs(finite).max():.4g}")
    if figsize is None:
        side = float(np.clip(0.55 * n + 2.0, 3.5, 12.0))
        figsize = (side + 1.0, side)
    fig, ax = figure_and_axes(ax, figsize=figsize)

    im = ax.imshow(M, cmap="RdBu_r", vmin=-1.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks(np.arange(n), labels=names)
    ax.set_yticks(np.arange(n), labels=names)
    if max(len(s) for s in names) > 3:
        ax.tick_params(axis="x", labelrotation=45)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
            label.set_rotation_mode("anchor")
    ax.set_xlabel("task j")
    ax.set_ylabel("task i")
    ax.set_title(title)
    if annotate:
        fontsize = float(np.clip(90.0 / n, 5.0, 10.0))
        for i in range(n):
            for j in range(n):
                v = M[i, j]
                if np.isfinite(v):
                    # white on the saturated ends of the colormap, black in the pale middle
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=fontsize,
                            color="white" if abs(v) > 0.6 else "black")
    fig.colorbar(im, ax=ax, label=r"$\cos(dz_i, dz_j)$", shrink=0.85)
    return fig
