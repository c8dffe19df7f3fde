"""State Jacobians ``A_t = dF/dz (z_{t-1}, x_t)`` as operators over a whole batch.

Three interchangeable forms, one contract (:class:`StateLinearization`):

- :class:`AutodiffLinearization` — matrix-free through ``torch.func`` jvp / vjp; works for
  any cell (memory O(B*T*H*k)).
- :class:`FactoredLinearization` — analytic, matrix-free: ``A_t = diag(c_t) + sum_j
  diag(d_{t,j}) W_j`` with the ``W_j`` row blocks of one weight matrix, which is the exact
  form of the rnn, leaky_rnn and gru Jacobians. One GEMM per application, memory O(B*T*H).
  Hand-written because it is measurably faster than autodiff (benchmarks/bench_operators.py).
- :class:`~kpflow_sk.cells.MaterializedLinearization` (``_materialized.py``) — the dense
  ``(B, T, H, H)`` tensor.

Convention: probes lead. ``V`` is ``(k, B, T, H)`` for all steps. Per-step methods work in the
form's own *step layout* (``to_steps`` / ``from_steps`` convert a whole ``(k, B, T, H)`` tensor
to a time-major contiguous one, ``(T, k, B, H)`` or ``(T, B, H, k)``), so that the sequential
recurrence of P touches contiguous memory and runs one GEMM per step.
"""

from __future__ import annotations

import torch
from torch.func import jacrev, vjp, vmap

from kpflow_sk.cells._forward_ad import forward_ad_lock, jvp
from kpflow_sk.cells._probes import empty_probes_like
from kpflow_sk.linalg import column_gram

# Probes from which the factored propagate gathers each step in place of a time-major copy of
# the whole V (GRU H = 256, same-process CPU time: 32 probes 4.3x vs 5.6x fwd+bwd; at 1 and 8
# probes the copy-based loop was as fast or faster).
_FACTORED_GATHER_MIN_PROBES = 16

__all__ = [
    "StateLinearization",
    "AutodiffLinearization",
    "FactoredLinearization",
]


class StateLinearization:
    """``A_t`` at every (b, t) of a batch: apply, apply the adjoint, or densify.

    Attributes
    ----------
    shape : tuple (B, T, H)
    """

    shape: tuple[int, int, int]
    #: per-step layout: "kbh" -> steps are (k, B, H); "bhk" -> (B, H, k)
    step_layout = "kbh"

    def to_steps(self, V):
        """(k, B, T, H) -> time-major contiguous (T, *step_shape)."""
        if self.step_layout == "kbh":
            return V.permute(2, 0, 1, 3).contiguous()
        return V.permute(2, 1, 3, 0).contiguous()

    def from_steps(self, S):
        """Inverse of :meth:`to_steps`."""
        if self.step_layout == "kbh":
            return S.permute(1, 2, 0, 3)
        return S.permute(3, 1, 0, 2)

    def jvp(self, V):
        """``A_t V_t`` for all t. V: (k, B, T, H) -> (k, B, T, H)."""
        raise NotImplementedError

    def vjp(self, U):
        """``A_t^T U_t`` for all t. U: (k, B, T, H) -> (k, B, T, H)."""
        raise NotImplementedError

    def jvp_step(self, t, v):
        """``A_t v`` at step index t, v in the step layout."""
        raise NotImplementedError

    def vjp_step(self, t, u):
        """``A_t^T u`` at step index t, u in the step layout."""
        raise NotImplementedError

    def dense(self):
        """The dense Jacobians, shape (B, T, H, H)."""
        raise NotImplementedError

    def propagate(self, V, adjoint=False, overwrite=False, gemm_dtype=None):
        """``P V`` (``r_t = v_t + A_t r_{t-1}``) or, with ``adjoint``, ``P* V``
        (``r_t = v_t + A_{t+1}^T r_{t+1}``). V: (k, B, T, H) -> (k, B, T, H).

        ``overwrite=True`` lets the result take V's memory (V is consumed; the forms that
        work in V's layout do so, saving one probe block of memory); otherwise the result is
        always new memory.

        ``gemm_dtype``: a lower dtype for the steps' GEMM operands, used by the dense form
        (:class:`~kpflow_sk.cells.MaterializedLinearization`) and by the factored form's
        batched loop; this generic per-step loop (the autodiff form) runs in V's dtype and
        ignores it.

        One :meth:`jvp_step` / :meth:`vjp_step` per step in the step layout (DESIGN.md 2).
        """
        S = self.to_steps(V)                     # time-major, contiguous per step
        out = torch.empty_like(S)
        T = S.shape[0]
        if adjoint:
            r = out[T - 1] = S[T - 1]
            for t in range(T - 2, -1, -1):
                r = out[t] = S[t] + self.vjp_step(t + 1, r)
        else:
            r = out[0] = S[0]
            for t in range(1, T):
                r = out[t] = S[t] + self.jvp_step(t, r)
        return self.from_steps(out)

    def propagate_gram(self, V, adjoint=False, gemm_dtype=None):
        """``sum_{b,t} r_bt r_bt^T`` of the images ``R = P V`` (or ``P* V``), shape (k, k):
        the Gram of the probes' images, ``(PV)^T (PV)`` with V flattened to (n, k).
        ``gemm_dtype``: as in :meth:`propagate`.

        Here: :meth:`propagate`, then one Gram; the dense form adds each step's block and
        drops it (two steps of memory instead of a probe block)."""
        R = self.propagate(V, adjoint, gemm_dtype=gemm_dtype).movedim(0, -1)
        return column_gram(R.reshape(-1, R.shape[-1]))

    @property
    def nbytes_dense(self) -> int:
        """Memory the dense form would take."""
        B, T, H = self.shape
        return B * T * H * H * self.itemsize


