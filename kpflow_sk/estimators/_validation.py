"""Input checking for the recurrent estimators (one normaliser, docs/conventions.md section 4).

Conventions: 3-D ``X`` is ``(n_samples, n_timesteps, n_features)``; 2-D ``X`` is tabular
``(n_samples, n_features)``, read as sequences of length 1. Every bad input raises
``ValueError`` with a message naming the problem (``TypeError`` only where NumPy cannot
convert an object to a number, as scikit-learn does).
"""

from __future__ import annotations

import math
import re
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, InvalidParameterError
from sklearn.utils.validation import _check_feature_names, _check_sample_weight, check_array

from kpflow_sk.cells import get_cell
from kpflow_sk.estimators._device import device_memory
from kpflow_sk.estimators._module import FUSED_KERNELS
from kpflow_sk.estimators._optimizers import OPTIMIZERS

__all__ = ["check_X", "check_n_features", "check_sample_weight", "check_mask",
           "check_task_ids", "check_n_samples", "check_fits_dtype", "check_finite_output",
           "NonFiniteOutputError", "reject_bool_integers", "check_network_size",
           "check_cell_output", "describe_cell", "check_network"]


def _named_check_array(a, name, **kw):
    """``check_array`` whose every error message names the argument."""
    try:
        return check_array(a, input_name=name, **kw)
    except (ValueError, TypeError) as exc:
        if re.search(rf"\b{re.escape(name)}\b", str(exc)):
            raise
        raise type(exc)(f"{name}: {exc}") from exc


def check_fits_dtype(a, dtype, name):
    """``ValueError`` when finite values of ``a`` overflow ``dtype`` (e.g. 1e39 in float32).

    ``check_array`` checks finiteness in the input's own precision; the cast to the
    estimator's dtype can still turn huge values into inf, so check before casting.
    """
    a = np.asarray(a)
    if a.dtype.kind != "f" or np.dtype(dtype).kind != "f" or a.size == 0:
        return
    big = float(np.finfo(dtype).max)
    if np.dtype(dtype).itemsize >= a.dtype.itemsize:
        return
    amax = float(np.max(np.abs(a)))
    if amax > big:
        raise ValueError(
            f"{name} has values too large for the estimator's dtype "
            f"{np.dtype(dtype).name} (largest |{name}| = {amax:.3g}, more than "
            f"{big:.3g}): they would become inf after the cast. Rescale {name} or use "
            "dtype='float64'.")


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
    X = _named_check_array(X, name, dtype="numeric", allow_nd=True, ensure_2d=True,
                           ensure_min_samples=1, ensure_min_features=1)
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
    check_fits_dtype(X, dtype, name)
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
    try:
        sw = _check_sample_weight(sample_weight, np.empty((n, 0)), dtype=dtype,
                                  ensure_non_negative=True)
    except (ValueError, TypeError) as exc:
        if "sample_weight" in str(exc):
            raise
        raise type(exc)(f"sample_weight: {exc}") from exc
    if not np.all(np.isfinite(sw)):
        raise ValueError("sample_weight contains NaN or infinity.")
    if not np.any(sw > 0):
        raise ValueError("sample_weight: Sample weights must contain at least one non-zero "
                         "number.")
    return np.require(sw, dtype=dtype, requirements=["C", "W"])


def check_mask(mask, n, T, dtype):
    """Per-step loss weights of shape (n, T): numeric, finite, non-negative."""
    if mask is None:
        return None
    mask = _named_check_array(mask, "mask", dtype="numeric", ensure_2d=False, allow_nd=True,
                              ensure_min_samples=0)
    if mask.shape != (n, T):
        raise ValueError(
            f"mask must have shape (n_samples, n_timesteps) = ({n}, {T}) to weight the loss "
            f"at every step; got shape {mask.shape}")
    if np.any(mask < 0):
        raise ValueError("mask must be non-negative (it weights the per-step loss)")
    check_fits_dtype(mask, dtype, "mask")
    return np.require(mask, dtype=dtype, requirements=["C", "W"])


