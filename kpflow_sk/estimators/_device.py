"""Device and thread handling of the estimators (the only copy the package uses).

>>> import torch
>>> from kpflow_sk.estimators import torch_threads
>>> before = torch.get_num_threads()
>>> with torch_threads(1):
...     torch.get_num_threads()
1
>>> torch.get_num_threads() == before
True
"""

from __future__ import annotations

from contextlib import contextmanager

import torch

__all__ = ["torch_threads"]


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
