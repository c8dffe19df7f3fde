"""The report folder of a fitted model: figures, headline, glossary, ``results.json`` and
``report.html`` (through :func:`~kpflow_sk.plotting.write_report`), from the measures of
:func:`~kpflow_sk.plotting.report_measures`.
"""

from __future__ import annotations

import numbers

import numpy as np

from kpflow_sk.analysis import HISTORY_LABELS, SUMMARY_FIELDS, TABLE_FIELDS

from ._alignment import plot_task_alignment
from ._report import write_report
from ._spectra import plot_spectra
from ._training import plot_training
from ._trajectories import plot_trajectories_pca
from ._trial import plot_trial

__all__ = ["write_model_report", "jsonable_params", "GLOSSARY", "HISTORY_COLUMNS",
           "SUMMARY_COLUMNS"]

#: Columns of the training table: kp_history_ field -> header (the record schema lives in
#: kpflow_sk.analysis).
HISTORY_COLUMNS = {k: HISTORY_LABELS[k] for k in TABLE_FIELDS}
#: Columns of the end-of-training table: summary field -> header.
SUMMARY_COLUMNS = {k: HISTORY_LABELS[k] for k in SUMMARY_FIELDS}


#: "What the measures mean": one sentence per measure (docs/conventions.md has the math).
GLOSSARY = {
    "K (Parameter Operator)": (
        "K = J J* maps a hidden-state error to the hidden-state change that one step of "
        "gradient descent on the cell parameters would cause with the states held fixed; "
        "a low effective rank means the parameters can move the dynamics in few directions."),
    "P (Linearized Flow Propagator)": (
        "P carries a perturbation at one time step forward through the linearised "
        "recurrence; its rank is measured through P P*. A high rank means perturbations "
        "persist along many directions (long memory), a low rank means they die out or "
        "collapse onto a few directions."),
    "Theta = P K P* (hidden-state NTK)": (
        "Theta maps the loss gradient err = dL/dZ to the velocity of the hidden trajectories "
        "under gradient flow, dZ/dtau = -Theta err."),
    "collapse dim": (
        "Effective rank (participation ratio) of Theta on the whole trajectory space of the "
        "analysis batch: the number of independent directions in which gradient descent can "
        "still move the hidden dynamics. Low (a few) means learning has collapsed onto a "
        "low-dimensional subspace; it is at most trials x steps x units, usually far less."),
    "effective rank 'pr'": (
        "Participation ratio tr(G)^2 / tr(G^2) of a PSD operator G: 1 when one eigenvalue "
        "dominates, n when n eigenvalues are equal."),
    "effective rank 'var95'": (
        "Number of leading eigenvalues that hold 95% of the trace (interpolated, so "
        "fractional)."),
    "whole space vs '(time)'": (
        "Whole-space ranks treat the operator on all trials x steps x units at once and are "
        "randomized estimates (Hutch++ / Krylov, seeded); '(time)' ranks first compress the "
        "operator onto the time axis (reduce='mean': inputs constant over trials and units, "
        "T x T) and are exact. The two are on different scales and shown in separate panels."),
    "convention": (
        "Every rank here is convention 'default': the participation ratio of the "
        "eigenvalues of K, P P* and Theta themselves. The KPFlow reference code and the "
        "paper's figures use other conventions (Grams of the operators, a 95% cut-off), "
        "which give different numbers; see docs/conventions.md."),
    "task alignment": (
        "Cosine between the hidden-trajectory updates dz_i = -Theta err_i driven by each "
        "task's own loss: near 1 the tasks push the dynamics the same way, near 0 "
        "independently, negative against each other."),
    "held-out accuracy": (
        "score_task on fresh trials (another seed): the fraction of trials the task's source "
        "paper counts as correct (0 to 1)."),
}
#: the convention of every rank this report shows (kpflow_sk's own, docs/conventions.md)
CONVENTION = "default"


