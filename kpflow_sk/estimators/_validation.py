"""Input checking for the recurrent estimators (one normaliser, DESIGN.md section 4).

Conventions: 3-D ``X`` is ``(n_samples, n_timesteps, n_features)``; 2-D ``X`` is tabular
``(n_samples, n_features)``, read as sequences of length 1. Every bad input raises
``ValueError`` with a message naming the problem (``TypeError`` only where NumPy cannot
convert an object to a number, as scikit-learn does).
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import _check_feature_names, _check_sample_weight, check_array

__all__ = ["check_X", "check_n_features", "check_sample_weight", "check_mask",
           "check_task_ids", "check_n_samples"]


def check_X(X, *, dtype, name="X"):
    """Validate ``X`` and return it as a C-contiguous, writeable 3-D array of ``dtype``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or (n_samples, n_timesteps, n_features)
    dtype : numpy dtype

    Returns
    -------
    X3 : ndarray of shape (n_samples, n_timesteps, n_features)
    ndim : int
        The number of dimensions ``X`` came with (2 or 3).
    """
    # check_array gives scikit-learn's standard messages for 1-D input ("Reshape your
    # data"), empty input, complex data, strings, NaN and inf.
    X = check_array(X, dtype="numeric", allow_nd=True, ensure_2d=True,
                    ensure_min_samples=1, ensure_min_features=1, input_name=name)
    if X.ndim > 3:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features) or 3-D (n_samples, n_timesteps, "
            f"n_features); got an array with {X.ndim} dimensions, shape {X.shape}")
    ndim = X.ndim
    if ndim == 3 and (X.shape[1] == 0 or X.shape[2] == 0):
        raise ValueError(
            f"Found array with {X.shape[1]} time step(s) and {X.shape[2]} feature(s) "
            f"(shape={X.shape}) while a minimum of 1 is required for each.")
    if ndim == 2:
        X = X[:, None, :]
    X = np.require(X, dtype=dtype, requirements=["C", "W"])
    return X, ndim


def check_features(estimator, X, *, reset):
    """Record (reset=True) or check feature names of a 2-D DataFrame input."""
    if getattr(X, "ndim", 2) == 2 or not hasattr(X, "shape"):
        _check_feature_names(estimator, X, reset=reset)


def check_n_features(estimator, X3):
    """``X has d features, but <Estimator> is expecting d' features as input`` (last axis)."""
    d = X3.shape[-1]
    if d != estimator.n_features_in_:
        raise ValueError(
            f"X has {d} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input.")


def check_n_samples(n, arr, name):
    """Same number of samples as X along the first axis."""
    m = arr.shape[0] if arr.ndim else 0
    if m != n:
        raise ValueError(
            f"{name} has {m} samples but X has {n}; they must match along the first axis "
            "(Found input variables with inconsistent numbers of samples: "
            f"[{n}, {m}])")


def check_sample_weight(sample_weight, n, dtype):
    """Non-negative finite weights of shape (n,), not all zero; None stays None."""
    if sample_weight is None:
        return None
    # scikit-learn's messages for shape, sign and (from 1.7 on) all-zero weights
    sw = _check_sample_weight(sample_weight, np.empty((n, 0)), dtype=dtype,
                              ensure_non_negative=True)
    if not np.all(np.isfinite(sw)):
        raise ValueError("sample_weight contains NaN or infinity.")
    if not np.any(sw > 0):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return np.require(sw, dtype=dtype, requirements=["C", "W"])


def check_mask(mask, n, T, dtype):
    """Per-step loss weights of shape (n, T): numeric, finite, non-negative."""
    if mask is None:
        return None
    mask = check_array(mask, dtype="numeric", ensure_2d=False, allow_nd=True,
                       ensure_min_samples=0, input_name="mask")
    if mask.shape != (n, T):
        raise ValueError(
            f"mask must have shape (n_samples, n_timesteps) = ({n}, {T}) to weight the loss "
            f"at every step; got shape {mask.shape}")
    if np.any(mask < 0):
        raise ValueError("mask must be non-negative (it weights the per-step loss)")
    return np.require(mask, dtype=dtype, requirements=["C", "W"])


def check_task_ids(task_ids, n):
    """Task labels of shape (n,) (any sortable labels); None stays None."""
    if task_ids is None:
        return None
    arr = np.asarray(task_ids)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(
            f"task_ids must have shape (n_samples,) = ({n},), one task label per trial; got "
            f"shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError("task_ids contains NaN or infinity.")
    return arr
