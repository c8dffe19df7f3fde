"""State Jacobians ``A_t = dF/dz (z_{t-1}, x_t)`` as operators over a whole batch.

Three interchangeable forms, one contract (:class:`StateLinearization`):

- :class:`AutodiffLinearization` — matrix-free through ``torch.func`` jvp / vjp; works for
  any cell (memory O(B*T*H*k)).
- :class:`FactoredLinearization` — analytic, matrix-free: ``A_t = diag(c_t) + sum_j
  diag(d_{t,j}) W_j`` with the ``W_j`` row blocks of one weight matrix, which is the exact
  form of the rnn, leaky_rnn and gru Jacobians. One GEMM per application, memory O(B*T*H).
  Hand-written because it is measurably faster than autodiff (benchmarks/bench_operators.py).
- :class:`MaterializedLinearization` — the dense ``(B, T, H, H)`` tensor.

Convention: probes lead. ``V`` is ``(k, B, T, H)`` for all steps. Per-step methods work in the
form's own *step layout* (``to_steps`` / ``from_steps`` convert a whole ``(k, B, T, H)`` tensor
to a time-major contiguous one, ``(T, k, B, H)`` or ``(T, B, H, k)``), so that the sequential
recurrence of P touches contiguous memory and runs one GEMM per step.
"""

from __future__ import annotations

import torch
from torch.func import jacrev, vjp, vmap

from kpflow_sk.cells._forward_ad import forward_ad_lock, jvp