def jsonable_params(est):
    """``est.get_params()`` with anything that is not a plain scalar as its ``str``."""
    out = {}
    for key, value in est.get_params(deep=False).items():
        ok = value is None or isinstance(value, (str, bool, numbers.Number))
        out[key] = value if ok else str(value)
    return out


def _figures(m, D, test, title_names):
    figs = []
    if m["history"]:
        figs.append(("training", plot_training(m["history"]),
                     "Left: the loss on the analysis batch (black) and the training loss "
                     "(grey) per snapshot; a long flat stretch is the plateau recurrent tasks "
                     "have before they are solved. Middle: effective ranks (pr) of K, P P* "
                     "and Theta on the whole trajectory space (randomized estimates); the "
                     "last Theta value is the collapse dim. Right: the same operators "
                     "compressed onto the time axis (exact, T x T). Look for ranks that fall "
                     "as the loss falls (dynamic collapse). Convention 'default'."))
    if m["spectra"]:
        figs.append(("spectra", plot_spectra(m["spectra"]),
                     "Leading eigenvalues of K, P P* and Theta on the whole trajectory space "
                     "at the end of training, each divided by its largest. A fast drop means a "
                     "low effective rank: few directions carry the operator."))
    if m["task_alignment"] is not None:
        figs.append(("task_alignment",
                     plot_task_alignment(m["task_alignment"], m["alignment_names"]),
                     "Cosine of the hidden-state updates dz_i = -Theta err_i driven by each "
                     "task's objective (end of training, analysis batch). High off-diagonal "
                     "entries: those tasks push the dynamics the same way."))
    Z = D.Z
    periods = _analysis_periods(D, test)
    if D.task_ids is not None and len(np.unique(D.task_ids)) > 1:
        figs.append(("trajectories_by_task",
                     plot_trajectories_pca(Z, np.asarray(D.task_ids),
                                                    labels=title_names,
                                                    condition_name="task",
                                                    periods=periods),
                     "Hidden trajectories of the analysis batch in their first two principal "
                     "components, one line per trial, coloured by task; circles mark the "
                     "start, squares the end of each trial, triangles (one colour per "
                     "period) where each trial period starts. Trials of one task should "
                     "follow similar paths; where the lines split is where the tasks' "
                     "computations differ."))
    # one trial per task, with the model's prediction dashed over the target
    ids = np.asarray(test.task_ids)
    for k, name in enumerate(test.task_names):
        hits = np.flatnonzero(ids == k)
        if hits.size:
            figs.append((f"trial_{name}",
                         plot_trial(test, int(hits[0]), y_pred=m["y_pred"]),
                         f"A held-out {name} trial: named input channels, targets (solid) and "
                         "the model's predictions (dashed, same colour), the loss mask and "
                         "the trial's periods. The dashed lines should sit on the solid ones "
                         "in the response period."))
    return figs


def _analysis_periods(D, test):
    """Periods of the analysis batch's trials for the PCA colouring: the held-out Bunch's
    periods apply when its timing is fixed (the same for every trial), else None."""
    out = {}
    for name, v in test.periods.items():
        v = np.asarray(v)
        if v.ndim != 2 or v.shape[1] != 2 or not (v == v[0]).all() or v[0, 0] < 0:
            continue
        out[name] = (int(v[0, 0]), int(v[0, 1]))
    T = D.Z.shape[1]
    out = {k: (a, min(b, T)) for k, (a, b) in out.items() if a < T}
    return out or None


