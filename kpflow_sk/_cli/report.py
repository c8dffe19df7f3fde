"""The terminal tables of a model report (``demo``, ``fit``, ``analyze``): the numbers come
from :func:`kpflow_sk.plotting.report_measures`, the report folder from
:func:`kpflow_sk.plotting.write_model_report`.
"""

from __future__ import annotations

import numpy as np

from kpflow_sk._cli.text import format_matrix, format_table
from kpflow_sk.plotting import HISTORY_COLUMNS, SUMMARY_COLUMNS

__all__ = ["render_text"]

#: At most this many snapshots are printed (evenly spaced, first and last kept).
MAX_PRINTED_SNAPSHOTS = 12


def _history_rows(history):
    if len(history) > MAX_PRINTED_SNAPSHOTS:
        keep = np.unique(np.linspace(0, len(history) - 1, MAX_PRINTED_SNAPSHOTS).round())
        history = [history[int(i)] for i in keep]
    return [[rec.get(k) for k in HISTORY_COLUMNS] for rec in history]


def render_text(m, *, header="", analysis="End of training (analysis batch)"):
    """The terminal tables of :func:`~kpflow_sk.plotting.report_measures`'s dict: training,
    scores, task alignment.

    ``analysis`` titles the table of the KPFlow measures of ``D``.
    """
    lines = [header] if header else []
    hist = m["history"]
    if hist:
        lines += ["", "KPFlow during training (analysis batch; collapse dim = effective rank "
                      "of Theta = P K P*; ranks: participation ratio, convention 'default', "
                      "except 'figure': the paper's figure convention, docs/conventions.md)",
                  format_table(_history_rows(hist), list(HISTORY_COLUMNS.values()))]
    s = m["summary"]
    lines += ["", f"{analysis} (ranks: participation ratio, convention "
                  f"{s.get('convention', 'default')!r})",
              format_table([[s.get(k) for k in SUMMARY_COLUMNS] + [m["r2"]]],
                           list(SUMMARY_COLUMNS.values()) + ["R^2 (held out)"])]
    est_cd = m.get("collapse_estimate")
    text_cd = s.get("collapse_dim_estimate") or (est_cd or {}).get("text")
    if text_cd:
        lines.append(f"  collapse dim with its uncertainty: {text_cd}")
    lines += ["", "Accuracy on held-out trials",
              format_table([[k, v] for k, v in m["scores"].items()], ["task", "accuracy"])]
    if m["task_alignment"] is not None:
        lines += ["", "Task alignment cos(dz_i, dz_j) (per-task hidden-state updates)",
                  format_matrix(m["task_alignment"], m["alignment_names"], corner="task")]
    return "\n".join(lines)
