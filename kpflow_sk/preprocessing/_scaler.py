"""TimeSeriesScaler: per-feature standardisation of (n, T, d) arrays over samples and time."""

from __future__ import annotations

import numpy as np
from sklearn import get_config
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_array, check_is_fitted

__all__ = ["TimeSeriesScaler"]

_OUTPUTS = ("default", "pandas", "polars")


def _as_3d(X, *, input_name="X"):
    """``X`` as a float ndarray ``(n, T, d)`` plus its original ndim (2-D: T = 1)."""
    X = check_array(X, dtype=[np.float64, np.float32], ensure_2d=False, allow_nd=True,
                    ensure_all_finite="allow-nan", input_name=input_name)
    if X.ndim == 2:
        return X[:, None, :], 2
    if X.ndim != 3:
        raise ValueError(
            f"{input_name} must be 3-D (n_samples, n_timesteps, n_features) or 2-D "
            f"(n_samples, n_features); got an array with {X.ndim} dimension(s) "
            f"(shape {X.shape}). Reshape your data: a single feature is X.reshape(-1, 1), "
            "a single sample X.reshape(1, -1)")
    return X, 3


class TimeSeriesScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator,
                       auto_wrap_output_keys=None):
    """Standardise each feature of sequence data with statistics over samples *and* time.

    ``X[..., j]`` becomes ``(X[..., j] - mean_[j]) / scale_[j]``, where ``mean_`` and
    ``scale_`` are the mean and standard deviation of feature ``j`` over every sample and
    time step seen in ``fit``. It is scikit-learn's :class:`~sklearn.preprocessing.StandardScaler`
    applied to ``X.reshape(-1, n_features)`` (which this class uses), with the sequence shape
    kept, so that it can precede a
    :class:`~kpflow_sk.RecurrentRegressor` in a :class:`~sklearn.pipeline.Pipeline`
    (``StandardScaler`` itself rejects 3-D ``X``).

    Parameters
    ----------
    with_mean : bool, default=True
        Subtract the per-feature mean.
    with_std : bool, default=True
        Divide by the per-feature standard deviation (features with zero variance are left
        unscaled, as in ``StandardScaler``).
    copy : bool, default=True
        False lets ``transform`` scale a float ndarray in place where possible.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,) or None
    scale_ : ndarray of shape (n_features,) or None
    var_ : ndarray of shape (n_features,) or None
    n_samples_seen_ : int
        Number of (sample, time step) rows the statistics were computed from (NaN entries,
        e.g. padding, are ignored, as in ``StandardScaler``).
    n_features_in_ : int
    n_timesteps_in_ : int
        Sequence length of the ``X`` seen in ``fit`` (other lengths transform too).

    Notes
    -----
    ``set_output(transform="pandas")`` (or ``"polars"``) returns a DataFrame for 2-D
    (tabular) ``X``; a DataFrame cannot hold 3-D data, so sequence output stays an ndarray
    whatever the setting (which is what the recurrent estimators after it need).

    Examples
    --------
    >>> import numpy as np
    >>> from kpflow_sk.preprocessing import TimeSeriesScaler
    >>> X = np.random.RandomState(0).normal(3.0, 2.0, size=(10, 5, 2))
    >>> Xs = TimeSeriesScaler().fit_transform(X)
    >>> Xs.shape, np.allclose(Xs.reshape(-1, 2).mean(0), 0), np.allclose(Xs.std((0, 1)), 1)
    ((10, 5, 2), True, True)
    """

    _parameter_constraints: dict = {
        "with_mean": ["boolean"], "with_std": ["boolean"], "copy": ["boolean"]}

    def __init__(self, *, with_mean=True, with_std=True, copy=True):
        self.with_mean = with_mean
        self.with_std = with_std
        self.copy = copy

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def _scaler(self):
        return StandardScaler(with_mean=self.with_mean, with_std=self.with_std, copy=True)

    def fit(self, X, y=None, sample_weight=None):
        """Compute the per-feature mean and standard deviation over samples and time.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sequence (every time step of a sequence gets its weight).

        Returns
        -------
        self
        """
        self._validate_params()
        X3, _ = _as_3d(X)
        n, T, d = X3.shape
        sw = None
        if sample_weight is not None:
            sw = np.asarray(sample_weight, dtype=np.float64)
            if sw.shape != (n,):
                raise ValueError(f"sample_weight must have shape ({n},) (one weight per "
                                 f"sequence); got {sw.shape}")
            sw = np.repeat(sw, T)
        s = self._scaler().fit(X3.reshape(n * T, d), sample_weight=sw)
        self.mean_, self.var_, self.scale_ = s.mean_, s.var_, s.scale_
        self.n_samples_seen_ = s.n_samples_seen_
        self.n_features_in_ = d
        self.n_timesteps_in_ = T
        if hasattr(X, "columns") and np.ndim(X) == 2:
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def _apply(self, X, inverse):
        check_is_fitted(self)
        X3, ndim = _as_3d(X)
        if X3.shape[-1] != self.n_features_in_:
            raise ValueError(f"X has {X3.shape[-1]} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input")
        out = X3.copy() if (self.copy or X3 is not X) else X3
        dtype = out.dtype
        if inverse:
            if self.scale_ is not None:
                out *= self.scale_.astype(dtype)
            if self.mean_ is not None and self.with_mean:
                out += self.mean_.astype(dtype)
        else:
            if self.mean_ is not None and self.with_mean:
                out -= self.mean_.astype(dtype)
            if self.scale_ is not None:
                out /= self.scale_.astype(dtype)
        return (out[:, 0, :] if ndim == 2 else out), X

    def transform(self, X, copy=None):
        """Standardise ``X`` with the fitted statistics.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or (n_samples, n_features)
        copy : ignored (the ``copy`` parameter decides)

        Returns
        -------
        X_scaled : ndarray of the same shape (or a DataFrame for 2-D ``X``, see Notes)
        """
        out, X = self._apply(X, inverse=False)
        return self._wrap(out, X)

    def inverse_transform(self, X, copy=None):
        """Undo :meth:`transform`: ``X * scale_ + mean_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or (n_samples, n_features)

        Returns
        -------
        X_original : ndarray of the same shape
        """
        out, _ = self._apply(X, inverse=True)
        return out

    # ------------------------------------------------------------------ set_output
    # Hand-written instead of scikit-learn's automatic wrapping, which would try to put 3-D
    # output in a DataFrame and fail; 2-D output is wrapped as scikit-learn would.
    def set_output(self, *, transform=None):
        """Set the container of :meth:`transform`'s 2-D output.

        Parameters
        ----------
        transform : {"default", "pandas", "polars"} or None
            As in scikit-learn; 3-D output stays an ndarray (a DataFrame cannot hold it).

        Returns
        -------
        self
        """
        if transform is None:
            return self
        if transform not in _OUTPUTS:
            raise ValueError(f"transform must be one of {list(_OUTPUTS)} or None; got "
                             f"{transform!r}")
        self._sklearn_output_config = {"transform": transform}
        return self

    def _wrap(self, out, X):
        config = getattr(self, "_sklearn_output_config", {}).get(
            "transform", get_config()["transform_output"])
        if out.ndim != 2 or config == "default":
            return out
        columns = self.get_feature_names_out()
        if config == "pandas":
            import pandas as pd

            return pd.DataFrame(out, columns=columns, index=getattr(X, "index", None))
        import polars as pl

        return pl.DataFrame(out, schema=list(columns), orient="row")
