"""scikit-learn estimators that train recurrent networks and expose their KPFlow analysis.

Besides the estimators: their parameter table (:data:`PARAMETERS`; the command line checks
``--param`` names against it), the optimizer registry (:data:`OPTIMIZERS`), device and
thread handling (:func:`torch_threads`, :func:`resolve_device`) and the model-file format
that ``est.save``, :func:`load`, ``kpflow-sk fit`` and the zoo share (:func:`save_estimator`,
:func:`load_estimator`, :func:`read_bytes`, :func:`write_tensors`, ...).

>>> from kpflow_sk.estimators import RecurrentRegressor, RecurrentClassifier
>>> sorted(OPTIMIZERS)
['adam', 'sgd']
>>> estimator_parameters()["learning_rate"].default
0.01
"""

from kpflow_sk.estimators._base import BaseRecurrentEstimator
from kpflow_sk.estimators._callbacks import Callback, StopTraining
from kpflow_sk.estimators._classifier import RecurrentClassifier
from kpflow_sk.estimators._device import resolve_device, state_to_cpu, torch_threads
from kpflow_sk.estimators._module import (
    FusedRecurrentNetwork,
    RecurrentNetwork,
    UnrolledRecurrentNetwork,
)
from kpflow_sk.estimators._optimizers import OPTIMIZERS, OptimizerSpec
from kpflow_sk.estimators._params import (
    PARAMETERS,
    EstimatorParameter,
    check_params,
    estimator_parameters,
)
from kpflow_sk.estimators._persistence import (
    ESTIMATORS,
    decode_state,
    encode_state,
    estimator_class,
    estimator_state,
    load,
    load_estimator,
    read_bytes,
    restore_estimator,
    save_estimator,
    write_tensors,
)
from kpflow_sk.estimators._persistence import FORMAT as MODEL_FORMAT
from kpflow_sk.estimators._regressor import RecurrentRegressor
from kpflow_sk.estimators._stopping import DivergenceWarning, PlateauWarning

__all__ = ["BaseRecurrentEstimator", "RecurrentRegressor", "RecurrentClassifier",
           "RecurrentNetwork", "FusedRecurrentNetwork", "UnrolledRecurrentNetwork",
           "Callback", "StopTraining", "DivergenceWarning", "PlateauWarning",
           "torch_threads", "resolve_device", "state_to_cpu",
           "PARAMETERS", "EstimatorParameter", "estimator_parameters", "check_params",
           "OPTIMIZERS", "OptimizerSpec",
           "ESTIMATORS", "MODEL_FORMAT", "estimator_class", "encode_state", "decode_state",
           "estimator_state", "save_estimator", "load_estimator", "restore_estimator",
           "read_bytes", "write_tensors", "load"]
