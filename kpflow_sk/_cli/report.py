"""The report of a fitted model: measures, terminal tables and the report folder.

Shared by ``demo``, ``fit`` and ``analyze``: :func:`measure` collects the numbers (held-out
scores, KPFlow summary, task alignment, spectra, training history), :func:`render_text`
prints them as tables and :func:`write_model_report` writes PNG figures, ``results.json``
and ``report.html`` with :func:`kpflow_sk.plotting.write_report`.
"""

from __future__ import annotations

import numbers
import time
import warnings

import numpy as np

from kpflow_sk._cli.text import format_matrix, format_table
from kpflow_sk.analysis import HISTORY_LABELS, SUMMARY_FIELDS, TABLE_FIELDS

__all__ = ["measure", "render_text", "write_model_report", "jsonable_params"]

#: Columns of the training table: kp_history_ field -> header (the record schema lives in
#: kpflow_sk.analysis).
HISTORY_COLUMNS = {k: HISTORY_LABELS[k] for k in TABLE_FIELDS}
#: Columns of the end-of-training table: summary field -> header.
SUMMARY_COLUMNS = {k: HISTORY_LABELS[k] for k in SUMMARY_FIELDS}
#: Operators whose leading eigenvalues are plotted (whole trajectory space).
SPECTRA = ("K", "P", "Theta")
#: At most this many snapshots are printed (evenly spaced, first and last kept).
MAX_PRINTED_SNAPSHOTS = 12


def jsonable_params(est):
    """``est.get_params()`` with anything that is not a plain scalar as its ``str``."""
    out = {}
    for key, value in est.get_params(deep=False).items():
        ok = value is None or isinstance(value, (str, bool, numbers.Number))
        out[key] = value if ok else str(value)
    return out


def _scores(est, test):
    from kpflow_sk.datasets import score_task

    y_pred = est.predict(test.X)
    scores = {name: score_task(name, y_pred, test) for name in test.task_names}
    r2 = float(est.score(test.X, test.y, mask=test.mask))
    return y_pred, scores, r2


def _summary(D, history, n_iter):
    """KPFlow headline numbers; reuses the last snapshot when it is of the final weights
    (same analysis batch, same seed: the same numbers, without recomputing them)."""
    if history and history[-1].get("iteration") == n_iter:
        B, T, H = D.trajectory.shape
        out = {"n_trials": B, "n_timesteps": T, "hidden_size": H,
               "n_params": D.trajectory.parameter_space.size}
        out.update({k: v for k, v in history[-1].items()
                    if k not in ("iteration", "train_loss")})
        return out
    return D.summary()


def measure(est, D, test, *, history=None, spectra_k=20, reuse_history=True):
    """Everything a report shows about a fitted model.

    Parameters
    ----------
    est : fitted RecurrentRegressor
    D : KPDecomposition
        The analysis (``est.kp_decompose_`` or ``est.decompose`` on held-out trials).
    test : Bunch
        Held-out trials for the scores.
    history : list of dict, optional
        ``est.kp_history_``.
    spectra_k : int
        Leading eigenvalues per operator (0: no spectra).
    reuse_history : bool
        ``D`` is ``est.kp_decompose_``: take the end-of-fit numbers from the last snapshot
        of ``history`` when it is of the final weights.

    Returns
    -------
    dict
        ``scores`` (task -> accuracy), ``r2``, ``summary``, ``task_alignment`` (ndarray or
        None) with ``alignment_names``, ``spectra``, ``history``, ``y_pred`` and
        ``seconds`` (time spent here).
    """
    t0 = time.perf_counter()
    history = list(history or [])
    y_pred, scores, r2 = _scores(est, test)
    summary = _summary(D, history if reuse_history else None, getattr(est, "n_iter_", None))
    ta = summary.get("task_alignment")
    names = list(test.task_names)
    if ta is not None and D.task_ids is not None:
        labels = np.unique(D.task_ids)
        alignment_names = [names[int(k)] if 0 <= int(k) < len(names) else str(k)
                           for k in labels]
        ta = np.asarray(ta, dtype=float)
    else:
        ta, alignment_names = None, []
    spectra = {}
    if spectra_k:
        with warnings.catch_warnings():
            # KPDecomposition.spectrum wraps a read-only array in a tensor (harmless here)
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            for name in SPECTRA:
                spectra[name] = np.asarray(D.spectrum(name, k=spectra_k), dtype=float)
    return {"scores": scores, "r2": r2, "summary": summary, "task_alignment": ta,
            "alignment_names": alignment_names, "spectra": spectra, "history": history,
            "y_pred": y_pred, "seconds": time.perf_counter() - t0}


def _history_rows(history):
    if len(history) > MAX_PRINTED_SNAPSHOTS:
        keep = np.unique(np.linspace(0, len(history) - 1, MAX_PRINTED_SNAPSHOTS).round())
        history = [history[int(i)] for i in keep]
    return [[rec.get(k) for k in HISTORY_COLUMNS] for rec in history]


