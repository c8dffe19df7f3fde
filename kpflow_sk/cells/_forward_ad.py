"""One process-wide lock around torch's forward-mode autodiff.

``torch.func.jvp`` enters a *forward AD level* that torch keeps in global, not per-thread,
state: two threads inside ``jvp`` at once can exit each other's level, which fails
intermittently with ``RuntimeError: Trying to access a forward AD level with an invalid
index``. Every forward-mode section in this package (the matrix-free state and parameter
Jacobians of :mod:`kpflow_sk.cells._linearization`) therefore runs under
:data:`forward_ad_lock`, so that two estimators analysed in two threads at once are correct.
Only forward-mode sections are serialised; reverse mode (``vjp``, training) is thread-safe in
torch and runs concurrently.

A user cell that overrides ``linearize`` with its own ``torch.func.jvp`` /
``torch.autograd.forward_ad`` code should take the same lock::

    from kpflow_sk.cells import forward_ad_lock
    with forward_ad_lock:
        out = torch.func.jvp(f, (z,), (v,))
"""

from __future__ import annotations

import threading

import torch

__all__ = ["forward_ad_lock", "jvp"]

#: re-entrant, so a forward-mode section may call another one in the same thread
forward_ad_lock = threading.RLock()


def jvp(func, primals, tangents):
    """``torch.func.jvp`` under :data:`forward_ad_lock` (same arguments, same result)."""
    with forward_ad_lock:
        return torch.func.jvp(func, primals, tangents)
