"""The estimators' input normaliser: one check of ``X, y, task_ids, sample_weight, mask`` for
``fit``, ``partial_fit``, ``decompose`` and ``score`` (the array checks themselves live in
:mod:`~kpflow_sk.estimators._validation` and :mod:`~kpflow_sk.estimators._loss`)."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from kpflow_sk.estimators._loss import check_loss_mask, combine_weights
from kpflow_sk.estimators._validation import (
    check_features,
    check_n_features,
    check_sample_weight,
    check_task_ids,
    check_X,
)

__all__ = ["InputsMixin"]


class InputsMixin:
    """Input checks of a recurrent estimator (mixed into ``BaseRecurrentEstimator``)."""

    #: how messages name the two target layouts (the classifier says per-step / per-sequence)
    _TARGET_LAYOUTS = {True: "sequence-to-sequence", False: "sequence-to-one"}

    def _check_fit_inputs(self, X, y, task_ids, sample_weight, mask, *, reset, classes=None,
                          scoring=False):
        """Check and convert the inputs of fit (``reset``: a new network), ``partial_fit`` /
        ``decompose`` (``reset=False``) and ``score`` (``scoring=True``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or (n_samples, n_features)
        y : array-like
        task_ids : array-like of shape (n_samples,) or None
        sample_weight : array-like of shape (n_samples,) or None
        mask : array-like of shape (n_samples, n_timesteps) (or (..., n_outputs)) or None
        reset : bool
            Record ``n_features_in_``, ``n_outputs_`` (``classes_``) instead of checking them.
        classes : array-like or None
            All class labels (the classifier's first ``partial_fit``).
        scoring : bool
            For ``score``: the estimator must be fitted, weights are float64 (scores are
            computed in float64) and labels unseen in fit are allowed (encoded -1).

        Returns
        -------
        X3 : ndarray of shape (n, T, d), of the estimator's dtype
        targets : ndarray, as ``_validate_targets`` returns it
        weight : ndarray of shape (n,) or (n, T) (or (n, T, n_outputs)), or None
            ``sample_weight`` times ``mask`` (see ``mask_convention``).
        task_ids : ndarray of shape (n,) or None
        seq2seq : bool
        """
        if scoring:
            check_is_fitted(self)
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None.")
        np_dtype = self._numpy_dtype()
        w_dtype = np.float64 if scoring else np_dtype
        check_features(self, X, reset=reset)
        X3, x_ndim = check_X(X, dtype=np_dtype)
        n, T, _ = X3.shape
        if not reset:
            check_n_features(self, X3)
        targets, seq2seq = self._validate_targets(y, X3, x_ndim, reset=reset, classes=classes,
                                                  scoring=scoring)
        if not reset and seq2seq != self._seq2seq:
            kinds = self._TARGET_LAYOUTS
            raise ValueError(
                f"y of shape {np.shape(y)} is {kinds[seq2seq]}: it does not match the target "
                f"layout seen in fit ({kinds[self._seq2seq]})"
                + ("" if scoring else "; refit from scratch (warm_start=False) to change "
                   "the target layout"))
        sw = check_sample_weight(sample_weight, n, w_dtype)
        mask = check_loss_mask(mask, n, T, targets.shape[2] if targets.ndim == 3 else None,
                               w_dtype)
        if mask is not None and not seq2seq:
            raise ValueError(
                "mask weights the loss per step (n_samples, n_timesteps), so it needs "
                "sequence-to-sequence targets (3-D y, or per-step labels for a classifier); "
                f"got y of shape {np.shape(targets)} read out at the last step")
        task_ids = check_task_ids(task_ids, n)
        weight = self._combine_weights(sw, mask, seq2seq, T)
        if weight is not None and not np.any(weight > 0):
            raise ValueError("mask and sample_weight together give zero weight to every loss "
                             "term; at least one entry needs a non-zero weight")
        return X3, targets, weight, task_ids, seq2seq

    def _combine_weights(self, sw, mask, seq2seq, T):
        """Loss weights: (n,) for sequence-to-one, sample weight x mask (``mask_convention``
        "linear") or x mask^2 ("squared") for sequence-to-sequence targets (see ``_loss``)."""
        return combine_weights(sw, mask, seq2seq, T, getattr(self, "mask_convention", "linear"))

    def _check_X_predict(self, X):
        """``X`` of a fitted estimator's predict / transform, as (n, T, d) of its dtype."""
        check_is_fitted(self)
        check_features(self, X, reset=False)
        X3, _ = check_X(X, dtype=self._numpy_dtype())
        check_n_features(self, X3)
        return X3

    def _to_tensor(self, a, device=None):
        """An ndarray as a tensor on ``device`` (default: the fitted device); None stays."""
        if a is None:
            return None
        return torch.from_numpy(a).to(device if device is not None else self.device_)
