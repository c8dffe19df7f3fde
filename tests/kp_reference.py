"""Independent dense references built only from ``cell.step`` and torch.autograd.

Nothing here uses ``kpflow_sk.operators``: P comes from the Jacobian of the unrolled network
with respect to an additive forcing, Theta from dZ/dtheta of the whole unrolled network.
"""

import torch
from torch.autograd.functional import jacobian


def flat_params(params):
    names = list(params)
    return names, torch.cat([params[n].reshape(-1) for n in names])


def unflat(names, params, theta):
    out, i = {}, 0
    for n in names:
        m = params[n].numel()
        out[n] = theta[i:i + m].reshape(params[n].shape)
        i += m
    return out


def unroll(cell, params, X, aux=None, forcing=None):
    """z_t = F(z_{t-1}, x_t) + forcing_t; returns Z (B, T, H)."""
    B, T, _ = X.shape
    z = X.new_zeros(B, cell.hidden_size)
    Z = []
    for t in range(T):
        a = None if aux is None else aux[:, t]
        z = cell.step(params, z, X[:, t], a)
        if forcing is not None:
            z = z + forcing[:, t]
        Z.append(z)
    return torch.stack(Z, 1)


def dense_P(cell, params, X, aux):
    B, T, _ = X.shape
    H = cell.hidden_size
    eps = X.new_zeros(B, T, H)
    return jacobian(lambda e: unroll(cell, params, X, aux, e), eps).reshape(B * T * H, -1)


def dense_JZ(cell, params, X, aux):
    names, theta = flat_params(params)
    return jacobian(lambda th: unroll(cell, unflat(names, params, th), X, aux), theta).reshape(
        -1, theta.numel())


def dense_J(cell, params, Z_prev, X, aux):
    """Per-step parameter Jacobian with states held fixed: (B*T*H, n_params)."""
    names, theta = flat_params(params)
    B, T, H = Z_prev.shape
    a = None if aux is None else aux.reshape(B * T, *aux.shape[2:])

    def f(th):
        return cell.step(unflat(names, params, th), Z_prev.reshape(B * T, H),
                         X.reshape(B * T, -1), a)

    return jacobian(f, theta).reshape(B * T * H, -1)
