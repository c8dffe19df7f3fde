"""Elman RNN cell ``z_t = tanh(W_hh z + b_hh + W_ih x + b_ih)`` (nn.RNN's layout)."""

from __future__ import annotations

from kpflow_sk.cells._base import AffineCell
from kpflow_sk.cells._nonlinearity import get_nonlinearity
from kpflow_sk.cells._parameter_linearization import AffineMap

__all__ = ["RNNCell"]


class RNNCell(AffineCell):
    """Elman cell; parameters map 1:1 to ``torch.nn.RNN`` (``weight_ih_l0`` -> ``weight_ih``).

    Parameters
    ----------
    input_size, hidden_size : int
    nonlinearity : {"tanh", "relu"}, default="tanh"
        ``nn.RNN`` supports these two; the fused kernel is used for training with either.
    """

    name = "rnn"

    def __init__(self, input_size, hidden_size, nonlinearity="tanh"):
        super().__init__(input_size, hidden_size)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"nonlinearity for cell 'rnn' must be 'tanh' or 'relu' (nn.RNN's), "
                f"got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        self._phi, self._dphi = get_nonlinearity(nonlinearity)

    def parameter_shapes(self):
        H, D = self.hidden_size, self.input_size
        return {"weight_ih": (H, D), "weight_hh": (H, H), "bias_ih": (H,), "bias_hh": (H,)}

    def _preactivation(self, p, z_prev, x_t):
        return x_t @ p["weight_ih"].T + p["bias_ih"] + z_prev @ p["weight_hh"].T + p["bias_hh"]

    def step(self, params, z_prev, x_t, aux=None):
        return self._phi(self._preactivation(params, z_prev, x_t))

    def affine_structure(self, params, z_prev, x):
        # F = phi(a), a = W_hh z + b_hh + W_ih x + b_ih: dF/da = phi'(a) for both maps
        d = self._dphi(self._preactivation(params, z_prev, x)).unsqueeze(2)
        return [AffineMap("weight_hh", "bias_hh", z_prev, d),
                AffineMap("weight_ih", "bias_ih", x, d)], 0.0
