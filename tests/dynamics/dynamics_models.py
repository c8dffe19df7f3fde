"""Small float64 models shared by the dynamics tests (built-in cells and two user cells)."""

import math

import torch

from kpflow_sk.cells import Cell, get_cell

D, H = 2, 4


class LinearCell(Cell):
    """A user cell ``F(z, x) = W z + U x + b`` (linear: one fixed point, known spectrum)."""

    def parameter_shapes(self):
        return {"weight_hh": (self.hidden_size, self.hidden_size),
                "weight_ih": (self.hidden_size, self.input_size), "bias": (self.hidden_size,)}

    def step(self, params, z_prev, x_t, aux=None):
        return z_prev @ params["weight_hh"].T + x_t @ params["weight_ih"].T + params["bias"]


class SineGainCell(Cell):
    """A nonlinear user cell: z' = (1 - s) * z + s * sin(W z + U x), a learned gain s."""

    def parameter_shapes(self):
        return {"weight_hh": (self.hidden_size, self.hidden_size),
                "weight_ih": (self.hidden_size, self.input_size), "gain": (self.hidden_size,)}

    def step(self, params, z_prev, x_t, aux=None):
        s = torch.sigmoid(params["gain"])
        a = z_prev @ params["weight_hh"].T + x_t @ params["weight_ih"].T
        return (1 - s) * z_prev + s * torch.sin(a)


CELL_CASES = {
    "rnn": lambda: get_cell("rnn", D, H),
    "leaky_rnn": lambda: get_cell("leaky_rnn", D, H, alpha=0.3, nonlinearity="softplus"),
    "gru": lambda: get_cell("gru", D, H),
    "node_rk4": lambda: get_cell("node", D, H, solver="rk4", dt=0.5, step_size=0.25),
    "node_dopri5": lambda: get_cell("node", D, H, solver="dopri5", dt=0.5, rtol=1e-6,
                                    atol=1e-8),
    "user": lambda: SineGainCell(D, H),
}


def model(case, seed=0, init_scale=1.2):
    g = torch.Generator().manual_seed(seed)
    cell = CELL_CASES[case]()
    params = cell.init_params(g, dtype=torch.float64, init_scale=init_scale)
    params = {n: v + 0.1 * torch.randn(v.shape, generator=g, dtype=torch.float64)
              if v.ndim == 1 else v for n, v in params.items()}
    return cell, params


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