class AutodiffLinearization(StateLinearization):
    """Matrix-free ``A_t`` through ``torch.func`` (any cell that runs under jvp/vjp/vmap)."""

    def __init__(self, cell, params, z_prev, x, aux=None):
        self.cell, self.params = cell, params
        self.z_prev, self.x, self.aux = z_prev, x, aux
        self.shape = tuple(z_prev.shape)
        self.itemsize = z_prev.element_size()

    def _map(self, sl=None):
        z, x, a = self.z_prev, self.x, self.aux
        if sl is not None:
            z, x = z[:, sl], x[:, sl]
            a = None if a is None else a[:, sl]
        return (lambda zz: self.cell.step(self.params, zz, x, a)), z

    # forward mode under the process-wide lock (torch's forward AD levels are global)
    def jvp(self, V):
        f, z = self._map()
        with forward_ad_lock:
            return vmap(lambda v: jvp(f, (z,), (v,))[1])(V)

    def jvp_step(self, t, v):
        f, z = self._map(t)
        with forward_ad_lock:
            return vmap(lambda vv: jvp(f, (z,), (vv,))[1])(v)

    def vjp(self, U):
        f, z = self._map()
        _, fn = vjp(f, z)
        return vmap(lambda u: fn(u)[0])(U)

    def vjp_step(self, t, u):
        f, z = self._map(t)
        _, fn = vjp(f, z)
        return vmap(lambda uu: fn(uu)[0])(u)

    def dense(self):
        B, T, H = self.shape
        cell, params = self.cell, self.params
        z = self.z_prev.reshape(B * T, H)
        x = self.x.reshape(B * T, -1)
        if self.aux is None:
            J = vmap(jacrev(lambda zz, xx: cell.step(params, zz, xx, None)))(z, x)
        else:
            a = self.aux.reshape(B * T, *self.aux.shape[2:])
            J = vmap(jacrev(lambda zz, xx, aa: cell.step(params, zz, xx, aa)))(z, x, a)
        return J.reshape(B, T, H, H)


