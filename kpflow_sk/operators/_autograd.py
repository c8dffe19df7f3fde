"""Plain-autograd linearizations: J, J*, A_t, A_t^T for cells without a functional twin.

A cell whose ``step`` cannot run under ``torch.func`` (``cell.functional`` is False: a
``node`` cell integrated by torchdiffeq, whose solvers write in place) is linearized here by
recording one forward pass of ``F`` at every (b, t) with ordinary autograd:

- vector-Jacobian products (``A_t^T u``, ``J* u``) are one backward pass each;
- Jacobian-vector products (``A_t v``, ``J v``) use the double-backward trick: ``g(u) =
  (dF)^T u`` is linear in a dummy cotangent ``u``, so ``dF v = d<g(u), v>/du``, one
  backward pass through the graph of ``g`` (built once, with ``create_graph=True``). Forward
  mode AD is avoided: torchdiffeq's custom autograd functions define no forward derivative,
  and torch's forward-AD state is global (not thread-safe).

The graphs are per time step, so the propagator's recurrence (one ``jvp_step`` per step)
backpropagates through one step only. A batch of probes goes through one backward pass
(``is_grads_batched``). The result is the exact derivative of the map the solver computes, including
its adaptive step-size selection.
"""

from __future__ import annotations

import torch

from kpflow_sk.cells import ParameterLinearization, StateLinearization

__all__ = ["AutogradStepGraph", "AutogradLinearization", "AutogradParameterLinearization",
           "autograd_linearizations"]


def _grad(outputs, inputs, grad_outputs, create_graph=False, batched=False):
    """``torch.autograd.grad`` with zeros for inputs the outputs do not depend on.

    ``batched``: every grad output carries a leading probe axis ``k``, pushed through the
    backward pass at once (``is_grads_batched``, i.e. vmap over the backward graph); where
    the backward graph does not vmap, the probes go one by one.
    """
    outputs, grad_outputs = list(outputs), list(grad_outputs)
    live = [i for i, o in enumerate(outputs) if o.requires_grad]
    if not live:
        k = (grad_outputs[0].shape[0],) if batched else ()
        return [x.new_zeros(k + tuple(x.shape)) for x in inputs]
    outs, gos = [outputs[i] for i in live], [grad_outputs[i] for i in live]
    kw = dict(retain_graph=True, create_graph=create_graph, allow_unused=True,
              materialize_grads=True)
    if not batched:
        return list(torch.autograd.grad(outs, inputs, gos, **kw))
    try:
        return list(torch.autograd.grad(outs, inputs, gos, is_grads_batched=True, **kw))
    except RuntimeError:
        per_probe = [torch.autograd.grad(outs, inputs, [g[i] for g in gos], **kw)
                     for i in range(gos[0].shape[0])]
        return [torch.stack(col) for col in zip(*per_probe)]