def _headline(est, m, test, recipe):
    """The first rows of the report: what was fitted and the main numbers, plain words."""
    s = m["summary"]
    tasks = list(test.task_names)
    n_train = recipe.get("n_samples") if isinstance(recipe, dict) else None
    cell = getattr(est, "cell", "?")
    hl = {"fitted": (
        f"{type(est).__name__}: {cell} cell, {getattr(est, 'hidden_size', '?')} hidden units, "
        f"{getattr(est, 'n_iter_', '?')} epochs (optimizer {getattr(est, 'optimizer', '?')}, "
        f"learning rate {getattr(est, 'learning_rate', '?')}, batch "
        f"{getattr(est, 'batch_size', '?')})"
        + (f" on {n_train} trials" if n_train else "") + f" of {', '.join(tasks)}")}
    for name, v in m["scores"].items():
        hl[f"held-out accuracy: {name}"] = f"{v:.3f} ({len(test.X)} held-out trials in all)"
    hl["held-out R^2"] = m["r2"]
    cd = s.get("collapse_dim")
    estimate = m.get("collapse_estimate")
    if cd is not None:
        if estimate is not None:
            value = estimate["text"]
            if abs(estimate["value"] - cd) > 1e-9 * max(1.0, abs(cd)):
                value += f" (last snapshot: {cd:.3g})"
        else:
            value = f"{cd:.3g} (no uncertainty available)"
        hl["collapse dim"] = (
            value + f" — pr of Theta, whole trajectory space, {s.get('n_trials')} training "
            f"trials, convention '{CONVENTION}'")
    for name, label in (("K", "K"), ("P", "P P*"), ("Theta", "Theta")):
        whole, time_ = s.get(f"rank_{name}"), s.get(f"rank_{name}_time")
        if whole is not None:
            hl[f"rank {label}"] = (
                f"{whole:.3g} whole space (estimate); "
                + (f"{time_:.3g} time axis (exact, reduce='mean')" if time_ is not None
                   else "") + f"; pr, convention '{CONVENTION}'")
    ta = m["task_alignment"]
    if ta is not None and len(ta) > 1:
        names = m["alignment_names"]
        iu = np.triu_indices(len(ta), 1)
        k = int(np.argmax(ta[iu]))
        hl["task alignment"] = (
            f"off-diagonal cosines from {ta[iu].min():.2f} to {ta[iu].max():.2f}; most "
            f"aligned pair {names[iu[0][k]]} / {names[iu[1][k]]}")
    return hl


def write_model_report(folder, *, title, est, D, test, m, recipe, extra=None, findings=None,
                       extra_figures=None, extra_tables=None):
    """Write the report folder of a fitted model.

    Parameters
    ----------
    folder : str or path-like
    title : str
    est : fitted RecurrentRegressor
    D : KPDecomposition
        The analysis whose trajectories are plotted.
    test : Bunch
        The held-out trials the scores were measured on.
    m : dict
        From :func:`~kpflow_sk.plotting.report_measures`.
    recipe : dict
        The data recipe (:func:`kpflow_sk.datasets.make_recipe`), stored in the report.
    extra : dict, optional
        More entries of ``results.json`` (``"demo_config"`` also goes to the configuration).
    findings : list of (heading, text), optional
        Paragraphs under the headline.
    extra_figures : list of (name, Figure, caption), optional
        Come first among the figures.
    extra_tables : dict, optional
        Added to the tables.

    Returns
    -------
    path : pathlib.Path
        ``report.html``.
    n_figures : int
        Number of PNG figures written next to it.
    """
    figs = list(extra_figures or []) + _figures(m, D, test, list(test.task_names))
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
        "collapse_dim_estimate": m.get("collapse_estimate"),
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
    tables.update(extra_tables or {})
    config = {"estimator": jsonable_params(est), "data": recipe}
    if extra and "demo_config" in extra:
        config["demo"] = extra["demo_config"]
    glossary = dict(GLOSSARY)
    if m["task_alignment"] is None:
        glossary.pop("task alignment")
    try:
        path = write_report(folder, title=title, figures=figs, results=results,
                            tables=tables, headline=_headline(est, m, test, recipe),
                            findings=findings, glossary=glossary, config=config)
    finally:
        for _, fig, _ in figs:
            fig.clear()
    return path, len(figs)
