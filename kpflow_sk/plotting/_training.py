"""Training curves: the loss and the effective ranks of K, P and Theta over iterations."""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import FuncFormatter

from kpflow_sk.analysis import HISTORY_FIELDS, RANK_FIELDS

from ._base import figure_and_axes

__all__ = ["plot_training", "OPERATOR_LABELS", "OPERATOR_COLORS"]

#: Display name of each operator (docs/conventions.md section 2).
OPERATOR_LABELS = {"K": "K", "P": "P", "Theta": "Θ", "PPt": "P P*", "J": "J"}
#: A fixed colour per operator, so K, P and Theta look the same in every figure.
OPERATOR_COLORS = {"K": "C0", "P": "C1", "Theta": "C2", "PPt": "C3", "J": "C4"}

#: kp_history_ fields of each drawn operator (the schema lives in kpflow_sk.analysis):
#: operator -> (whole-space field, time-axis field)
_RANK_LINES = {
    op: tuple(next(f for f, (o, ax, _, _, conv) in RANK_FIELDS.items()
                   if o == op and ax == axis and conv == "default")
              for axis in (None, "time"))
    for op in ("K", "P", "Theta")}
_REQUIRED = ("iteration", "loss") + tuple(whole for whole, _ in _RANK_LINES.values())
assert set(_REQUIRED) <= set(HISTORY_FIELDS)


def _columns(history):
    """``history`` (records or DataFrame) as a dict of float arrays sorted by iteration."""
    if hasattr(history, "to_dict") and hasattr(history, "columns"):  # a pandas DataFrame
        records = history.to_dict("records")
    elif isinstance(history, dict):
        raise ValueError("history must be a list of dict records or a DataFrame, got a dict")
    else:
        records = list(history)
    if not records:
        raise ValueError("history is empty: nothing to plot")
    if not all(isinstance(r, dict) for r in records):
        raise ValueError("history must be a list of dict records or a DataFrame")
    keys = set().union(*records)
    missing = [k for k in _REQUIRED if k not in keys]
    if missing:
        raise ValueError(f"history lacks the field(s) {missing}; need {list(_REQUIRED)}")
    cols = {}
    for key in keys:
        values = [r.get(key) for r in records]
        try:
            cols[key] = np.array([np.nan if v is None else v for v in values], dtype=float)
        except (TypeError, ValueError):
            continue  # non-scalar fields (task_alignment matrices) are not drawn here
    order = np.argsort(cols["iteration"], kind="stable")
    return {k: v[order] for k, v in cols.items()}


def _convention(history):
    """The ``convention`` field of the records (``"default"`` when absent)."""
    records = history.to_dict("records") if hasattr(history, "to_dict") else list(history)
    names = {r.get("convention") or "default" for r in records}
    return names.pop() if len(names) == 1 else "mixed"


def _positive(y):
    """NaN where ``y <= 0``: a log axis cannot show those points."""
    return np.where(y > 0, y, np.nan)


def _readable_log_ticks(ax, y):
    """Plain tick labels on a log y axis spanning less than a decade.

    Over such a range only minor ticks fall inside and matplotlib labels them as
    ``7.9 x 10^0``; ``7.9`` reads better.
    """
    y = y[np.isfinite(y)]
    if y.size and y.max() < 10 * y.min():
        fmt = FuncFormatter(lambda v, _: f"{v:.3g}")
        ax.yaxis.set_major_formatter(fmt)
        ax.yaxis.set_minor_formatter(fmt)


def _rank_panel(ax, it, cols, which, scale, title):
    for name, keys in _RANK_LINES.items():
        key = keys[which]                    # 0: whole space, 1: time axis
        if key in cols and np.isfinite(cols[key]).any():
            ax.plot(it, cols[key], color=OPERATOR_COLORS[name], marker=".",
                    label=OPERATOR_LABELS["PPt" if name == "P" else name])
    ranks = np.concatenate([line.get_ydata() for line in ax.lines]).astype(float) \
        if ax.lines else np.array([])
    ranks = _positive(ranks)
    ranks = ranks[np.isfinite(ranks)]
    if scale == "auto":
        scale = "log" if ranks.size and ranks.max() > 20 * ranks.min() else "linear"
    ax.set_yscale(scale)
    if scale == "log":
        # ranks are counts: label ticks 3, 10, 300 rather than 10^0.5, 10^1, ...
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
        _readable_log_ticks(ax, ranks)
    ax.set_xlabel("iteration")
    ax.set_ylabel("effective rank (pr)")
    ax.set_title(title, fontsize=10)
    if ax.lines:
        ax.legend(loc="best", fontsize=8)


