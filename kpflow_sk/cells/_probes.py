"""The output buffer of an operator on a probe batch ``(k, B, T, H)``."""

from __future__ import annotations

import torch

__all__ = ["empty_probes_like"]


def empty_probes_like(V, probes_last=None):
    """Uninitialized dense ``(k, B, T, H)`` for the result of an operator on probes V.

    V's own layout when V is dense (``torch.empty_like``). For a broadcast view (a zero
    stride, as the ``mean`` reduction's embedding), where ``empty_like`` would always give
    probes-first memory: probes-last when ``probes_last`` (default: V's probe axis has unit
    stride), else probes-first.
    """
    if all(st != 0 or n == 1 for st, n in zip(V.stride(), V.shape)):
        return torch.empty_like(V)
    if probes_last is None:
        probes_last = V.stride(0) == 1
    if probes_last:
        return V.new_empty(*V.shape[1:], V.shape[0]).movedim(-1, 0)
    return V.new_empty(V.shape)
