"""What a model report measures: held-out scores, the KPFlow summary, task alignment,
spectra and the training history of a fitted estimator, in one dict.

``kpflow-sk fit``, ``analyze`` and ``demo`` print these numbers and
:func:`~kpflow_sk.plotting.write_model_report` writes them, so the CLI and a Python user get
the same ones.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

__all__ = ["report_measures", "collapse_estimate", "SPECTRA"]

#: Operators whose leading eigenvalues are measured and plotted (whole trajectory space).
SPECTRA = ("K", "P", "Theta")


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


def collapse_estimate(D):
    """The collapse dim of ``D`` with its uncertainty: ``{"value", "half_width", "text"}``.

    :func:`kpflow_sk.analysis.collapse_dim` with ``return_result=True`` (the same cached call
    as ``collapse_dim_``, so the same value), rendered by
    :func:`kpflow_sk.linalg.format_estimate`. None when the analysis cannot give it.
    """
    from kpflow_sk import linalg
    from kpflow_sk.analysis import collapse_dim

    try:
        res = collapse_dim(D, return_result=True)
        return {"value": float(res.value), "half_width": float(res.half_width),
                "text": linalg.format_estimate(res)}
    except (AttributeError, TypeError, ValueError):
        return None


def report_measures(est, D, test, *, history=None, spectra_k=20, reuse_history=True,
                    progress=False):
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
    progress : bool
        tqdm progress over the spectra (the slow measures), on stderr.

    Returns
    -------
    dict
        ``scores`` (task -> accuracy), ``r2``, ``summary``, ``task_alignment`` (ndarray of
        shape (n_tasks, n_tasks) or None) with ``alignment_names``, ``collapse_estimate``,
        ``spectra`` (operator -> ndarray of shape (spectra_k,)), ``history``, ``y_pred``
        (n_samples, n_timesteps, n_outputs) and ``seconds`` (time spent here).
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
            ops = SPECTRA
            if progress:
                from tqdm.auto import tqdm

                ops = tqdm(SPECTRA, desc="spectra", unit="operator", leave=False)
            for name in ops:
                spectra[name] = np.asarray(D.spectrum(name, k=spectra_k), dtype=float)
    return {"scores": scores, "r2": r2, "summary": summary, "task_alignment": ta,
            "collapse_estimate": collapse_estimate(D),
            "alignment_names": alignment_names, "spectra": spectra, "history": history,
            "y_pred": y_pred, "seconds": time.perf_counter() - t0}