def plot_training(history, *, ax=None, rank_scale="auto", convention=None,
                  figsize=(13, 3.8)):
    """Loss and effective ranks of K, P and Theta over training, whole space and time axis
    in separate panels.

    Parameters
    ----------
    history : list of dict or pandas.DataFrame
        One record per snapshot, e.g. ``est.kp_history_`` (schema:
        :data:`kpflow_sk.analysis.HISTORY_FIELDS`). Required fields: ``iteration``,
        ``loss``, ``rank_K``, ``rank_P``, ``rank_Theta`` (effective ranks on the whole
        trajectory space). Optional: ``train_loss`` (drawn thin next to ``loss``),
        ``rank_K_time``, ``rank_P_time``, ``rank_Theta_time`` (time-axis ranks, drawn in
        their own panel), ``collapse_dim`` (its last value is shown in the whole-space
        panel's title; it is ``rank_Theta``, docs/conventions.md section 3). ``None``
        values are gaps; other fields are ignored.
    ax : sequence of two or three matplotlib.axes.Axes, optional
        Axes for the loss, whole-space and (when the history has time-axis ranks)
        time-axis panels; a new Figure when None.
    rank_scale : {"auto", "linear", "log"}, default="auto"
        y scale of the rank panels; ``"auto"`` is log when a panel's ranks span more than
        a factor 20, else linear.
    convention : str or None, default=None
        The rank convention named in the titles (docs/conventions.md); None reads the
        records' ``convention`` field (``"default"`` when absent).
    figsize : tuple of float, default=(13, 3.8)
        Size of the new Figure (ignored when ``ax`` is given).

    Returns
    -------
    fig : matplotlib.figure.Figure
        Loss (log y) vs iteration; effective rank (pr) on the whole trajectory space vs
        iteration, one colour per operator (K, P P*, Θ); the same for the time axis.

    Raises
    ------
    ValueError
        If ``history`` is empty or lacks a required field, or ``rank_scale`` is unknown.
    """
    if rank_scale not in ("auto", "linear", "log"):
        raise ValueError(f"rank_scale must be 'auto', 'linear' or 'log', got {rank_scale!r}")
    cols = _columns(history)
    has_time = any(t in cols and np.isfinite(cols[t]).any() for _, t in _RANK_LINES.values())
    fig, axes = figure_and_axes(ax, n=3 if has_time else 2, figsize=figsize)
    ax_loss, ax_rank = axes[0], axes[1]
    it = cols["iteration"]

    ax_loss.plot(it, _positive(cols["loss"]), color="k", marker=".", label="loss")
    if "train_loss" in cols and np.isfinite(cols["train_loss"]).any():
        ax_loss.plot(it, _positive(cols["train_loss"]), color="0.55", lw=1,
                     label="train loss")
    ax_loss.set_yscale("log")
    losses = [cols["loss"]] + ([cols["train_loss"]] if "train_loss" in cols else [])
    _readable_log_ticks(ax_loss, _positive(np.concatenate(losses)))
    ax_loss.set_xlabel("iteration")
    ax_loss.set_ylabel("loss")
    ax_loss.set_title("Loss")
    ax_loss.legend(loc="upper right", fontsize=8)

    if convention is None:
        convention = _convention(history)
    title = f"Whole space (estimated)\nconvention '{convention}'"
    if "collapse_dim" in cols and np.isfinite(cols["collapse_dim"]).any():
        last = cols["collapse_dim"][np.isfinite(cols["collapse_dim"])][-1]
        title += f"\ncollapse dim {last:.3g}"
    _rank_panel(ax_rank, it, cols, 0, rank_scale, title)
    if has_time:
        _rank_panel(axes[2], it, cols, 1, rank_scale,
                    f"Time axis (reduce='mean', exact)\nconvention '{convention}'")
    return fig
