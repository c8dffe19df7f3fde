"""Small float64 models of the dynamics tests: the shared cases of ``tests/kp_models.py``
and a linear user cell (one fixed point, known spectrum)."""

import math

import torch
from kp_models import cell_cases, float64_params

from kpflow_sk.cells import Cell

D, H = 2, 4


class LinearCell(Cell):
    """A user cell ``F(z, x) = W z + U x + b`` (linear: one fixed point, known spectrum)."""

    def parameter_shapes(self):
        return {"weight_hh": (self.hidden_size, self.hidden_size),
                "weight_ih": (self.hidden_size, self.input_size), "bias": (self.hidden_size,)}

    def step(self, params, z_prev, x_t, aux=None):
        return z_prev @ params["weight_hh"].T + x_t @ params["weight_ih"].T + params["bias"]


CELL_CASES = cell_cases(D, H, dopri5_rtol=1e-6, dopri5_atol=1e-8)


def model(case, seed=0, init_scale=1.2):
    g = torch.Generator().manual_seed(seed)
    cell = CELL_CASES[case]()
    return cell, float64_params(cell, g, init_scale=init_scale)


def normal_matrix(H, moduli, seed=0, rotation=False):
    """A real normal matrix with eigenvalue moduli ``moduli`` (2x2 rotation-scaling blocks for
    pairs when ``rotation``), in a random orthonormal basis."""
    g = torch.Generator().manual_seed(seed)
    Qm, _ = torch.linalg.qr(torch.randn(H, H, generator=g, dtype=torch.float64))
    Bd = torch.zeros(H, H, dtype=torch.float64)
    i = 0
    while i < H:
        r = moduli[i]
        if rotation and i + 1 < H and moduli[i + 1] == r:
            th = 0.7 + 0.3 * i
            c, s = math.cos(th), math.sin(th)
            Bd[i:i + 2, i:i + 2] = r * torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
            i += 2
        else:
            Bd[i, i] = r if i % 2 == 0 else -r
            i += 1
    return Qm @ Bd @ Qm.T
