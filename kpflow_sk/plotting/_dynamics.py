"""Figures of the learned dynamics: fixed points in PC space, Jacobian eigenvalues, exponents
over training (results of :mod:`kpflow_sk.dynamics`)."""

from __future__ import annotations

import numpy as np

from ._base import as_array, figure_and_axes
from ._trajectories import plot_trajectories_pca

__all__ = ["plot_fixed_points", "plot_eigenvalues", "plot_exponents_over_training",
           "LABEL_STYLES"]

#: marker style per fixed-point label: stable filled, unstable open, slow crosses
LABEL_STYLES = {
    "stable": dict(marker="o", facecolors="k", edgecolors="k"),
    "saddle": dict(marker="o", facecolors="none", edgecolors="C3"),
    "unstable": dict(marker="s", facecolors="none", edgecolors="C3"),
    "slow": dict(marker="x", c="C7"),
}


def _check_fixed_points(fps):
    for name in ("states", "labels", "eigenvalues", "continuous"):
        if not hasattr(fps, name):
            raise ValueError("fixed_points must be a kpflow_sk.dynamics.FixedPoints result, got "
                             f"{type(fps).__name__}")
    return fps


def plot_fixed_points(Z, fixed_points, conditions=None, *, n_components=2, ax=None,
                      marker_size=60, **kwargs):
    """Hidden trajectories in PC space with the fixed points on top (stable filled, unstable
    open).

    The trajectories are drawn by :func:`plot_trajectories_pca`; the points are projected on
    the principal components of the same states (PCA of ``Z.reshape(-1, H)``, full SVD).

    Parameters
    ----------
    Z : array-like of shape (n_trials, n_timesteps, hidden_size)
    fixed_points : FixedPoints
        From :func:`kpflow_sk.dynamics.find_fixed_points` or ``est.fixed_points``.
    conditions : array-like of shape (n_trials,), optional
        Trial colours (see :func:`plot_trajectories_pca`).
    n_components : {2, 3}, default=2
    ax : matplotlib.axes.Axes, optional
    marker_size : float, default=60
    **kwargs
        Passed to :func:`plot_trajectories_pca` (``labels``, ``cmap``, ``condition_name``, ...).

    Returns
    -------
    fig : matplotlib.figure.Figure
        The trajectory figure plus one scatter per label present, named in the legend
        (``"stable (n)"``, ``"saddle (n)"``, ...).
    """
    from matplotlib.lines import Line2D
    from sklearn.decomposition import PCA

    fps = _check_fixed_points(fixed_points)
    Zn = as_array(Z, "Z")
    fig = plot_trajectories_pca(Zn, conditions, n_components=n_components, ax=ax, **kwargs)
    ax = fig.axes[0] if ax is None else ax
    H = Zn.shape[-1]
    S = as_array(fps.states, "fixed_points.states")
    if S.ndim != 2 or S.shape[1] != H:
        raise ValueError(f"fixed points have {S.shape[-1]} coordinates, Z has {H} hidden units")
    if len(S) == 0:
        return fig
    pca = PCA(n_components=n_components, svd_solver="full").fit(Zn.reshape(-1, H))
    Y = pca.transform(S)
    # plot_trajectories_pca may use a randomized SVD: match the sign of each component to
    # the drawn trajectory lines (its last n_trials lines) so both projections agree
    n = Zn.shape[0]
    lines = ax.lines[-n:]
    if len(lines) == n:
        get = (lambda ln: np.column_stack(ln.get_data_3d())) if n_components == 3 else (
            lambda ln: np.column_stack(ln.get_data()))
        drawn = np.concatenate([get(ln) for ln in lines])
        mine = pca.transform(Zn.reshape(-1, H))
        sign = np.sign((mine * drawn).sum(0))
        Y = Y * np.where(sign == 0, 1, sign)
    labels = np.asarray(fps.labels)
    handles = list(ax.get_legend().legend_handles) if ax.get_legend() else []
    for lab, style in LABEL_STYLES.items():
        sel = labels == lab
        if not sel.any():
            continue
        ax.scatter(*Y[sel].T, s=marker_size, linewidths=1.5, zorder=5, **style)
        kw = dict(markerfacecolor=style.get("facecolors", "none"),
                  markeredgecolor=style.get("edgecolors", style.get("c")),
                  color=style.get("c", "k"))
        handles.append(Line2D([], [], ls="", marker=style["marker"], markersize=7,
                              label=f"{lab} ({int(sel.sum())})", **kw))
    ax.legend(handles=handles, fontsize=8, loc="best")
    ax.set_title("Hidden trajectories and fixed points (PCA)")
    return fig


