"""Transformers for sequence arrays ``(n_samples, n_timesteps, n_features)``, usable in a
:class:`~sklearn.pipeline.Pipeline` before the recurrent estimators.

>>> from kpflow_sk.preprocessing import TimeSeriesScaler
"""

from kpflow_sk.preprocessing._scaler import TimeSeriesScaler

__all__ = ["TimeSeriesScaler"]
