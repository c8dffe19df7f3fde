"""RecurrentClassifier: per-sequence or per-step labels, softmax readout, cross-entropy."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.base import ClassifierMixin, TransformerMixin
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array

from kpflow_sk.estimators._base import BaseRecurrentEstimator
from kpflow_sk.estimators._loss import reduce_loss
from kpflow_sk.estimators._persistence import register_estimator
from kpflow_sk.estimators._validation import check_n_samples

__all__ = ["RecurrentClassifier"]


@register_estimator
class RecurrentClassifier(ClassifierMixin, TransformerMixin, BaseRecurrentEstimator):
    """Recurrent network classifier with KPFlow analysis of its training.

    The readout gives one logit per class; the loss is the (weighted) mean cross-entropy.
    Labels are per sequence, ``y`` of shape (n_samples,) (read out at the last step), or per
    step, ``y`` of shape (n_samples, n_timesteps) with 3-D ``X``.

    Parameters
    ----------
    All parameters are those of :class:`~kpflow_sk.estimators.RecurrentRegressor`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted class labels.
    n_outputs_ : int
        Number of logits (``n_classes``).
    validation_scores_ : list of float or None
        Validation accuracy after every epoch (``early_stopping=True`` only).
    Other attributes are those of :class:`~kpflow_sk.estimators.RecurrentRegressor`.

    Examples
    --------
    >>> import numpy as np
    >>> from kpflow_sk import RecurrentClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(40, 6, 2))
    >>> y = (X[:, :, 0].sum(1) > 0).astype(int)      # one label per sequence
    >>> clf = RecurrentClassifier(hidden_size=8, max_iter=5, random_state=0).fit(X, y)
    >>> clf.predict_proba(X).shape
    (40, 2)
    """

    # TransformerMixin's set_output (only for 2-D output) would shadow the base class's
    set_output = BaseRecurrentEstimator.set_output
    _TARGET_LAYOUTS = {True: "per-step", False: "per-sequence"}

    def _check_labels(self, y, X3, x_ndim):
        """Check the layout of ``y``; return ``(labels, per_step)``."""
        n, T, _ = X3.shape
        y = check_array(y, dtype=None, ensure_2d=False, allow_nd=True, ensure_min_samples=0,
                        input_name="y")
        check_n_samples(n, y, "y")
        if y.ndim == 2 and x_ndim == 2 and y.shape[1] == 1:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. Please change "
                "the shape of y to (n_samples, ), for example using ravel().",
                DataConversionWarning, stacklevel=5)
            y = y[:, 0]
        if y.ndim == 1:
            per_step = False
        elif y.ndim == 2 and x_ndim == 3:
            if y.shape[1] != T:
                raise ValueError(
                    f"per-step labels y must have shape (n_samples, n_timesteps) = ({n}, {T}) "
                    f"to match X; got {y.shape}")
            per_step = True
        else:
            raise ValueError(
                f"{type(self).__name__} takes y of shape (n_samples,) (one label per "
                "sequence) or (n_samples, n_timesteps) with 3-D X (one label per step); got "
                f"y of shape {y.shape} with {x_ndim}-D X")
        check_classification_targets(y.ravel())
        return y, per_step

    def _validate_targets(self, y, X3, x_ndim, *, reset, classes=None, scoring=False):
        y, per_step = self._check_labels(y, X3, x_ndim)
        if reset:
            self.classes_ = np.unique(y) if classes is None else np.unique(classes)
            self.n_outputs_ = int(len(self.classes_))
        encoded = np.searchsorted(self.classes_, y)
        unknown = (encoded >= len(self.classes_)) | (
            self.classes_[np.minimum(encoded, len(self.classes_) - 1)] != y)
        if np.any(unknown):
            if scoring:     # a label unseen in fit is never predicted: encoded -1, never right
                return np.where(unknown, -1, encoded).astype(np.int64), per_step
            raise ValueError(
                f"y contains labels not in classes_ {self.classes_.tolist()}: "
                f"{np.unique(y[unknown]).tolist()}")
        return np.ascontiguousarray(encoded, dtype=np.int64), per_step

    def _check_fit_inputs(self, X, y, task_ids, sample_weight, mask, *, reset, classes=None,
                          scoring=False):
        out = super()._check_fit_inputs(X, y, task_ids, sample_weight, mask, reset=reset,
                                        classes=classes, scoring=scoring)
        targets, weight = out[1], out[2]
        if reset and classes is None:
            present = targets if weight is None else targets[weight > 0]
            labels = np.unique(present)
            if len(labels) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes (with "
                    "non-zero weight), but y contains only one class: "
                    f"{self.classes_[labels].tolist()}")
        return out

    def _stratify_labels(self, targets, seq2seq):
        return None if seq2seq else targets

    def get_loss(self, output, target, weight=None):
        """Cross-entropy of the logits, weighted by ``weight`` over samples (and steps)."""
        C = output.shape[-1]
        ce = torch.nn.functional.cross_entropy(output.reshape(-1, C), target.reshape(-1),
                                               reduction="none").reshape(target.shape)
        return reduce_loss(ce, weight, getattr(self, "mask_convention", "linear"))

    def partial_fit(self, X, y, *, classes=None, task_ids=None, sample_weight=None, mask=None):
        """One epoch of training, continuing from the current weights.

        Parameters
        ----------
        X, y, task_ids, sample_weight, mask
            As in :meth:`fit`.
        classes : array-like of shape (n_classes,), default=None
            All class labels; required on the first call.

        Returns
        -------
        self
        """
        first = not hasattr(self, "module_")
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            self._validate_params()
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"classes={np.unique(classes).tolist()} is not the same as on the first call "
                f"to partial_fit ({self.classes_.tolist()})")
        return self._fit(X, y, task_ids=task_ids, sample_weight=sample_weight, mask=mask,
                         incremental=True, classes=classes if first else None)

    def predict_proba(self, X):
        """Class probabilities (softmax of the logits).

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes) or (n_samples, n_timesteps, n_classes)
        """
        X3 = self._check_X_predict(X)
        logits = self._forward_numpy(X3, "output")
        logits = logits - logits.max(axis=-1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=-1, keepdims=True)

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba` (log-softmax of the logits)."""
        X3 = self._check_X_predict(X)
        logits = self._forward_numpy(X3, "output")
        logits = logits - logits.max(axis=-1, keepdims=True)
        return logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))

    def predict(self, X):
        """Predicted labels.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_timesteps)
        """
        X3 = self._check_X_predict(X)
        logits = self._forward_numpy(X3, "output")
        return self.classes_[np.argmax(logits, axis=-1)]

    def _score_arrays(self, X3, target, weight):
        """Accuracy of encoded labels ``target`` (-1 for labels unseen in fit: never right)."""
        logits = self._forward_numpy(X3, "output")
        correct = (np.argmax(logits, axis=-1) == target).astype(np.float64)
        if weight is None:
            return float(correct.mean())
        return float((correct * weight).sum() / weight.sum())

    def score(self, X, y, sample_weight=None, *, mask=None):
        """Accuracy over all labels (per sequence or per step) with non-zero weight.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_timesteps)
        sample_weight : array-like of shape (n_samples,), default=None
        mask : array-like of shape (n_samples, n_timesteps), default=None
            Per-step weights (per-step labels only).

        Returns
        -------
        score : float
        """
        return self._score(X, y, sample_weight, mask)