def plot_eigenvalues(fixed_points, *, index=None, ax=None, figsize=(4.6, 4.4)):
    """Jacobian eigenvalues of fixed points in the complex plane.

    Discrete-time cells: with the unit circle (stability boundary ``|lambda| = 1``); flows
    (``node``): with the imaginary axis (``Re lambda = 0``).

    Parameters
    ----------
    fixed_points : FixedPoints
    index : int or sequence of int, optional
        Which points to draw (default: all), coloured by label.
    ax : matplotlib.axes.Axes, optional
    figsize : tuple of float

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    from matplotlib.lines import Line2D

    fps = _check_fixed_points(fixed_points)
    ev = np.asarray(fps.eigenvalues)
    labels = np.asarray(fps.labels)
    idx = np.arange(len(ev)) if index is None else np.atleast_1d(np.asarray(index))
    if idx.size and (idx.min() < -len(ev) or idx.max() >= len(ev)):
        raise ValueError(f"index out of range for {len(ev)} fixed points: {index!r}")
    fig, ax = figure_and_axes(ax, figsize=figsize)
    colors = {"stable": "k", "saddle": "C3", "unstable": "C1", "slow": "C7"}
    for i in idx:
        ax.scatter(ev[i].real, ev[i].imag, s=14, color=colors.get(labels[i], "C0"), alpha=0.7,
                   zorder=3)
    if fps.continuous:
        ax.axvline(0.0, color="0.4", lw=1, ls="--")
        ax.set_xlabel("Re λ (df/dz)")
        boundary = Line2D([], [], color="0.4", ls="--", label="Re λ = 0")
    else:
        th = np.linspace(0, 2 * np.pi, 400)
        ax.plot(np.cos(th), np.sin(th), color="0.4", lw=1, ls="--")
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xlabel("Re λ (dF/dz)")
        boundary = Line2D([], [], color="0.4", ls="--", label="|λ| = 1")
    ax.axhline(0.0, color="0.85", lw=0.8, zorder=0)
    ax.set_ylabel("Im λ")
    present = [lab for lab in colors if (labels[idx] == lab).any()] if idx.size else []
    handles = [Line2D([], [], ls="", marker="o", color=colors[lab], label=lab)
               for lab in present]
    ax.legend(handles=handles + [boundary], fontsize=8, loc="best")
    ax.set_title("Jacobian eigenvalues at the fixed points")
    return fig


def plot_exponents_over_training(iterations, exponents, *, k=3, loss=None, ax=None,
                                 ylabel="Lyapunov exponent (1/step)", figsize=(5.5, 3.8)):
    """Leading exponents (or any per-checkpoint spectrum) over training.

    Parameters
    ----------
    iterations : array-like of shape (n_checkpoints,)
    exponents : array-like of shape (n_checkpoints, n_exponents)
        Descending per checkpoint (e.g. ``spec.mean`` of each checkpoint's
        :func:`~kpflow_sk.dynamics.lyapunov_spectrum`).
    k : int, default=3
        How many leading exponents to draw.
    loss : array-like of shape (n_checkpoints,), optional
        Training loss, drawn on a log-scale twin axis.
    ax : matplotlib.axes.Axes, optional
    ylabel : str
    figsize : tuple of float

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    it = as_array(iterations, "iterations")
    E = as_array(exponents, "exponents")
    if E.ndim != 2 or it.ndim != 1 or E.shape[0] != it.shape[0] or E.shape[0] == 0:
        raise ValueError(f"exponents must have shape (n_checkpoints, n_exponents) with "
                         f"n_checkpoints = len(iterations) = {it.shape[0]}, got {E.shape}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    fig, ax = figure_and_axes(ax, figsize=figsize)
    for i in range(min(int(k), E.shape[1])):
        ax.plot(it, E[:, i], marker=".", label=f"λ{i + 1}")
    ax.axhline(0.0, color="0.6", lw=0.8, ls="--")
    ax.set_xlabel("iteration")
    ax.set_ylabel(ylabel)
    handles, names = ax.get_legend_handles_labels()
    if loss is not None:
        lo = as_array(loss, "loss")
        if lo.shape != it.shape:
            raise ValueError(f"loss must have shape {it.shape}, got {lo.shape}")
        tw = ax.twinx()
        line, = tw.plot(it, lo, color="0.3", ls=":", label="loss")
        tw.set_yscale("log")
        tw.set_ylabel("training loss")
        handles, names = handles + [line], names + ["loss"]
    ax.legend(handles, names, fontsize=8, loc="best")
    ax.set_title("Leading exponents over training")
    return fig
