"""Figures of a fit and its KPFlow analysis, and the report folder that collects them.

Every function returns a ``matplotlib.figure.Figure`` built without pyplot (no global
state, no window, any backend); save it with ``fig.savefig``. Most accept an ``ax`` to draw
into an existing figure.

>>> import numpy as np
>>> from kpflow_sk.plotting import plot_spectra
>>> fig = plot_spectra({"K": np.array([4.0, 1.0, 0.1]), "Theta": np.array([2.0, 0.5])})
>>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
['K', 'Θ']

- :func:`plot_training` — loss and effective ranks of K, P, Θ over training
  (``est.kp_history_``).
- :func:`plot_spectra` — leading eigenvalues of operators (``D.spectrum``).
- :func:`plot_task_alignment` — heatmap of ``est.task_alignment_``.
- :func:`plot_trajectories_pca` — hidden trajectories in PC space, coloured by condition.
- :func:`plot_fixed_points` — fixed points on the PCA trajectory plot (stable filled,
  unstable open); :func:`plot_eigenvalues` — their Jacobian eigenvalues with the unit circle
  (imaginary axis for ``node``); :func:`plot_exponents_over_training` — leading Lyapunov
  exponents over checkpoints (:mod:`kpflow_sk.dynamics`).
- :func:`plot_trial` — one trial of a dataset (from :mod:`kpflow_sk.datasets`).
- :func:`write_report` — PNGs, ``results.json`` and a self-contained ``report.html``.
- :func:`report_measures` — the numbers of a fitted model's report (scores, KPFlow summary,
  task alignment, spectra, history); :func:`write_model_report` — its report folder.
"""

from ._alignment import plot_task_alignment
from ._dynamics import plot_eigenvalues, plot_exponents_over_training, plot_fixed_points
from ._grouping import plot_grouping
from ._measures import SPECTRA, collapse_estimate, report_measures
from ._model_report import (
    GLOSSARY,
    HISTORY_COLUMNS,
    SUMMARY_COLUMNS,
    jsonable_params,
    write_model_report,
)
from ._report import to_jsonable, write_report
from ._spectra import plot_spectra
from ._training import OPERATOR_COLORS, OPERATOR_LABELS, plot_training
from ._trajectories import plot_trajectories_pca
from ._trial import plot_trial

__all__ = [
    "plot_training",
    "plot_spectra",
    "plot_task_alignment",
    "plot_trajectories_pca",
    "plot_trial",
    "plot_grouping",
    "plot_fixed_points",
    "plot_eigenvalues",
    "plot_exponents_over_training",
    "write_report",
    "report_measures",
    "collapse_estimate",
    "write_model_report",
    "jsonable_params",
    "GLOSSARY",
    "HISTORY_COLUMNS",
    "SUMMARY_COLUMNS",
    "SPECTRA",
    "to_jsonable",
    "OPERATOR_LABELS",
    "OPERATOR_COLORS",
]