__all__ = [
    "StateLinearization",
    "AutodiffLinearization",
    "FactoredLinearization",
    "MaterializedLinearization",
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


class MaterializedLinearization(StateLinearization):
    """The dense Jacobians, held time-major ``(T, B, H, H)``, applied with batched GEMMs."""

    step_layout = "bhk"

    def __init__(self, A):
        # time-major so that each step's (B, H, H) block is contiguous
        self.At = A.transpose(0, 1).contiguous()
        self.shape = (A.shape[0], A.shape[1], A.shape[2])
        self.itemsize = A.element_size()

    @classmethod
    def from_linearization(cls, lin: StateLinearization):
        if isinstance(lin, cls):
            return lin
        if isinstance(lin, FactoredLinearization):
            # built time-major directly: no (B, T, H, H) temporary and no transposing copy
            return cls(lin.dense_time_major().transpose(0, 1))
        return cls(lin.dense())

    @property
    def A(self):
        """Dense Jacobians, shape (B, T, H, H) (a view)."""
        return self.At.transpose(0, 1)

    def jvp(self, V):
        # (T, B, H, H) @ (T, B, H, k): A is read once whatever k is
        return self.from_steps(torch.matmul(self.At, self.to_steps(V)))

    def vjp(self, U):
        return self.from_steps(torch.matmul(self.At.transpose(-1, -2), self.to_steps(U)))

    def jvp_step(self, t, v):
        return torch.bmm(self.At[t], v)

    def vjp_step(self, t, u):
        return torch.bmm(self.At[t].transpose(1, 2), u)

    def dense(self):
        return self.A


# ---------------------------------------------------------------------- parameter Jacobians
class ParameterLinearization:
    """``dF/dtheta`` at every (b, t): ``jvp`` (tangent dict -> (k, B, T, H)) and ``vjp``."""

    def jvp(self, tangents):
        """tangents: dict name -> (k, *shape). Returns (k, B, T, H)."""
        raise NotImplementedError

    def vjp(self, U):
        """U: (k, B, T, H). Returns dict name -> (k, *shape), summed over (b, t)."""
        raise NotImplementedError


class AutodiffParameterLinearization(ParameterLinearization):
    """``dF/dtheta`` through ``torch.func`` (any cell); one vjp over all (b, t) at once."""

    def __init__(self, cell, params, z_prev, x, aux=None):
        B, T, H = z_prev.shape
        zp, xx = z_prev.reshape(B * T, H), x.reshape(B * T, -1)
        a = None if aux is None else aux.reshape(B * T, *aux.shape[2:])
        self._f = lambda p: cell.step(p, zp, xx, a)
        self.params, self.shape = params, (B, T, H)
        self._vjp_fn = None

    def jvp(self, tangents):
        f, p = self._f, self.params
        with forward_ad_lock:
            out = vmap(lambda tv: jvp(f, (p,), (tv,))[1])(tangents)
        return out.reshape(out.shape[0], *self.shape)

    def vjp(self, U):
        if self._vjp_fn is None:
            _, self._vjp_fn = vjp(self._f, self.params)
        k = U.shape[0]
        return vmap(lambda u: self._vjp_fn(u)[0])(U.reshape(k, -1, self.shape[2]))


class AffineMap:
    """One affine map ``a = W s + b`` feeding a cell's gates, with ``dF/da`` per gate block.

    Parameters
    ----------
    weight, bias : str or None
        Parameter names of W (m*H, S) and b (m*H,).
    source : Tensor of shape (B, T, S)
        What W multiplies (``z_{t-1}`` or ``x_t``).
    coef : Tensor of shape (B, T, m, H)
        ``dF_j / da_{g, j}``: F's unit j depends on gate block g of ``a`` only at unit j.
    """

    def __init__(self, weight, bias, source, coef):
        self.weight, self.bias, self.source, self.coef = weight, bias, source, coef


class AffineParameterLinearization(ParameterLinearization):
    """Analytic ``dF/dtheta`` for cells ``F = Phi(W_1 s_1 + b_1, ..., z)`` with unit-wise Phi.

    rnn, leaky_rnn and gru have this form. ``J v = sum_maps sum_g coef_g * (dW s + db)_g``
    and ``J* u`` is one GEMM per map (``(coef * u)^T s``) — no per-probe autodiff graph.
    Hand-written because it is several times faster than vmapped autodiff
    (benchmarks/bench_operators.py). Rows (b, t) are processed in chunks so the
    ``(k, rows, m*H)`` intermediates stay under ``chunk_bytes``.
    """

    def __init__(self, maps, shape, chunk_bytes=256 * 1024**2):
        self.maps, self.shape, self.chunk_bytes = maps, shape, chunk_bytes
        B, T, H = shape
        self._rows = B * T
        self._flat = [(mp, mp.source.reshape(B * T, -1), mp.coef.reshape(B * T, *mp.coef.shape[2:]))
                      for mp in maps]
        self._kernel_terms = None
        names = [n for mp in maps for n in (mp.weight, mp.bias) if n is not None]
        #: the structured K below needs every parameter in exactly one map
        self.structured_kernel = len(names) == len(set(names))

    def _chunks(self, k):
        m = max(mp.coef.shape[2] for mp in self.maps)
        itemsize = self.maps[0].coef.element_size()
        per_row = max(1, k * m * self.shape[2] * itemsize * 3)
        step = max(1, min(self._rows, self.chunk_bytes // per_row))
        return [slice(s, min(s + step, self._rows)) for s in range(0, self._rows, step)]

    def jvp(self, tangents):
        k = next(iter(tangents.values())).shape[0]
        out = []
        for rows in self._chunks(k):
            acc = 0.0
            for mp, src, coef in self._flat:
                a = torch.matmul(src[rows], tangents[mp.weight].transpose(1, 2))  # (k, r, mH)
                if mp.bias is not None:
                    a = a + tangents[mp.bias].unsqueeze(1)
                a = a.unflatten(-1, (coef.shape[1], -1))
                acc = acc + (a * coef[rows]).sum(2)
            out.append(acc)
        return torch.cat(out, dim=1).reshape(k, *self.shape)

    def vjp(self, U):
        k = U.shape[0]
        U = U.reshape(k, self._rows, self.shape[2])
        grads = {}
        for rows in self._chunks(k):
            for mp, src, coef in self._flat:
                delta = (U[:, rows].unsqueeze(2) * coef[rows]).flatten(2)      # (k, r, mH)
                g = torch.matmul(delta.transpose(1, 2), src[rows])
                grads[mp.weight] = g if mp.weight not in grads else grads[mp.weight] + g
                if mp.bias is not None:
                    b = delta.sum(1)
                    grads[mp.bias] = b if mp.bias not in grads else grads[mp.bias] + b
        return grads

    # ------------------------------------------------------------------ K = J J* (structured)
    # K_j = sum_g diag(c_gj) M_g M_g^T diag(c_gj) per hidden unit j, with M_g the rows
    # [s_n, 1] of the maps whose gate coefficients are c_g. Hand-written (no library computes
    # this factored kernel): K on k probes becomes two GEMMs (M^T X, M Y) over all (b, t) and
    # probes at once instead of one weight-gradient GEMM per probe.
    def kernel_terms(self):
        """``[(M, c)]``, one per gate block: ``K u = sum_terms c * (M M^T (c * u))``.

        ``M`` has shape ``(N, S)`` (the sources of every map whose gate coefficients equal
        ``c``, each followed by a column of ones when the map has a bias), ``c`` ``(N, H)``
        (N = B*T). Gates with equal coefficients in several maps (rnn's two maps; a GRU's r and
        z gates) share one term, so one GEMM pair serves them.
        """
        if self._kernel_terms is None:
            terms = []                       # [c, [columns]]
            for mp, src, coef in self._flat:
                cols = [src] + ([src.new_ones(src.shape[0], 1)] if mp.bias is not None else [])
                for g in range(coef.shape[1]):
                    c = coef[:, g]
                    for t in terms:
                        if t[0] is c or (t[0].shape == c.shape and torch.equal(t[0], c)):
                            t[1].extend(cols)
                            break
                    else:
                        terms.append([c, list(cols)])
            self._kernel_terms = [(torch.cat(cols, dim=1), c.contiguous()) for c, cols in terms]
        return self._kernel_terms

    def kernel_apply(self, U):
        """``K U = J J* U`` without the parameter space. U: (k, B, T, H) -> (k, B, T, H)."""
        k = U.shape[0]
        B, T, H = self.shape
        N = self._rows
        Ut = U.reshape(k, N, H).transpose(0, 1).contiguous()           # (N, k, H)
        out = torch.zeros(N, k, H, dtype=U.dtype, device=U.device)
        # probes per chunk so that the (N, k, H) intermediates stay under chunk_bytes
        step = max(1, min(k, self.chunk_bytes // max(1, 3 * N * H * U.element_size())))
        for s in range(0, k, step):
            us = Ut[:, s:s + step]                                      # (N, ks, H)
            acc = out[:, s:s + step]
            for M, c in self.kernel_terms():
                cg = c.unsqueeze(1)                                     # (N, 1, H)
                X = torch.mul(us, cg).reshape(N, -1)                    # (N, ks*H)
                Z = torch.matmul(M, torch.matmul(M.T, X))
                acc.addcmul_(Z.reshape(acc.shape), cg)
        return out.transpose(0, 1).reshape(k, B, T, H)

    def kernel_axis_mean(self, axis, square=False):
        """Mean compression ``E^T G E / M`` of ``G = K`` (or ``K^2``) onto one axis, exactly.

        ``axis`` 2 (hidden): K is block-diagonal over hidden units, so the compression is
        diagonal and one probe (all ones) gives it. ``axis`` 1 (time), ``square=False``:
        ``C[t, t'] = <F_t, F_t'> / M`` with ``F_t = sum_b M_bt^T c_bt`` (``J* E``), a batched
        GEMM over t. ``axis`` 0 (trial) likewise with F over trials.

        Returns
        -------
        Tensor of shape (n_axis, n_axis)
        """
        B, T, H = self.shape
        n_axis = self.shape[axis]
        Mo = B * T * H // n_axis
        dt = self._flat[0][1].dtype
        dev = self._flat[0][1].device
        if axis == 2:
            ones = torch.ones(1, B, T, H, dtype=dt, device=dev)
            KE = self.kernel_apply(ones)[0].reshape(-1, H)             # column j: K_j 1
            d = KE.square().sum(0) if square else KE.sum(0)
            return torch.diag(d) / Mo
        if square:
            raise NotImplementedError("structured time/trial compression of K^2")
        C = torch.zeros(n_axis, n_axis, dtype=dt, device=dev)
        for M, c in self.kernel_terms():
            Mb = M.reshape(B, T, -1)
            cb = c.reshape(B, T, -1)
            if axis == 1:
                F = torch.matmul(Mb.permute(1, 2, 0), cb.transpose(0, 1))   # (T, S, H)
            else:
                F = torch.matmul(Mb.transpose(1, 2), cb)                    # (B, S, H)
            F = F.reshape(n_axis, -1)
            C = C + F @ F.T
        return C / Mo
