"""Hidden trajectories in the space of their leading principal components."""

from __future__ import annotations

import numpy as np

from ._base import as_array, figure_and_axes

__all__ = ["plot_trajectories_pca"]


def _condition_colors(conditions, n, *, categorical, labels, cmap, vmin, vmax):
    """Per-trial colours plus what explains them: legend handles or a ScalarMappable."""
    import matplotlib as mpl
    from matplotlib.lines import Line2D

    c = np.asarray(conditions.detach().cpu().numpy() if hasattr(conditions, "detach")
                   else conditions)
    if c.ndim != 1 or c.shape[0] != n:
        raise ValueError(f"conditions must have shape ({n},) (one per trial), "
                         f"got {c.shape}")
    if categorical is None:
        categorical = c.dtype.kind != "f"
    if categorical:
        levels = list(dict.fromkeys(c.tolist()))  # first-seen order...
        try:
            levels = sorted(levels)  # ...sorted when comparable
        except TypeError:
            pass
        palette = mpl.colormaps["tab10" if len(levels) <= 10 else "tab20"]
        color_of = {lv: palette(k % palette.N) for k, lv in enumerate(levels)}

        def name(lv):
            if labels is None:
                return str(lv)
            try:
                return str(labels[lv])
            except (IndexError, KeyError, TypeError) as exc:
                raise ValueError(f"labels has no entry for condition {lv!r}") from exc

        handles = [Line2D([], [], color=color_of[lv], label=name(lv)) for lv in levels]
        return [color_of[v] for v in c.tolist()], handles, None
    values = c.astype(float)
    lo = np.nanmin(values) if vmin is None else vmin
    hi = np.nanmax(values) if vmax is None else vmax
    norm = mpl.colors.Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1.0)
    mappable = mpl.cm.ScalarMappable(norm=norm, cmap=mpl.colormaps[cmap or "twilight"])
    return list(mappable.to_rgba(values)), [], mappable


