"""Unroll a cell over a batch of input sequences: Z = (z_1, ..., z_T)."""

from __future__ import annotations

import torch

__all__ = ["rollout"]


def rollout(cell, params, X, h0=None):
    """Run ``z_t = F(z_{t-1}, x_t)`` for t = 1..T with ``z_0 = h0``.

    Parameters
    ----------
    cell : Cell
    params : dict of str -> Tensor
    X : Tensor of shape (B, T, D)
    h0 : Tensor of shape (B, H) or None
        Initial state (zeros when None).

    Returns
    -------
    Z : Tensor of shape (B, T, H)
        ``Z[:, t-1] = z_t``.
    aux : Tensor of shape (B, T, S) or None
        Per-step solver data from ``cell.prepare`` (adaptive grids, zero-padded to a common
        length), or None when the cell has none.
    """
    B, T, _ = X.shape
    z = X.new_zeros(B, cell.hidden_size) if h0 is None else h0
    Z, auxes = [], []
    for t in range(T):
        a = cell.prepare(params, z, X[:, t])
        z = cell.step(params, z, X[:, t], a)
        Z.append(z)
        auxes.append(a)
    Z = torch.stack(Z, dim=1)
    if auxes[0] is None:
        return Z, None
    S = max(a.shape[-1] for a in auxes)
    aux = torch.stack([torch.nn.functional.pad(a, (0, S - a.shape[-1])) for a in auxes], dim=1)
    return Z, aux
