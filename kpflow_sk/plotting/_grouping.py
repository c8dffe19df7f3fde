"""The Pro/Anti grouping of the four KPFlow tasks over training
(:mod:`kpflow_sk.analysis` computes it)."""

from __future__ import annotations

from kpflow_sk.analysis import GROUPING_TASKS, ONSET

__all__ = ["plot_grouping"]


def plot_grouping(records, task_names=GROUPING_TASKS):
    """The Pro/Anti grouping index over training and the final cosine matrices.

    Parameters
    ----------
    records : list of dict
        One per snapshot: ``epoch``, ``grouping_dz``, ``grouping_Z``, ``grouping_Z_centred``,
        ``cos_Z`` and ``cos_dz`` (4 x 4), e.g. from the ``kpflow-sk demo`` run.
    task_names : sequence of str, default=GROUPING_TASKS
        Row and column labels of the matrices.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    ep = [r["epoch"] for r in records]
    fig = Figure(figsize=(12, 3.6), layout="constrained")
    ax0, ax1, ax2 = fig.subplots(1, 3)
    ax0.plot(ep, [r["grouping_dz"] for r in records], "o-", label="updates dz")
    ax0.plot(ep, [r["grouping_Z"] for r in records], "s-", label="trajectories Z")
    ax0.plot(ep, [r["grouping_Z_centred"] for r in records], "^:",
             label="Z, shared mean removed")
    ax0.axhline(ONSET, color="0.5", lw=0.7, ls="--", label=f"onset threshold {ONSET}")
    ax0.axhline(0, color="0.8", lw=0.5)
    ax0.set(xlabel="epoch", ylabel="within - across cosine", title="Pro/Anti grouping index")
    ax0.legend(fontsize=7)
    for ax, key, title in ((ax1, "cos_Z", "trajectory cosines (final)"),
                           (ax2, "cos_dz", "update dz cosines (final)")):
        im = ax.imshow(records[-1][key], vmin=-1, vmax=1, cmap="RdBu_r")
        ax.set_xticks(range(4), [t.replace("_", "\n") for t in task_names], fontsize=7)
        ax.set_yticks(range(4), list(task_names), fontsize=7)
        for i in range(4):
            for j in range(4):
                v = records[-1][key][i, j]
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                        color="w" if abs(v) > 0.6 else "k")
        ax.set_title(title)
        fig.colorbar(im, ax=ax, shrink=0.8)
    return fig
