"""Probe batches ``(k, B, T, H)``: the output buffer of an operator, the started probes."""

from __future__ import annotations

import torch

__all__ = ["empty_probes_like", "started_range"]


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


def started_range(v, lo, hi):
    """Grow the probe range ``[lo, hi)`` to cover every probe nonzero in the step slice
    ``v`` (B, H, k); only probes outside the range are read (an empty range reads all)."""
    k = v.shape[-1]
    if hi <= lo:
        parts = [(0, v)]
    else:
        parts = [(0, v[..., :lo]), (hi, v[..., hi:])]
    for start, part in parts:
        if part.shape[-1] == 0:
            continue
        # amax propagates NaN, so a NaN probe counts as started
        nz = torch.nonzero(part.abs().amax(dim=(0, 1)) != 0)
        if nz.numel():
            lo, hi = min(lo, start + int(nz[0])), max(hi, start + int(nz[-1]) + 1)
    return min(lo, k), hi
