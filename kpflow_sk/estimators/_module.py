"""The trainable ``torch.nn.Module`` behind an estimator: a recurrent cell plus a linear readout.

``forward(X) -> (y_hat, Z)`` with ``Z = (z_1, ..., z_T)`` the hidden trajectory and
``y_hat_t = W_out z_t + b_out`` (docs/conventions.md section 2). Two implementations, one contract:

- :class:`FusedRecurrentNetwork` trains with PyTorch's fused ``nn.GRU`` / ``nn.RNN`` kernel
  (cuDNN on a GPU) for the cells that have one (``gru``, ``rnn``).
- :class:`UnrolledRecurrentNetwork` unrolls any functional cell in a Python loop (a
  ``node`` cell there integrates each interval with its solver: built-in RK composition or
  ``torchdiffeq.odeint``; with the continuous adjoint, ``torchdiffeq.odeint_adjoint``).

Both expose :meth:`RecurrentNetwork.cell_params`: the cell parameters ``theta`` as the dict the
functional cell (and so the KPFlow operators) takes, sharing storage with the trained weights.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from kpflow_sk.cells import GRUCell, RNNCell

__all__ = ["RecurrentNetwork", "FusedRecurrentNetwork", "UnrolledRecurrentNetwork",
           "FUSED_KERNELS", "build_network", "ADJOINT_MODES", "adjoint_mode"]

#: string values of the estimators' ``adjoint`` (besides False / True)
ADJOINT_MODES = ("discrete", "continuous")


def adjoint_mode(adjoint):
    """The estimator's ``adjoint`` as None (store every stage), "discrete" or "continuous".

    ``True`` is ``"discrete"``: recompute each step's stages in the backward pass, the exact
    gradient of the map computed. ``"continuous"``: torchdiffeq's ``odeint_adjoint``, whose
    gradient approximates that one to the solver's tolerance.
    """
    if isinstance(adjoint, str):
        return adjoint
    return "discrete" if adjoint else None


class RecurrentNetwork(nn.Module):
    """A recurrent cell ``z_t = F(z_{t-1}, x_t; theta)``, ``z_0 = 0``, and a linear readout.

    Parameters
    ----------
    cell : Cell
        The functional cell (used for analysis; training may use a fused kernel).
    n_outputs : int
        Width of the readout.
    """

    def __init__(self, cell, n_outputs):
        super().__init__()
        self.cell = cell
        self.n_outputs = int(n_outputs)

    def cell_params(self):
        """``theta`` as ``{name: tensor}`` in the cell's layout (shares storage with the module).

        Returns
        -------
        dict of str -> torch.nn.Parameter
        """
        raise NotImplementedError

    def hidden(self, X):
        """Hidden trajectory ``Z`` of shape (B, T, H) for inputs ``X`` of shape (B, T, D)."""
        raise NotImplementedError

    def forward(self, X):
        """Run the network.

        Parameters
        ----------
        X : Tensor of shape (B, T, D)

        Returns
        -------
        y_hat : Tensor of shape (B, T, n_outputs)
            The readout at every step.
        Z : Tensor of shape (B, T, H)
        """
        Z = self.hidden(X)
        return self.readout(Z), Z

    def load_cell_params(self, params):
        """Copy ``theta`` (a dict in the cell's layout) into the module, in place."""
        with torch.no_grad():
            for name, p in self.cell_params().items():
                p.copy_(params[name])

    def _init_readout(self, generator, dtype):
        # nn.Linear's default distribution U(-1/sqrt(H), 1/sqrt(H)), drawn from our generator
        H, O = self.cell.hidden_size, self.n_outputs
        k = 1.0 / math.sqrt(H)
        with torch.no_grad():
            w = (torch.rand((O, H), generator=generator, dtype=dtype) * 2 - 1) * k
            b = (torch.rand((O,), generator=generator, dtype=dtype) * 2 - 1) * k
            self.readout.weight.copy_(w)
            self.readout.bias.copy_(b)


class FusedRecurrentNetwork(RecurrentNetwork):
    """``nn.GRU`` / ``nn.RNN`` (one layer, ``batch_first``) plus ``nn.Linear`` readout.

    ``cell_params()`` maps ``weight_ih_l0 -> weight_ih`` etc., so the functional cell run with
    these parameters computes the same trajectories as the fused kernel.
    """

    def __init__(self, cell, n_outputs, dtype=torch.float32, device=None):
        super().__init__(cell, n_outputs)
        D, H = cell.input_size, cell.hidden_size
        # built on the meta device then allocated: no draw from torch's global RNG (the
        # initialisation is ours, seeded)
        kw = dict(dtype=dtype, device="meta")
        if isinstance(cell, GRUCell):
            rnn = nn.GRU(D, H, batch_first=True, **kw)
        else:
            rnn = nn.RNN(D, H, nonlinearity=cell.nonlinearity, batch_first=True, **kw)
        self.rnn = rnn.to_empty(device=device or "cpu")
        self.readout = nn.Linear(H, n_outputs, **kw).to_empty(device=device or "cpu")

    def cell_params(self):
        r = self.rnn
        return {"weight_ih": r.weight_ih_l0, "weight_hh": r.weight_hh_l0,
                "bias_ih": r.bias_ih_l0, "bias_hh": r.bias_hh_l0}

    def hidden(self, X):
        Z, _ = self.rnn(X)
        return Z

    def _apply(self, fn, *args, **kwargs):
        # keep cuDNN's flat weight buffer valid after .to(device) / dtype changes
        out = super()._apply(fn, *args, **kwargs)
        if hasattr(self, "rnn") and self.rnn.weight_ih_l0.is_cuda:
            self.rnn.flatten_parameters()
        return out


class UnrolledRecurrentNetwork(RecurrentNetwork):
    """Any functional cell unrolled step by step (``cell.prepare`` then ``cell.step``).

    Parameters
    ----------
    cell, n_outputs
        As :class:`RecurrentNetwork`.
    checkpoint_steps : bool, default=False
        Recompute each step's internals (e.g. the ODE solver's stages) in the backward pass
        instead of storing them: the same gradient with memory O(T * B * H). This is what the
        estimator's ``adjoint=True`` / ``"discrete"`` selects.
    continuous_adjoint : bool, default=False
        Train through ``cell.step_continuous_adjoint`` (torchdiffeq's ``odeint_adjoint``; a
        ``node`` cell on the torchdiffeq backend): the estimator's ``adjoint="continuous"``.
        Forward values are those of ``cell.step``; only the gradient differs.
    """

    def __init__(self, cell, n_outputs, dtype=torch.float32, device=None, checkpoint_steps=False,
                 continuous_adjoint=False):
        super().__init__(cell, n_outputs)
        if continuous_adjoint and not hasattr(cell, "step_continuous_adjoint"):
            raise ValueError(f"adjoint='continuous' needs a node cell, got {cell!r}")
        if not continuous_adjoint and not getattr(cell, "differentiable", True):
            raise ValueError(
                f"ode solver {getattr(cell, 'solver', '?')!r} is not differentiable by "
                "autograd: train it with adjoint='continuous'")
        self.theta = nn.ParameterDict({
            name: nn.Parameter(torch.empty(shape, dtype=dtype, device=device))
            for name, shape in cell.parameter_shapes().items()})
        self.readout = nn.Linear(cell.hidden_size, n_outputs, dtype=dtype,
                                 device="meta").to_empty(device=device or "cpu")
        self.checkpoint_steps = bool(checkpoint_steps)
        self.continuous_adjoint = bool(continuous_adjoint)

    def cell_params(self):
        return dict(self.theta.items())

    def hidden(self, X):
        params = self.cell_params()
        cell = self.cell
        B, T, _ = X.shape
        z = X.new_zeros(B, cell.hidden_size)
        Z = []
        use_ckpt = self.checkpoint_steps and torch.is_grad_enabled()
        step = cell.step
        if getattr(self, "continuous_adjoint", False) and torch.is_grad_enabled():
            step = cell.step_continuous_adjoint
        for t in range(T):
            x_t = X[:, t]
            aux = cell.prepare(params, z, x_t)
            if use_ckpt:
                z = checkpoint(step, params, z, x_t, aux, use_reentrant=False)
            else:
                z = step(params, z, x_t, aux)
            Z.append(z)
        return torch.stack(Z, dim=1)


#: cell types that have a fused PyTorch kernel with the same weights
FUSED_KERNELS = (GRUCell, RNNCell)


def build_network(cell, n_outputs, *, generator, init_scale=1.0, dtype=torch.float32,
                  device=None, fused=True, checkpoint_steps=False, continuous_adjoint=False):
    """Build and initialise the network for ``cell`` (fused kernel when one exists).

    Parameters are drawn on the CPU from ``generator`` (so the same seed gives the same
    weights on every device), then moved to ``device``.

    Returns
    -------
    RecurrentNetwork
    """
    if continuous_adjoint and not hasattr(cell, "step_continuous_adjoint"):
        raise ValueError(f"adjoint='continuous' (torchdiffeq's odeint_adjoint) applies to the "
                         f"node cell only, got {cell!r}")
    if fused and type(cell) in FUSED_KERNELS:
        net = FusedRecurrentNetwork(cell, n_outputs, dtype=dtype)
    else:
        net = UnrolledRecurrentNetwork(cell, n_outputs, dtype=dtype,
                                       checkpoint_steps=checkpoint_steps,
                                       continuous_adjoint=continuous_adjoint)
    theta = cell.init_params(generator=generator, dtype=dtype, init_scale=init_scale)
    net.load_cell_params(theta)
    net._init_readout(generator, dtype)
    return net.to(device) if device is not None else net
