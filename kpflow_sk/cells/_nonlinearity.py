"""Pointwise nonlinearities phi with their derivatives (registry ``NONLINEARITIES``)."""

from __future__ import annotations

import torch

__all__ = ["NONLINEARITIES", "get_nonlinearity"]


def _tanh_d(a):
    return 1.0 - torch.tanh(a) ** 2


def _sigmoid_d(a):
    s = torch.sigmoid(a)
    return s * (1.0 - s)


#: name -> (phi, phi') ; phi' is used by the analytic state Jacobians
NONLINEARITIES = {
    "tanh": (torch.tanh, _tanh_d),
    "relu": (torch.relu, lambda a: (a > 0).to(a.dtype)),
    "softplus": (torch.nn.functional.softplus, torch.sigmoid),
    "sigmoid": (torch.sigmoid, _sigmoid_d),
    "identity": (lambda a: a, torch.ones_like),
}


def get_nonlinearity(name):
    """Return ``(phi, dphi)`` for a registered name; ValueError lists the valid names."""
    if name not in NONLINEARITIES:
        raise ValueError(
            f"unknown nonlinearity {name!r}; valid choices: {sorted(NONLINEARITIES)}")
    return NONLINEARITIES[name]
