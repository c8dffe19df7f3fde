"""Fitted estimators <-> safetensors files, without pickle (``est.save`` / ``kpflow_sk.load``).

One format for every model file of the package: :meth:`save` / :func:`load` here, the files
``kpflow-sk fit`` writes and the model zoo's ``weights.safetensors`` all use it.
An estimator's fitted state (what its ``__getstate__`` returns: parameters, fitted attributes,
the network's state dict, the analysis batch) is split into

- tensors and numeric arrays, stored by name in a ``.safetensors`` file, and
- everything else (numbers, strings, lists, dicts, devices), stored as JSON in the file's
  metadata, with a tagged placeholder where each array was.

Only plain data types are accepted on save (anything else raises ``TypeError``), so loading
never imports or calls anything named by the file: the estimator class comes from the fixed
:data:`ESTIMATORS` list (each class registers itself with :func:`register_estimator` where it
is defined, so this module imports no estimator) and is restored through its own
``__setstate__``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save

__all__ = ["ESTIMATORS", "FORMAT", "register_estimator", "estimator_class", "encode_state",
           "decode_state", "estimator_state", "save_estimator", "load_estimator",
           "restore_estimator", "read_bytes", "write_tensors", "save", "load"]

#: Format tag written in every file's metadata (bumped when the layout changes). The name
#: is historical (the zoo used the format first); every model file carries it.
FORMAT = "kpflow_sk.zoo/1"
# JSON tags of the placeholders; a dict with exactly one of these keys is a placeholder.
_TENSOR, _NDARRAY, _STRARRAY, _DEVICE, _TUPLE, _ITEMS, _FLOAT = (
    "__tensor__", "__ndarray__", "__strarray__", "__device__", "__tuple__", "__items__",
    "__float__")
_TAGS = {_TENSOR, _NDARRAY, _STRARRAY, _DEVICE, _TUPLE, _ITEMS, _FLOAT}
# The one key of a zoo file's safetensors metadata.
_META_KEY = "kpflow_sk"


#: Estimator classes a zoo file may name (nothing else is ever instantiated on load).
ESTIMATORS = ("RecurrentRegressor", "RecurrentClassifier")
_CLASSES = {}       # name -> class, filled by register_estimator


def register_estimator(cls):
    """Class decorator: ``cls`` (whose name must be in :data:`ESTIMATORS`) is what a model
    file naming it restores."""
    if cls.__name__ not in ESTIMATORS:
        raise ValueError(f"{cls.__name__} is not one of the estimators a model file may name "
                         f"({list(ESTIMATORS)})")
    _CLASSES[cls.__name__] = cls
    return cls


def estimator_class(name):
    """The class registered as ``name`` in :data:`ESTIMATORS`."""
    if name not in ESTIMATORS:
        raise ValueError(f"unknown estimator class {name!r}; a zoo file may only name one of "
                         f"{list(ESTIMATORS)}")
    return _CLASSES[name]


# ---------------------------------------------------------------------------------- encoding
def encode_state(obj, tensors, path="state"):
    """Turn ``obj`` into JSON-able data, moving every array into ``tensors`` (by ``path``).

    Parameters
    ----------
    obj : plain data (None, bool, int, float, str, list, tuple, dict, numpy array or scalar,
        torch.Tensor, torch.device); numeric arrays go to ``tensors``, str arrays stay in JSON
    tensors : dict
        Receives ``path -> torch.Tensor`` for every array found.
    path : str
        Name prefix of the tensors of ``obj``.

    Returns
    -------
    JSON-able object
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, np.bool_):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        # JSON has no inf / nan: tag them so the metadata stays strict JSON
        return x if math.isfinite(x) else {_FLOAT: repr(x)}
    if isinstance(obj, torch.Tensor):
        tensors[path] = obj.detach().to("cpu").contiguous().clone()
        return {_TENSOR: path}
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind == "U":  # e.g. a classifier's string class labels
            return {_STRARRAY: obj.tolist()}
        if obj.dtype.kind not in "biuf":
            raise TypeError(f"{path}: arrays of dtype {obj.dtype} cannot be stored without "
                            "pickling (only bool, integer, float and str arrays)")
        tensors[path] = torch.from_numpy(np.ascontiguousarray(obj).copy())
        return {_NDARRAY: path}
    if isinstance(obj, torch.device):
        return {_DEVICE: str(obj)}
    if isinstance(obj, tuple):
        return {_TUPLE: [encode_state(v, tensors, f"{path}.{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [encode_state(v, tensors, f"{path}.{i}") for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and not (len(obj) == 1 and set(obj) <= _TAGS):
            return {k: encode_state(v, tensors, f"{path}.{k}") for k, v in obj.items()}
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int, np.integer)) or isinstance(k, (bool, np.bool_)):
                raise TypeError(f"{path}: dict key {k!r} is not a str or int")
            key = k if isinstance(k, str) else int(k)
            items.append([key, encode_state(v, tensors, f"{path}.{key}")])
        return {_ITEMS: items}
    raise TypeError(f"{path}: an object of type {type(obj).__name__} cannot be stored in the zoo "
                    "format (plain data, arrays and tensors only; nothing is pickled)")


def decode_state(obj, tensors, source="file"):
    """Inverse of :func:`encode_state`: placeholders -> arrays from ``tensors``.

    Raises
    ------
    ValueError
        A placeholder names a tensor the file does not have, or carries an unknown tag.
    """
    if isinstance(obj, list):
        return [decode_state(v, tensors, source) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if len(obj) == 1 and set(obj) <= _TAGS:
        (tag, value), = obj.items()
        if tag in (_TENSOR, _NDARRAY):
            if value not in tensors:
                raise ValueError(f"{source}: the state refers to tensor {value!r}, which the "
                                 "file does not contain")
            t = tensors[value]
            return t.clone() if tag == _TENSOR else t.numpy().copy()
        if tag == _STRARRAY:
            arr = np.array(value, dtype=str)
            if arr.dtype.kind != "U":
                raise ValueError(f"{source}: bad string array")
            return arr
        if tag == _DEVICE:
            return torch.device(str(value))
        if tag == _TUPLE:
            return tuple(decode_state(v, tensors, source) for v in value)
        if tag == _FLOAT:
            if value not in ("inf", "-inf", "nan"):
                raise ValueError(f"{source}: bad float tag {value!r}")
            return float(value)
        return {k: decode_state(v, tensors, source) for k, v in value}
    return {k: decode_state(v, tensors, source) for k, v in obj.items()}


# ---------------------------------------------------------------------------------- files
def write_tensors(path, tensors, metadata):
    """Write ``tensors`` (name -> Tensor) and ``metadata`` (JSON-able dict) to a safetensors file.

    The header's metadata has one key, ``"kpflow_sk"``: a JSON string holding the format tag
    and ``metadata`` (one key keeps the bytes reproducible: safetensors writes its metadata
    map in no fixed order).
    """
    meta = {_META_KEY: json.dumps({"format": FORMAT, "content": metadata}, sort_keys=True,
                                  allow_nan=False)}
    data = safetensors_save({k: v.contiguous() for k, v in tensors.items()}, metadata=meta)
    Path(path).write_bytes(data)  # plain write: the usual file mode (umask), not 0600


def read_bytes(data, source="file"):
    """Parse safetensors bytes into ``(metadata, tensors)``; nothing is unpickled.

    Parameters
    ----------
    data : bytes
        A whole ``.safetensors`` file (already checked against its manifest).
    source : str
        Name used in error messages.

    Returns
    -------
    metadata : dict
        The JSON written by :func:`write_tensors`.
    tensors : dict of str -> Tensor (CPU)

    Raises
    ------
    ValueError
        Not a safetensors file, or not one written by the zoo.
    """
    try:
        n = int.from_bytes(data[:8], "little")
        header = json.loads(data[8:8 + n].decode("utf-8"))
        meta = header.get("__metadata__") or {}
    except (ValueError, UnicodeDecodeError, AttributeError):
        raise ValueError(f"{source}: not a safetensors file (unreadable header)") from None
    try:
        wrapped = json.loads(meta[_META_KEY]) if isinstance(meta, dict) else None
    except (KeyError, TypeError, json.JSONDecodeError):
        wrapped = None
    fmt = wrapped.get("format") if isinstance(wrapped, dict) else None
    if fmt != FORMAT or "content" not in wrapped:
        raise ValueError(f"{source}: not a kpflow_sk zoo file (format {fmt!r}, expected "
                         f"{FORMAT!r})")
    metadata = wrapped["content"]
    try:
        tensors = safetensors_load(bytes(data))
    except Exception as exc:  # safetensors raises its own error types on a corrupt body
        raise ValueError(f"{source}: corrupt safetensors body ({exc})") from None
    return metadata, tensors


def estimator_state(estimator, keep_optimizer=False):
    """The estimator's ``__getstate__`` with the optimizer state dropped (not needed to predict
    or analyse; a restored estimator restarts its optimizer on ``warm_start``) and
    ``callbacks`` set to None (arbitrary objects, which only pickle could store)."""
    state = dict(estimator.__getstate__())
    if not keep_optimizer and "_optimizer_state" in state:
        state["_optimizer_state"] = None
    if state.get("callbacks") is not None:
        # user objects cannot be stored without pickling; the saved model has none
        state["callbacks"] = None
    return state


def save_estimator(path, estimator, extra_tensors=None, extra_meta=None):
    """Write a fitted estimator (and optional extra tensors / metadata) to ``path``.

    Parameters
    ----------
    path : path-like
    estimator : a fitted estimator of a class in :data:`ESTIMATORS`
    extra_tensors : dict of str -> Tensor, optional
        Stored under ``extra.<name>``.
    extra_meta : dict, optional
        JSON-able, stored under ``"extra"`` in the metadata.
    """
    name = type(estimator).__name__
    if name not in ESTIMATORS or estimator_class(name) is not type(estimator):
        raise TypeError(f"only {list(ESTIMATORS)} can be saved in this format, not {name}")
    tensors = {}
    state = encode_state(estimator_state(estimator), tensors, "state")
    for k, v in (extra_tensors or {}).items():
        tensors[f"extra.{k}"] = torch.as_tensor(v).detach().cpu().contiguous().clone()
    write_tensors(path, tensors, {"estimator": name, "state": state,
                                  "extra": extra_meta or {}})


def restore_estimator(class_name, state, source="file", device="cpu"):
    """A fitted estimator of the registered class ``class_name`` from a decoded state."""
    try:
        cls = estimator_class(class_name)
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None
    est = cls.__new__(cls)
    state = dict(state)
    if "device_" in state:
        # zoo weights are CPU tensors; a model is restored on the CPU (move it with .to later)
        state["device_"] = torch.device(device)
    est.__setstate__(state)
    return est


def load_estimator(metadata, tensors, source="file", device="cpu"):
    """Rebuild what :func:`save_estimator` wrote, from :func:`read_bytes`' output.

    Returns
    -------
    estimator : fitted estimator
    extra : dict
        ``{"meta": extra_meta, "tensors": {name: Tensor}}``.
    """
    try:
        class_name, raw = metadata["estimator"], metadata["state"]
    except (KeyError, TypeError):
        raise ValueError(f"{source}: the metadata has no estimator state") from None
    state = decode_state(raw, tensors, source)
    if not isinstance(state, dict):
        raise ValueError(f"{source}: the estimator state is not a mapping")
    est = restore_estimator(class_name, state, source, device)
    extra_t = {k[len("extra."):]: v for k, v in tensors.items() if k.startswith("extra.")}
    return est, {"meta": metadata.get("extra", {}), "tensors": extra_t}


# ---------------------------------------------------------------------------------- public
def save(estimator, path):
    """Write a fitted estimator to ``path`` (safetensors + JSON; see the module docstring).

    Parameters
    ----------
    estimator : fitted RecurrentRegressor or RecurrentClassifier
    path : path-like
        The file to write (parent folders are created); ``.safetensors`` is customary.

    Returns
    -------
    path : pathlib.Path
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_estimator(path, estimator)
    return path


def load(path):
    """Read a model file written by ``est.save``, ``kpflow-sk fit`` or the model zoo.

    Nothing is unpickled: the estimator class comes from :data:`ESTIMATORS` and its state from
    tensors and JSON.

    Parameters
    ----------
    path : path-like
        A ``.safetensors`` model file.

    Returns
    -------
    estimator : fitted estimator, on the CPU
        ``predict`` gives bit for bit what the saved estimator gave on the CPU. The optimizer
        state is not stored: ``warm_start`` continues with a fresh optimizer.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        Not a kpflow_sk model file, or a corrupt one.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> import kpflow_sk
    >>> from kpflow_sk import RecurrentRegressor
    >>> X = np.random.RandomState(0).normal(size=(8, 5, 2))
    >>> est = RecurrentRegressor(hidden_size=4, max_iter=2, random_state=0).fit(X, X)
    >>> path = est.save(os.path.join(tempfile.mkdtemp(), "model.safetensors"))
    >>> bool((kpflow_sk.load(path).predict(X) == est.predict(X)).all())
    True
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {str(path)!r}"
                                + (" (it is a directory)" if path.is_dir() else ""))
    source = str(path)
    meta, tensors = read_bytes(path.read_bytes(), source)
    est, _ = load_estimator(meta, tensors, source)
    return est