def render_text(m, *, header="", analysis="End of training (analysis batch)"):
    """The terminal tables of :func:`measure`'s dict: training, scores, task alignment.

    ``analysis`` titles the table of the KPFlow measures of ``D``.
    """
    lines = [header] if header else []
    hist = m["history"]
    if hist:
        lines += ["", "KPFlow during training (analysis batch; collapse dim = effective rank "
                      "of Theta = P K P*; ranks: participation ratio, convention 'default', "
                      "except 'figure': the paper's figure convention, DESIGN.md 3.1)",
                  format_table(_history_rows(hist), list(HISTORY_COLUMNS.values()))]
    s = m["summary"]
    lines += ["", f"{analysis} (ranks: participation ratio, convention "
                  f"{s.get('convention', 'default')!r})",
              format_table([[s.get(k) for k in SUMMARY_COLUMNS] + [m["r2"]]],
                           list(SUMMARY_COLUMNS.values()) + ["R^2 (held out)"])]
    if s.get("collapse_dim_estimate"):
        lines.append(f"  collapse dim: {s['collapse_dim_estimate']}")
    lines += ["", "Accuracy on held-out trials",
              format_table([[k, v] for k, v in m["scores"].items()], ["task", "accuracy"])]
    if m["task_alignment"] is not None:
        lines += ["", "Task alignment cos(dz_i, dz_j) (per-task hidden-state updates)",
                  format_matrix(m["task_alignment"], m["alignment_names"], corner="task")]
    return "\n".join(lines)


def _figures(m, D, test, title_names):
    from kpflow_sk import plotting

    figs = []
    if m["history"]:
        figs.append(("training", plotting.plot_training(m["history"]),
                     "Loss and effective ranks of K, P and Theta during training"))
    if m["spectra"]:
        figs.append(("spectra", plotting.plot_spectra(m["spectra"]),
                     "Leading eigenvalues on the whole trajectory space (normalised)"))
    if m["task_alignment"] is not None:
        figs.append(("task_alignment",
                     plotting.plot_task_alignment(m["task_alignment"], m["alignment_names"]),
                     "Cosine of the hidden-state updates driven by each task's objective"))
    Z = D.Z
    if D.task_ids is not None and len(np.unique(D.task_ids)) > 1:
        figs.append(("trajectories_by_task",
                     plotting.plot_trajectories_pca(Z, np.asarray(D.task_ids),
                                                    labels=title_names,
                                                    condition_name="task"),
                     "Hidden trajectories of the analysis batch, coloured by task"))
    # one trial per task, with the model's prediction dashed over the target
    ids = np.asarray(test.task_ids)
    for k, name in enumerate(test.task_names):
        hits = np.flatnonzero(ids == k)
        if hits.size:
            figs.append((f"trial_{name}",
                         plotting.plot_trial(test, int(hits[0]), y_pred=m["y_pred"]),
                         f"A held-out {name} trial: inputs, targets (solid) and "
                         f"predictions (dashed)"))
    return figs


def write_model_report(folder, *, title, est, D, test, m, recipe, extra=None):
    """Write the report folder of a fitted model.

    Returns
    -------
    path : pathlib.Path
        ``report.html``.
    n_figures : int
        Number of PNG figures written next to it.
    """
    from kpflow_sk.plotting import write_report

    figs = _figures(m, D, test, list(test.task_names))
    s = m["summary"]
    results = {
        "title": title,
        "model": jsonable_params(est),
        "data": recipe,
        "n_iter": getattr(est, "n_iter_", None),
        "final_loss": est.loss_curve_[-1] if getattr(est, "loss_curve_", None) else None,
        "loss_curve": list(getattr(est, "loss_curve_", []) or []),
        "scores": m["scores"],
        "r2": m["r2"],
        "collapse_dim": s.get("collapse_dim"),
        "task_names": list(test.task_names),
        "task_alignment": m["task_alignment"],
        "alignment_names": m["alignment_names"],
        "kp_summary": {k: v for k, v in s.items() if k != "task_alignment"},
        "kp_history": m["history"],
        "spectra": m["spectra"],
    }
    results.update(extra or {})
    tables = {"Accuracy on held-out trials": [{"task": k, "accuracy": v}
                                              for k, v in m["scores"].items()]}
    if m["history"]:
        tables["KPFlow snapshots during training (ranks: pr, convention 'default')"] = [
            {h: rec.get(k) for k, h in HISTORY_COLUMNS.items()} for rec in m["history"]]
    if m["task_alignment"] is not None:
        names = m["alignment_names"]
        tables["Task alignment cos(dz_i, dz_j)"] = {
            "data": m["task_alignment"], "index": names, "columns": names}
    try:
        path = write_report(folder, title=title, figures=figs, results=results,
                            tables=tables)
    finally:
        for _, fig, _ in figs:
            fig.clear()
    return path, len(figs)
