"""GRU cell with PyTorch's equations and parameter layout (gates r, z, n)."""

from __future__ import annotations

import math

import torch

from kpflow_sk.cells._base import AffineCell
from kpflow_sk.cells._parameter_linearization import AffineMap

__all__ = ["GRUCell"]


class GRUCell(AffineCell):
    """``nn.GRU``'s cell; ``weight_ih``, ``weight_hh`` (3H, .), ``bias_ih``, ``bias_hh`` (3H,).

    Equations (PyTorch)::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h' = (1 - z) * n + z * h
    """

    name = "gru"

    def parameter_shapes(self):
        H, D = self.hidden_size, self.input_size
        return {"weight_ih": (3 * H, D), "weight_hh": (3 * H, H),
                "bias_ih": (3 * H,), "bias_hh": (3 * H,)}

    def init_params(self, generator=None, dtype=torch.float32, device=None, init_scale=1.0):
        """PyTorch's GRU initialisation U(-1/sqrt(H), 1/sqrt(H)); ``weight_hh`` times g."""
        k = 1.0 / math.sqrt(self.hidden_size)
        params = {}
        for name, shape in self.parameter_shapes().items():
            t = (torch.rand(shape, generator=generator, dtype=dtype) * 2 - 1) * k
            if name == "weight_hh":
                t = t * init_scale
            params[name] = t.to(device) if device is not None else t
        return params

    def _gates(self, p, h, x):
        gi = x @ p["weight_ih"].T + p["bias_ih"]
        gh = h @ p["weight_hh"].T + p["bias_hh"]
        i_r, i_z, i_n = gi.chunk(3, -1)
        h_r, h_z, h_n = gh.chunk(3, -1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        return r, z, n, h_n

    def step(self, params, z_prev, x_t, aux=None):
        r, z, n, _ = self._gates(params, z_prev, x_t)
        return (1.0 - z) * n + z * z_prev

    def affine_structure(self, params, z_prev, x):
        # With a_h = W_hh h + b_hh and a_i = W_ih x + b_ih (gate blocks r, z, n):
        # dh'/da_r = (1-z)(1-n^2) h_n r(1-r) (both sides), dh'/da_z = (h-n) z(1-z) (both),
        # dh'/da_h,n = (1-z)(1-n^2) r, dh'/da_i,n = (1-z)(1-n^2); direct dh'/dh = z.
        r, z, n, h_n = self._gates(params, z_prev, x)
        dn = (1.0 - z) * (1.0 - n * n)
        d_r = dn * h_n * r * (1.0 - r)
        d_z = (z_prev - n) * z * (1.0 - z)
        coef_h = torch.stack([d_r, d_z, dn * r], dim=2)
        coef_i = torch.stack([d_r, d_z, dn], dim=2)
        return [AffineMap("weight_hh", "bias_hh", z_prev, coef_h),
                AffineMap("weight_ih", "bias_ih", x, coef_i)], z
