"""Small float64 models shared by the operator, dynamics and analysis tests.

The built-in cells and one nonlinear user cell at test sizes, their float64 parameters
(randomly perturbed so every parameter matters) and the relative error the dense
comparisons use. Imported by name (``from kp_models import ...``): pytest puts ``tests/`` on
``sys.path`` for ``tests/conftest.py``, as for ``kp_reference``.
"""

import torch

from kpflow_sk.cells import Cell, get_cell


class SineGainCell(Cell):
    """A nonlinear user cell: z' = (1 - s) * z + s * sin(W z + U x), a learned gain s per unit."""

    def parameter_shapes(self):
        return {"weight_hh": (self.hidden_size, self.hidden_size),
                "weight_ih": (self.hidden_size, self.input_size), "gain": (self.hidden_size,)}

    def step(self, params, z_prev, x_t, aux=None):
        s = torch.sigmoid(params["gain"])
        a = z_prev @ params["weight_hh"].T + x_t @ params["weight_ih"].T
        return (1 - s) * z_prev + s * torch.sin(a)


def cell_cases(D, H, *, dopri5_rtol=1e-6, dopri5_atol=1e-8):
    """Factories of the cells every KPFlow identity is checked on: ``{name: () -> Cell}``.

    The four built-in cells (``node`` with a fixed-step and an adaptive solver) and the user
    cell :class:`SineGainCell`, with input size ``D`` and hidden size ``H``.
    """
    return {
        "rnn": lambda: get_cell("rnn", D, H),
        "leaky_rnn": lambda: get_cell("leaky_rnn", D, H, alpha=0.3, nonlinearity="softplus"),
        "gru": lambda: get_cell("gru", D, H),
        "node_rk4": lambda: get_cell("node", D, H, solver="rk4", dt=0.5, step_size=0.25),
        "node_dopri5": lambda: get_cell("node", D, H, solver="dopri5", dt=0.5,
                                        rtol=dopri5_rtol, atol=dopri5_atol),
        "user": lambda: SineGainCell(D, H),
    }


def float64_params(cell, generator, init_scale=1.2, biases_only=True):
    """``cell.init_params`` in float64 plus ``0.1 * N(0, 1)`` noise drawn from ``generator``.

    The noise goes on the 1-d parameters (biases, gains: zero at initialization) when
    ``biases_only``, on every parameter otherwise, so that every parameter matters.
    """
    params = cell.init_params(generator, dtype=torch.float64, init_scale=init_scale)
    return {n: v + 0.1 * torch.randn(v.shape, generator=generator, dtype=torch.float64)
            if v.ndim == 1 or not biases_only else v for n, v in params.items()}


def random_inputs(cell, B, T, D, seed=0):
    """Float64 parameters (non-zero biases) and inputs X (B, T, D) from one seeded generator."""
    g = torch.Generator().manual_seed(seed)
    params = float64_params(cell, g)
    X = torch.randn(B, T, D, generator=g, dtype=torch.float64)
    return params, X


def rel_error(a, b):
    """``max |a - b| / max |b|`` (the relative error of the dense comparisons)."""
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))
