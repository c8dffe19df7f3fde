"""The zoo's file format: re-exported from :mod:`kpflow_sk.estimators` (its public names).

The zoo, ``kpflow-sk fit`` and ``est.save`` share one safetensors + JSON format; its code lives
with the estimators (public as ``est.save(path)`` / ``kpflow_sk.load(path)``).
"""

from kpflow_sk.estimators import (  # noqa: F401
    ESTIMATORS,
    decode_state,
    encode_state,
    estimator_class,
    estimator_state,
    load_estimator,
    read_bytes,
    restore_estimator,
    save_estimator,
    write_tensors,
)
from kpflow_sk.estimators import MODEL_FORMAT as FORMAT  # noqa: F401

__all__ = ["ESTIMATORS", "FORMAT", "estimator_class", "encode_state", "decode_state",
           "save_estimator", "load_estimator", "restore_estimator", "read_bytes",
           "write_tensors", "estimator_state"]