class AutogradStepGraph:
    """``z_t = F(z_{t-1}, x_t; theta)`` at every (b, t), recorded by autograd, one graph per t.

    Parameters
    ----------
    cell : Cell
    params : dict of str -> Tensor
    z_prev : Tensor of shape (B, T, H)
    x : Tensor of shape (B, T, D)
    aux : Tensor of shape (B, T, ...) or None
    """

    def __init__(self, cell, params, z_prev, x, aux=None):
        B, T, H = z_prev.shape
        self.shape = (B, T, H)
        self.names = tuple(params)
        self.theta = {n: p.detach().requires_grad_(True) for n, p in params.items()}
        self.z = [z_prev[:, t].detach().requires_grad_(True) for t in range(T)]
        with torch.enable_grad():
            self.out = [cell.step(self.theta, self.z[t], x[:, t],
                                  None if aux is None else aux[:, t]) for t in range(T)]
        if not any(o.requires_grad for o in self.out):
            name = getattr(cell, "solver", type(cell).__name__)
            raise ValueError(f"{name!r} is not differentiable by autograd (its solve leaves "
                             "torch), so the KPFlow operators cannot be built for it")
        self._state_vjp = [None] * T        # per step: (dummy u, A_t^T u), for the jvp trick
        self._param_vjp = None              # (dummies u_t, J^T u)

    # -- state (probes lead: k vectors at once)
    def state_vjp(self, t, U):
        """``A_t^T u`` at step t; U (k, B, H)."""
        return _grad([self.out[t]], [self.z[t]], [U], batched=True)[0]

    def state_jvp(self, t, V):
        """``A_t v`` at step t by double backward; V (k, B, H)."""
        if self._state_vjp[t] is None:
            with torch.enable_grad():
                u = torch.zeros_like(self.out[t]).requires_grad_(True)
                g = _grad([self.out[t]], [self.z[t]], [u], create_graph=True)[0]
            self._state_vjp[t] = (u, g)
        u, g = self._state_vjp[t]
        return _grad([g], [u], [V], batched=True)[0]

    def state_vjp_all(self, U):
        """``A_t^T U_t`` for all t in one backward pass; U (k, B, T, H)."""
        return torch.stack(_grad(self.out, self.z, U.unbind(2), batched=True), dim=2)

    # -- parameters
    def param_vjp(self, U):
        """``J* U`` summed over (b, t); U (k, B, T, H) -> dict name -> (k, *shape)."""
        g = _grad(self.out, [self.theta[n] for n in self.names], U.unbind(2), batched=True)
        return dict(zip(self.names, g))

    def param_jvp(self, tangents):
        """``J v`` at every (b, t) by double backward; dict of (k, *shape) -> (k, B, T, H)."""
        if self._param_vjp is None:
            with torch.enable_grad():
                us = [torch.zeros_like(o).requires_grad_(True) for o in self.out]
                g = _grad(self.out, [self.theta[n] for n in self.names], us, create_graph=True)
            self._param_vjp = (us, g)
        us, g = self._param_vjp
        return torch.stack(_grad(g, us, [tangents[n] for n in self.names], batched=True), dim=2)


class AutogradLinearization(StateLinearization):
    """``A_t`` at every (b, t) through plain autograd (step layout ``(k, B, H)``)."""

    def __init__(self, graph: AutogradStepGraph, dtype_like):
        self.graph = graph
        self.shape = graph.shape
        self.itemsize = dtype_like.element_size()

    def jvp_step(self, t, v):
        return self.graph.state_jvp(t, v)

    def vjp_step(self, t, u):
        return self.graph.state_vjp(t, u)

    def jvp(self, V):
        T = self.shape[1]
        return torch.stack([self.graph.state_jvp(t, V[:, :, t]) for t in range(T)], dim=2)

    def vjp(self, U):
        return self.graph.state_vjp_all(U)

    def dense(self):
        # F_b depends on trial b only (P is block-diagonal over trials), so a unit cotangent
        # e_i at every (b, t) gives row i of every A_t at once: H probes in one batch
        B, T, H = self.shape
        ref = self.graph.out[0]
        E = torch.eye(H, dtype=ref.dtype, device=ref.device)[:, None, None, :].expand(H, B, T, H)
        return self.graph.state_vjp_all(E.contiguous()).permute(1, 2, 0, 3)


class AutogradParameterLinearization(ParameterLinearization):
    """``dF/dtheta`` at every (b, t) through plain autograd."""

    def __init__(self, graph: AutogradStepGraph):
        self.graph = graph
        self.shape = graph.shape

    def jvp(self, tangents):
        return self.graph.param_jvp(tangents)

    def vjp(self, U):
        return self.graph.param_vjp(U)


def autograd_linearizations(cell, params, z_prev, x, aux=None):
    """``(state, parameter)`` linearizations of ``cell`` sharing one recorded forward pass.

    Parameters
    ----------
    cell : Cell
    params : dict of str -> Tensor
    z_prev : Tensor of shape (B, T, H)
    x : Tensor of shape (B, T, D)
    aux : Tensor or None

    Returns
    -------
    (AutogradLinearization, AutogradParameterLinearization)
    """
    graph = AutogradStepGraph(cell, params, z_prev, x, aux)
    return AutogradLinearization(graph, z_prev), AutogradParameterLinearization(graph)
