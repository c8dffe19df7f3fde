"""scikit-learn estimators that train recurrent networks and expose their KPFlow analysis.

>>> from kpflow_sk.estimators import RecurrentRegressor, RecurrentClassifier
"""

from kpflow_sk.estimators._base import BaseRecurrentEstimator
from kpflow_sk.estimators._callbacks import Callback, StopTraining
from kpflow_sk.estimators._classifier import RecurrentClassifier
from kpflow_sk.estimators._device import torch_threads
from kpflow_sk.estimators._module import (
    FusedRecurrentNetwork,
    RecurrentNetwork,
    UnrolledRecurrentNetwork,
)
from kpflow_sk.estimators._regressor import RecurrentRegressor
from kpflow_sk.estimators._training import DivergenceWarning, PlateauWarning

__all__ = ["BaseRecurrentEstimator", "RecurrentRegressor", "RecurrentClassifier",
           "RecurrentNetwork", "FusedRecurrentNetwork", "UnrolledRecurrentNetwork",
           "Callback", "StopTraining", "DivergenceWarning", "PlateauWarning", "torch_threads"]