class FactoredLinearization(StateLinearization):
    """``A_t = diag(c_t) + sum_j diag(d_{t,j}) W_j`` (analytic; rnn, leaky_rnn, gru).

    Parameters
    ----------
    W : Tensor of shape (m*H, H)
        The ``m`` row blocks ``W_j`` stacked (e.g. a GRU's ``weight_hh``, gates r, z, n).
    D : Tensor of shape (B, T, m, H)
        Row scalings ``d_{t,j}``.
    c : Tensor of shape (B, T, H) or float
        Diagonal term.
    """

    def __init__(self, W, D, c):
        self.W, self.D = W, D
        self.m = D.shape[2]
        B, T, _, H = D.shape
        self.shape = (B, T, H)
        self.c = c if torch.is_tensor(c) else torch.full((B, T, H), float(c), dtype=D.dtype,
                                                        device=D.device)
        self.itemsize = D.element_size()
        self._Dt = self._ct = None      # time-major copies, made on the first per-step call

    def _time_major(self):
        if self._Dt is None:
            self._Dt = self.D.transpose(0, 1).contiguous()
            self._ct = self.c.transpose(0, 1).contiguous()
        return self._Dt, self._ct

    def _apply(self, V, D, c):
        # one GEMM over all leading dims: (..., H) @ (H, m*H)
        G = torch.matmul(V, self.W.T)
        G = G.unflatten(-1, (self.m, -1))
        return (G * D).sum(-2) + c * V

    def _apply_t(self, U, D, c):
        S = (U.unsqueeze(-2) * D).flatten(-2)
        return torch.matmul(S, self.W) + c * U

    def jvp(self, V):
        return self._apply(V, self.D, self.c)

    def vjp(self, U):
        return self._apply_t(U, self.D, self.c)

    def jvp_step(self, t, v):
        Dt, ct = self._time_major()
        return self._apply(v, Dt[t], ct[t])

    def vjp_step(self, t, u):
        Dt, ct = self._time_major()
        return self._apply_t(u, Dt[t], ct[t])

    def propagate(self, V, adjoint=False, overwrite=False, gemm_dtype=None):
        """``P V`` or ``P* V`` (see :meth:`StateLinearization.propagate`), in V's layout.

        Each step is one GEMM of the shared ``W`` with all ``B k`` columns of the step (the
        ``(B, H, k)`` slice gathered to ``(H, B k)``, a copy the size of one step), so W is
        read once per step whatever B and k are; the diagonal terms are added in place.
        Below ``_FACTORED_GATHER_MIN_PROBES`` probes the generic time-major loop is faster
        (and exact: ``gemm_dtype`` applies from that many probes up).

        ``gemm_dtype`` other than V's: that GEMM's operands are rounded to it (``W`` once,
        each step's gathered columns) and its product converted back before the row
        scalings and sums, which stay in V's dtype.
        """
        if V.shape[0] < _FACTORED_GATHER_MIN_PROBES:
            return super().propagate(V, adjoint)
        Dt, ct = self._time_major()
        B, T, H = self.shape
        m, k = self.m, V.shape[0]
        gemm = self._step_gemm(V, gemm_dtype, adjoint)
        # (step t reads only v_t and the output of the step before: in place is safe)
        out = V if overwrite else empty_probes_like(V)
        Vs, Os = V.permute(2, 1, 3, 0), out.permute(2, 1, 3, 0)       # (T, B, H, k) views
        steps = range(T - 1, -1, -1) if adjoint else range(T)
        prev = None
        for t in steps:
            o, v = Os[t], Vs[t]
            if prev is None:
                o.copy_(v)
                prev = t
                continue
            r = Os[prev]                                               # (B, H, k)
            s = t + 1 if adjoint else t                                # A_s of this step
            Dh = Dt[s].permute(1, 2, 0).unsqueeze(-1)                  # (m, H, B, 1)
            if adjoint:
                # A_s^T r = c r + sum_j W_j^T (d_j r)
                S = V.new_empty(m, H, B, k)
                torch.mul(r.permute(1, 0, 2).unsqueeze(0), Dh, out=S)
                y = gemm(S.view(m * H, B * k)).view(H, B, k)
                torch.add(v, y.permute(1, 0, 2), out=o)
            else:
                # A_s r = c r + sum_j d_j (W_j r)
                G = gemm(r.permute(1, 0, 2)).view(m, H, B, k)
                o.copy_(v)
                for j in range(m):
                    o.addcmul_(G[j].permute(1, 0, 2), Dh[j].permute(1, 0, 2))
            o.addcmul_(r, ct[s].unsqueeze(-1))
            prev = t
        return out

    def _step_gemm(self, V, gemm_dtype, adjoint):
        """``gemm(X)``: ``W^T X`` (adjoint) or ``W X`` of one step's ``B k`` columns, X of
        shape (m H, B k) or a (H, B, k) view; in V's dtype, or with ``gemm_dtype`` operands
        (one buffer for X, one in V's dtype for the product, reused by every step)."""
        W = self.W.T if adjoint else self.W
        if gemm_dtype is None or gemm_dtype == V.dtype:
            return lambda X: torch.mm(W, X.reshape(X.shape[0], -1))
        Wl = W.to(gemm_dtype)
        cols = self.shape[0] * V.shape[0]
        Xl = V.new_empty(W.shape[1], cols, dtype=gemm_dtype)
        Y = V.new_empty(W.shape[0], cols)

        def gemm(X):
            Xl.view(X.shape).copy_(X)
            return Y.copy_(torch.mm(Wl, Xl))
        return gemm

    def dense(self):
        return self.dense_time_major().transpose(0, 1)

    def dense_time_major(self):
        """``A`` held time-major, shape (T, B, H, H), built in place (one pass per block)."""
        B, T, H = self.shape
        Wb = self.W.reshape(self.m, H, H)
        Dt, ct = self._time_major()
        At = torch.empty(T, B, H, H, dtype=self.D.dtype, device=self.D.device)
        torch.mul(Dt[:, :, 0].unsqueeze(-1), Wb[0], out=At)
        for j in range(1, self.m):
            At.addcmul_(Dt[:, :, j].unsqueeze(-1), Wb[j])
        At.diagonal(dim1=-2, dim2=-1).add_(ct)
        return At