def plot_trajectories_pca(Z, conditions=None, *, n_components=2, ax=None, labels=None,
                          categorical=None, cmap=None, vmin=None, vmax=None,
                          condition_name="condition", periods=None, figsize=(6.5, 4.8)):
    """Hidden trajectories projected on their leading principal components.

    PCA (``sklearn.decomposition.PCA``) is fit on all time points of all trials, i.e. on
    ``Z.reshape(-1, H)``; each trial is then one line in PC space.

    Parameters
    ----------
    Z : array-like of shape (n_trials, n_timesteps, hidden_size)
        Hidden trajectories, e.g. ``est.transform(X)`` or ``D.Z`` (torch tensors accepted).
    conditions : array-like of shape (n_trials,), optional
        Colours the trials. Integer, bool or string values are categories (discrete
        colours and a legend); floats are continuous (a colormap and a colorbar), e.g. a
        stimulus angle. None: one colour.
    n_components : {2, 3}, default=2
        Plot in PC1-PC2, or PC1-PC2-PC3 on 3-D axes.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (3-D axes when ``n_components=3``); a new Figure when None.
    labels : sequence or dict, optional
        Legend name of each category, indexed by the condition value, e.g.
        ``bunch.task_names`` for ``conditions=bunch.task_ids``.
    categorical : bool, optional
        Override the dtype rule above.
    cmap : str, optional
        Colormap of continuous conditions; default ``"twilight"`` (cyclic, for angles).
    vmin, vmax : float, optional
        Colour range of continuous conditions; default their min and max. For an angle in
        radians pass ``vmin=0, vmax=2 * np.pi`` so the cyclic colormap closes.
    condition_name : str, default="condition"
        Colorbar label (continuous) or legend title (categorical).
    periods : dict of str -> (start, stop), optional
        Trial periods in time steps (the same for every trial), e.g.
        ``{"stimulus": (30, 60), "response": (90, 120)}``: the point of every trajectory at
        the start of each period is marked with a triangle in that period's colour.
    figsize : tuple of float, default=(6.5, 4.8)
        Size of the new Figure (ignored when ``ax`` is given).

    Returns
    -------
    fig : matplotlib.figure.Figure
        ``n_trials`` lines, a scatter of start points (circles), one of end points
        (squares), one per period (triangles), axis labels ``PCk (x% var.)``; a legend
        (categories, the start / end / period markers) and, for continuous conditions, a
        colorbar.

    Raises
    ------
    ValueError
        If ``Z`` is not 3-D, ``conditions`` has the wrong length, ``n_components`` is not 2
        or 3 or exceeds the data, or ``ax`` is not 3-D when ``n_components=3``.
    """
    from matplotlib.colors import to_rgba_array
    from matplotlib.lines import Line2D
    from sklearn.decomposition import PCA

    Z = as_array(Z, "Z")
    if Z.ndim != 3 or 0 in Z.shape:
        raise ValueError(f"Z must have shape (n_trials, n_timesteps, hidden_size), "
                         f"got {Z.shape}")
    n, T, H = Z.shape
    if n_components not in (2, 3):
        raise ValueError(f"n_components must be 2 or 3, got {n_components!r}")
    if n_components > min(H, n * T):
        raise ValueError(f"n_components={n_components} exceeds the data: hidden_size={H}, "
                         f"{n * T} time points")
    if not np.isfinite(Z).all():
        raise ValueError("Z contains NaN or inf")
    if ax is not None and n_components == 3 and getattr(ax, "name", "") != "3d":
        raise ValueError("n_components=3 needs 3-D axes (projection='3d')")

    pca = PCA(n_components=n_components).fit(Z.reshape(-1, H))
    Y = pca.transform(Z.reshape(-1, H)).reshape(n, T, n_components)

    if conditions is None:
        colors, handles, mappable = ["C0"] * n, [], None
    else:
        colors, handles, mappable = _condition_colors(
            conditions, n, categorical=categorical, labels=labels, cmap=cmap,
            vmin=vmin, vmax=vmax)

    subplot_kw = {"projection": "3d"} if n_components == 3 else None
    fig, ax = figure_and_axes(ax, figsize=figsize, subplot_kw=subplot_kw)
    lw = 1.2 if n <= 50 else 0.7
    for b in range(n):
        ax.plot(*Y[b].T, color=colors[b], lw=lw, alpha=0.85)
    start, end = Y[:, 0, :], Y[:, -1, :]
    ax.scatter(*start.T, c=to_rgba_array(colors), marker="o", s=22, edgecolors="k",
               linewidths=0.6, zorder=3, label="start")
    ax.scatter(*end.T, c=to_rgba_array(colors), marker="s", s=22, edgecolors="k",
               linewidths=0.6, zorder=3, label="end")
    period_handles = []
    if periods:
        import matplotlib as mpl

        palette = mpl.colormaps["Dark2"]
        inside = [(p, int(span[0])) for p, span in sorted(periods.items(),
                                                          key=lambda kv: kv[1][0])
                  if 0 < int(span[0]) < T]
        for k, (pname, t0) in enumerate(inside):
            color = palette(k % palette.N)
            ax.scatter(*Y[:, t0, :].T, color=color, marker="^", s=26, edgecolors="k",
                       linewidths=0.4, zorder=4)
            period_handles.append(Line2D([], [], ls="", marker="^", markerfacecolor=color,
                                         markeredgecolor="k", label=f"{pname} starts"))

    ratio = pca.explained_variance_ratio_
    setters = (ax.set_xlabel, ax.set_ylabel) + ((ax.set_zlabel,) if n_components == 3 else ())
    for k, set_label in enumerate(setters):
        set_label(f"PC{k + 1} ({ratio[k]:.0%} var.)")
    ax.set_title("Hidden trajectories (PCA)")

    markers = [Line2D([], [], ls="", marker=m, markerfacecolor="w", markeredgecolor="k",
                      label=lab) for m, lab in (("o", "start"), ("s", "end"))]
    markers += period_handles
    where = dict(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0) \
        if n_components == 2 else dict(loc="best")
    if handles:
        ax.legend(handles=handles + markers, title=condition_name, fontsize=8,
                  title_fontsize=8, **where)
    else:
        ax.legend(handles=markers, fontsize=8, **where)
    if mappable is not None:
        fig.colorbar(mappable, ax=ax, label=condition_name, shrink=0.85)
    return fig
