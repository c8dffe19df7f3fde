"""One figure per trial: inputs, targets and mask over time, with the periods shaded."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_trial"]


def plot_trial(bunch, i=0, *, y_pred=None, figsize=(8, 6)):
    """Plot the inputs, targets (and predictions), mask and periods of trial ``i``.

    Parameters
    ----------
    bunch : sklearn.utils.Bunch
        From :func:`make_task`, :func:`make_multitask` or :func:`load_frozen`.
    i : int, default=0
        Trial index.
    y_pred : array-like of shape (n_samples, n_timesteps, n_outputs), optional
        Predictions drawn dashed over the targets.
    figsize : tuple, default=(8, 6)

    Returns
    -------
    fig : matplotlib.figure.Figure
        Three stacked axes (inputs, targets, mask) sharing the time axis; not attached to
        pyplot, so it works under any backend (save with ``fig.savefig``).
    """
    from matplotlib.figure import Figure

    n = bunch.X.shape[0]
    if not -n <= i < n:
        raise ValueError(f"i={i} is out of range for a Bunch of {n} trials")
    i = i % n
    name = bunch.task_names[int(bunch.task_ids[i])]
    steps = np.arange(bunch.X.shape[1])

    fig = Figure(figsize=figsize, layout="constrained")
    ax_in, ax_out, ax_mask = fig.subplots(3, 1, sharex=True,
                                          gridspec_kw={"height_ratios": [3, 3, 1]})
    for c in range(bunch.X.shape[2]):
        ax_in.plot(steps, bunch.X[i, :, c], lw=1, label=f"in {c}")
    for c in range(bunch.y.shape[2]):
        line, = ax_out.plot(steps, bunch.y[i, :, c], lw=1.5, label=f"target {c}")
        if y_pred is not None:
            ax_out.plot(steps, np.asarray(y_pred)[i, :, c], ls="--", lw=1,
                        color=line.get_color())
    ax_mask.fill_between(steps, bunch.mask[i], step="mid", alpha=0.4)
    ax_mask.set_ylim(0, max(1.0, float(bunch.mask[i].max())) * 1.1)

    shades = ["0.92", "0.82"]
    for k, (p, value) in enumerate(bunch.periods.items()):
        start, stop = (int(v) for v in value[i])
        if start < 0 or stop <= start:
            continue
        for ax in (ax_in, ax_out, ax_mask):
            ax.axvspan(start - 0.5, stop - 0.5, color=shades[k % 2], zorder=0, lw=0)
        ax_in.text((start + stop) / 2 - 0.5, 1.0, p, transform=ax_in.get_xaxis_transform(),
                   ha="center", va="bottom", fontsize=8)

    ax_in.set_ylabel("inputs")
    ax_out.set_ylabel("targets")
    ax_mask.set_ylabel("mask")
    ax_mask.set_xlabel("time step")
    if bunch.X.shape[2] <= 10:
        ax_in.legend(loc="upper right", fontsize=7, ncol=2)
    if bunch.y.shape[2] <= 10:
        ax_out.legend(loc="upper right", fontsize=7, ncol=2)
    fig.suptitle(f"{name}, trial {i}")
    return fig
