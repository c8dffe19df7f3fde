"""The KPFlow side of a recurrent estimator: ``decompose``, tracking during fit
(``kp_history_``) and the end-of-fit properties (``kp_decompose_``, ``collapse_dim_``,
``task_alignment_``). Thin calls: the logic lives in :mod:`kpflow_sk.analysis`."""

from __future__ import annotations

import torch
from sklearn.utils.validation import check_is_fitted

from kpflow_sk.analysis import collapse_dim, network_decomposition, snapshot
from kpflow_sk.estimators import _progress

__all__ = ["KPFlowMixin"]


class KPFlowMixin:
    """KPFlow analysis of the fitted network (mixed into ``BaseRecurrentEstimator``)."""

    def _decomposition(self, X3, targets, weight, task_ids, seed=None):
        return network_decomposition(
            self.module_, self.get_loss, self._seq2seq, X3, targets, weight, task_ids,
            device=self.device_, random_state=self._kp_seed if seed is None else seed,
            n_probes=self.kp_probes, precision=self.kp_precision)

    def decompose(self, X, y, task_ids=None, *, sample_weight=None, mask=None):
        """KPFlow decomposition of the fitted network on any data.

        Parameters
        ----------
        X, y, task_ids, sample_weight, mask
            As in :meth:`fit`; the loss (hence ``err``) is the estimator's own training loss
            on this batch.

        Returns
        -------
        KPDecomposition
        """
        check_is_fitted(self)
        X3, targets, weight, task_ids, _ = self._check_fit_inputs(
            X, y, task_ids, sample_weight, mask, reset=False)
        bar = _progress.note(self, f"decompose ({X3.shape[0]} trials)")
        D = self._decomposition(X3, targets, weight, task_ids)
        _progress.done(bar)
        return D

    def _analysis_batch_decomposition(self):
        b = self._kp_batch
        return self._decomposition(b["X"], b["target"], b["weight"], b["task_ids"])

    def _track(self):
        """Append one ``kp_history_`` record (:func:`kpflow_sk.analysis.snapshot`)."""
        bar = _progress.note(self, f"KPFlow snapshot (epoch {self.n_iter_})")
        with torch.enable_grad():
            D = self._analysis_batch_decomposition()
            self.kp_history_.append(snapshot(
                D, self.n_iter_, self.loss_curve_[-1] if self.loss_curve_ else None))
        _progress.done(bar)

    def _kp_cached(self, key, compute):
        check_is_fitted(self)
        cache = self.__dict__.setdefault("_kp_cache", {})
        if key not in cache:
            cache[key] = compute()
        return cache[key]

    @property
    def kp_decompose_(self):
        """KPDecomposition of the fitted network on the analysis batch (``kp_n_trials``
        training trials, stratified by task), with the estimator's own loss. Built on first
        access from the end-of-fit weights and cached."""
        return self._kp_cached("D", self._analysis_batch_decomposition)

    @property
    def collapse_dim_(self):
        """Effective rank (participation ratio) of Theta on the whole trajectory space of the
        analysis batch at the end of fit (docs/conventions.md section 3)."""
        return self._kp_cached("collapse_dim", lambda: collapse_dim(self.kp_decompose_))

    @property
    def task_alignment_(self):
        """``(n_tasks, n_tasks)`` cosines of the per-task updates ``dz_i``, ``dz_j``
        (ordered by sorted task label); None when fit saw no ``task_ids``."""
        return self._kp_cached("task_alignment", lambda: self.kp_decompose_.task_alignment())
