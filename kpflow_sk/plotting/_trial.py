"""One figure per trial of a task Bunch: inputs, targets, mask and periods over time."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_trial"]


def plot_trial(bunch, i=0, *, y_pred=None, figsize=(8, 6)):
    """Plot the inputs, targets (and predictions), mask and periods of trial ``i``.

    Parameters
    ----------
    bunch : sklearn.utils.Bunch
        From :func:`~kpflow_sk.datasets.make_task`, :func:`~kpflow_sk.datasets.make_multitask`
        or :func:`~kpflow_sk.datasets.load_frozen`.
    i : int, default=0
        Trial index.
    y_pred : array-like of shape (n_samples, n_timesteps, n_outputs), optional
        Predictions drawn dashed over the targets.
    figsize : tuple, default=(8, 6)

    Returns
    -------
    fig : matplotlib.figure.Figure
        Four stacked axes sharing the time axis: inputs and targets (channels named by
        :func:`kpflow_sk.datasets.channel_names`), mask and the trial's periods
        (one bar per period; absent ones are left out). Not attached to pyplot, so it works
        under any backend (save with ``fig.savefig``).
    """
    from matplotlib.figure import Figure

    n = bunch.X.shape[0]
    if not -n <= i < n:
        raise ValueError(f"i={i} is out of range for a Bunch of {n} trials")
    i = i % n
    name = bunch.task_names[int(bunch.task_ids[i])]
    steps = np.arange(bunch.X.shape[1])

    present = [(p, (int(v[i, 0]), int(v[i, 1]))) for p, v in bunch.periods.items()
               if v[i, 0] >= 0 and v[i, 1] > v[i, 0]]
    present.sort(key=lambda item: item[1])
    from kpflow_sk.datasets import channel_names

    in_names, out_names = channel_names(bunch)
    fig = Figure(figsize=figsize, layout="constrained")
    ax_in, ax_out, ax_mask, ax_per = fig.subplots(
        4, 1, sharex=True, gridspec_kw={"height_ratios": [3, 3, 1, 0.35 * max(len(present), 1)]})
    for c in range(bunch.X.shape[2]):
        ax_in.plot(steps, bunch.X[i, :, c], lw=1, label=in_names[c])
    for c in range(bunch.y.shape[2]):
        line, = ax_out.plot(steps, bunch.y[i, :, c], lw=1.5, label=out_names[c])
        if y_pred is not None:
            ax_out.plot(steps, np.asarray(y_pred)[i, :, c], ls="--", lw=1,
                        color=line.get_color())
    ax_mask.fill_between(steps, bunch.mask[i], step="mid", alpha=0.4)
    ax_mask.set_ylim(0, max(1.0, float(bunch.mask[i].max())) * 1.1)

    # Periods may overlap (e.g. a pulse inside an interval): one row each.
    for row, (p, (start, stop)) in enumerate(present):
        ax_per.broken_barh([(start - 0.5, stop - start)], (row - 0.4, 0.8), color=f"C{row}")
        for ax in (ax_in, ax_out, ax_mask):
            ax.vlines(start - 0.5, 0, 1, transform=ax.get_xaxis_transform(), color="0.7",
                      lw=0.6, zorder=0)
    ax_per.set_yticks(range(len(present)), [p for p, _ in present], fontsize=8)
    ax_per.set_ylim(len(present) - 0.5, -0.5)

    ax_in.set_ylabel("inputs")
    ax_out.set_ylabel("targets")
    ax_mask.set_ylabel("mask")
    ax_per.set_xlabel("time step")
    # legends outside the axes, so that no trace is hidden; wide ring codes get none
    if bunch.X.shape[2] <= 12:
        ax_in.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    if bunch.y.shape[2] <= 12:
        handles, labels = ax_out.get_legend_handles_labels()
        if y_pred is not None:
            from matplotlib.lines import Line2D

            handles += [Line2D([], [], color="0.3", lw=1.5),
                        Line2D([], [], color="0.3", lw=1, ls="--")]
            labels += ["target (solid)", "prediction (dashed)"]
        ax_out.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                      fontsize=7)
    fig.suptitle(f"{name}, trial {i}")
    return fig