def check_task_ids(task_ids, n):
    """Task labels of shape (n,), all strings or all real numbers; None stays None.

    Mixed kinds (``[1, "a"]``), None and NaN entries raise ``ValueError`` naming
    ``task_ids`` (labels must be sortable and comparable with each other).
    """
    if task_ids is None:
        return None
    try:
        arr = np.asarray(task_ids)
        if arr.dtype.kind in "OUS" or not isinstance(task_ids, np.ndarray):
            obj = np.asarray(task_ids, dtype=object)
        else:
            obj = None
    except (ValueError, TypeError) as exc:
        raise ValueError(f"task_ids must be a 1-D array of labels: {exc}") from exc
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(
            f"task_ids must have shape (n_samples,) = ({n},), one task label per trial; got "
            f"shape {arr.shape}")
    if obj is not None and obj.ndim == 1:
        kinds = set()
        for v in obj:
            if v is None:
                raise ValueError("task_ids contains None; every trial needs a task label")
            if isinstance(v, (str, np.str_, bytes)):
                kinds.add("str")
            elif isinstance(v, (Real, np.number, np.bool_)):
                if isinstance(v, (float, np.floating)) and not math.isfinite(float(v)):
                    raise ValueError("task_ids contains NaN or infinity.")
                kinds.add("number")
            else:
                raise ValueError(
                    f"task_ids must hold strings or numbers; got an entry of type "
                    f"{type(v).__name__} ({v!r})")
        if len(kinds) > 1:
            raise ValueError(
                "task_ids mixes strings and numbers; use one kind of label for all trials "
                "(e.g. all str)")
        arr = np.asarray(obj.tolist())
    if arr.dtype.kind not in "biufUS":
        raise ValueError(f"task_ids must hold strings or numbers; got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError("task_ids contains NaN or infinity.")
    return arr


class NonFiniteOutputError(ValueError):
    """The network's output (or hidden states) is not finite for some samples."""


def check_finite_output(out, X3, what="output"):
    """``NonFiniteOutputError`` naming X when the network's ``out`` has NaN or inf.

    Parameters
    ----------
    out : ndarray of shape (n, ...)
    X3 : ndarray of shape (n, T, D)
        The inputs ``out`` was computed from.
    """
    if np.isfinite(out).all():
        return
    bad = ~np.isfinite(out.reshape(out.shape[0], -1)).all(1)
    xmax = float(np.max(np.abs(X3))) if X3.size else 0.0
    raise NonFiniteOutputError(
        f"The network's {what} is not finite (NaN or inf) for {int(bad.sum())} of the "
        f"{out.shape[0]} samples of X (largest |X| = {xmax:.3g}); rescale X (or use "
        "dtype='float64') so that the hidden states do not overflow.")


def reject_bool_integers(params, constraints, owner):
    """``InvalidParameterError`` for True/False given to an integer parameter.

    scikit-learn's ``Interval(Integral, ...)`` accepts bools (``True`` is an ``Integral``),
    which would silently read ``hidden_size=True`` as 1.

    Parameters
    ----------
    params : dict
        Parameter values by name.
    constraints : dict
        Parameter constraints by name (``_parameter_constraints``).
    owner : str
        The estimator's class name, for the message.
    """
    for name, value in params.items():
        if not isinstance(value, (bool, np.bool_)):
            continue
        cons = constraints.get(name, ())
        ints = [c for c in cons if isinstance(c, Interval) and c.type is Integral]
        if ints and "boolean" not in cons:
            raise InvalidParameterError(
                f"The {name!r} parameter of {owner} must be an int "
                f"({ints[0]}), not a bool. Got {value!r} instead.")


def describe_cell(cell):
    """How messages name a cell: ``'gru'`` for a built-in, ``MyCell (a user cell)``."""
    name = getattr(type(cell), "name", None)
    return repr(name) if name else f"{type(cell).__name__} (a user cell)"


def _gib(nbytes):
    return f"{nbytes / 2**30:.3g} GiB"


def check_network_size(cell, n_outputs, batch_size, n_timesteps, dtype, device, *,
                       optimizer="adam", memory=None):
    """``ValueError`` naming ``hidden_size`` when training cannot fit in memory.

    A lower bound, so it never refuses a network that would fit: the parameters, their
    gradients and the optimizer state (two moments for Adam), plus one hidden trajectory of
    a mini-batch. Computed from the cell's parameter shapes, before anything is allocated.

    Parameters
    ----------
    cell : Cell
    n_outputs, batch_size, n_timesteps : int
    dtype : torch.dtype
    device : torch.device
    optimizer : str
        A key of :data:`~kpflow_sk.estimators.OPTIMIZERS` (its state counts).
    memory : int or None
        Bytes available (default: the device's total memory).
    """
    H = cell.hidden_size
    n_params = sum(math.prod(s) for s in cell.parameter_shapes().values())
    n_params += H * n_outputs + n_outputs
    itemsize = torch.empty((), dtype=dtype).element_size()
    copies = 2 + OPTIMIZERS[optimizer].n_state   # parameters, gradients, optimizer state
    need = (n_params * copies + batch_size * n_timesteps * H) * itemsize
    memory = device_memory(device) if memory is None else int(memory)
    if need > memory:
        raise ValueError(
            f"hidden_size={H} needs at least {_gib(need)} to train ({n_params:.3g} "
            f"parameters with their gradients and optimizer state, plus the hidden states of "
            f"a batch), more than the {_gib(memory)} of memory on {torch.device(device)}; "
            "use a smaller hidden_size.")


def check_cell_output(cell, params, X3):
    """Run one ``cell.step`` on the first trial; ``ValueError`` naming the cell when it fails
    or returns the wrong shape (instead of a raw torch error later in training).

    Parameters
    ----------
    cell : Cell
    params : dict of str -> Tensor
    X3 : Tensor of shape (n, T, D)
    """
    H = cell.hidden_size
    name = describe_cell(cell)
    x = X3[:1, 0]
    z = x.new_zeros(1, H)
    shapes = {k: tuple(v.shape) for k, v in params.items()}
    try:
        with torch.no_grad():
            aux = cell.prepare(params, z, x)
            out = cell.step(params, z, x, aux)
    except (RuntimeError, ValueError, TypeError, IndexError, KeyError) as exc:
        raise ValueError(
            f"The cell {name} failed on z_prev of shape (1, {H}) and x_t of shape "
            f"(1, {cell.input_size}) with parameters of shapes {shapes}: "
            f"{type(exc).__name__}: {exc}") from exc
    if not torch.is_tensor(out) or tuple(out.shape) != (1, H):
        got = tuple(out.shape) if torch.is_tensor(out) else type(out).__name__
        raise ValueError(
            f"The cell {name} must return z_t of shape (batch, hidden_size) = (1, {H}) from "
            f"z_prev of shape (1, {H}) and x_t of shape (1, {cell.input_size}); got {got}")
    if out.dtype != z.dtype:
        raise ValueError(
            f"The cell {name} must return z_t in the estimator's dtype {z.dtype}; got "
            f"{out.dtype}")


def check_network(estimator, X3, device, module=None):
    """The estimator's network checks: before building it (``module=None``) the memory
    ``hidden_size`` needs (:func:`check_network_size`); after, one step of an unrolled cell
    (:func:`check_cell_output`)."""
    if module is None:
        c = estimator._fitted_spec["cell"]
        cell = get_cell(c["cell"], c["input_size"], c["hidden_size"], **c["options"])
        n = X3.shape[0]
        bs = min(200, n) if estimator.batch_size == "auto" else min(int(estimator.batch_size), n)
        check_network_size(cell, estimator.n_outputs_, bs, X3.shape[1],
                           estimator._torch_dtype(), device, optimizer=estimator.optimizer)
    elif type(module.cell) not in FUSED_KERNELS:
        check_cell_output(module.cell, module.cell_params(),
                          estimator._to_tensor(np.ascontiguousarray(X3[:1])))
