"""Device and thread handling of the estimators (the only copy the package uses).

- :func:`resolve_device`: the ``device`` parameter -> a ``torch.device`` (checked);
- :func:`state_to_cpu` / :func:`restored_device`: what pickling and the model files do with
  devices (weights saved on the CPU; a CUDA model restored on a CPU-only machine lands on
  the CPU with a warning, as skorch does);
- :func:`device_memory`: the memory a training run may use on a device;
- :func:`torch_threads`: torch's intra-op thread count for a block.

>>> import torch
>>> from kpflow_sk.estimators import torch_threads
>>> before = torch.get_num_threads()
>>> with torch_threads(1):
...     torch.get_num_threads()
1
>>> torch.get_num_threads() == before
True
>>> resolve_device("cpu")
device(type='cpu')
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager

import torch
from sklearn.utils._param_validation import InvalidParameterError

__all__ = ["torch_threads", "resolve_device", "state_to_cpu", "restored_device",
           "device_memory", "cuda_device_available"]


@contextmanager
def torch_threads(n_threads):
    """Run with ``torch.set_num_threads(n_threads)`` and restore the old value after.

    Parameters
    ----------
    n_threads : int or None
        Intra-op threads inside the block; ``None`` leaves torch's setting alone.
    """
    if n_threads is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def cuda_device_available(device):
    """Whether the CUDA device ``device`` (a ``torch.device`` of type cuda) exists here."""
    if not torch.cuda.is_available():
        return False
    return device.index is None or device.index < torch.cuda.device_count()


def resolve_device(device, owner="the estimator"):
    """The training device named by an estimator's ``device`` parameter.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device
        "auto" is CUDA when available, else the CPU.
    owner : str
        The estimator's class name, for the messages.

    Returns
    -------
    torch.device

    Raises
    ------
    InvalidParameterError
        An unknown device name.
    ValueError
        CUDA was asked for but is missing (or has fewer devices than the index).
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda"):
        raise InvalidParameterError(
            f"The 'device' parameter of {owner} must be 'auto', 'cpu', 'cuda' or "
            f"'cuda:N'. Got {device!r} instead.")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={str(device)!r} was requested but CUDA is not available on this "
                "machine; use device='cpu' or device='auto'.")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={str(device)!r} was requested but only {torch.cuda.device_count()} "
                "CUDA device(s) are available.")
    return dev


def state_to_cpu(obj):
    """Copy every tensor in a (nested) state dict to the CPU (what pickling stores)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: state_to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(state_to_cpu(v) for v in obj)
    return obj


def restored_device(fitted_device, owner="the estimator", stacklevel=3):
    """Where a restored (unpickled, loaded) estimator's network goes: the device it was
    fitted on, or the CPU with a ``UserWarning`` when that CUDA device is not available."""
    device = torch.device(fitted_device)
    if device.type == "cuda" and not cuda_device_available(device):
        warnings.warn(
            f"{owner} was fitted on {device} which is not available here; "
            "its weights were loaded on the CPU.", UserWarning, stacklevel=stacklevel)
        return torch.device("cpu")
    return device


def device_memory(device):
    """Total memory of ``device`` in bytes (the smaller of RAM and the cgroup limit)."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as f:
                limit = f.read().strip()
            if limit.isdigit():
                total = min(total, int(limit))
        except OSError:
            pass
    return int(total)
