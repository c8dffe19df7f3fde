"""Leaky rate RNN ``z_t = (1 - alpha) z + alpha * phi(W z + U x + b)`` (Euler, alpha = dt/tau)."""

from __future__ import annotations

from kpflow_sk.cells._base import AffineCell
from kpflow_sk.cells._nonlinearity import get_nonlinearity
from kpflow_sk.cells._parameter_linearization import AffineMap

__all__ = ["LeakyRNNCell"]


class LeakyRNNCell(AffineCell):
    """Continuous-time rate RNN, one Euler step per observation.

    Parameters
    ----------
    input_size, hidden_size : int
    alpha : float in (0, 1], default=0.2
        ``dt / tau``.
    nonlinearity : str, default="tanh"
        Any name in ``NONLINEARITIES`` (tanh, relu, softplus, sigmoid, identity).
    """

    name = "leaky_rnn"

    def __init__(self, input_size, hidden_size, alpha=0.2, nonlinearity="tanh"):
        super().__init__(input_size, hidden_size)
        if not (0.0 < float(alpha) <= 1.0):
            raise ValueError(f"alpha must lie in (0, 1], got {alpha!r}")
        self.alpha = float(alpha)
        self.nonlinearity = nonlinearity
        self._phi, self._dphi = get_nonlinearity(nonlinearity)

    def parameter_shapes(self):
        H, D = self.hidden_size, self.input_size
        return {"weight_ih": (H, D), "weight_hh": (H, H), "bias": (H,)}

    def _preactivation(self, p, z_prev, x_t):
        return z_prev @ p["weight_hh"].T + x_t @ p["weight_ih"].T + p["bias"]

    def step(self, params, z_prev, x_t, aux=None):
        a = self._preactivation(params, z_prev, x_t)
        return (1.0 - self.alpha) * z_prev + self.alpha * self._phi(a)

    def affine_structure(self, params, z_prev, x):
        # F = (1 - alpha) z + alpha phi(W z + U x + b):
        # dF/da = alpha phi'(a), direct dF/dz = 1 - alpha
        d = (self.alpha * self._dphi(self._preactivation(params, z_prev, x))).unsqueeze(2)
        return [AffineMap("weight_hh", "bias", z_prev, d),
                AffineMap("weight_ih", None, x, d)], 1.0 - self.alpha
