"""Parameter Jacobians ``dF/dtheta (z_{t-1}, x_t)`` as operators over a whole batch.

Two forms, one contract (:class:`ParameterLinearization`): :class:`AutodiffParameterLinearization`
through ``torch.func`` (any cell), and :class:`AffineParameterLinearization`, analytic for the
affine-gated cells (rnn, leaky_rnn, gru), which also applies ``K = J J*`` in factored form
(:class:`~kpflow_sk.cells._structured_kernel.StructuredKernel`).
"""

from __future__ import annotations

import torch
from torch.func import vjp, vmap

from kpflow_sk.cells._forward_ad import forward_ad_lock, jvp
from kpflow_sk.cells._structured_kernel import StructuredKernel

__all__ = ["ParameterLinearization", "AutodiffParameterLinearization", "AffineMap",
           "AffineParameterLinearization"]


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
        self._kernel = None
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
    @property
    def kernel(self):
        """The factored ``K`` (:class:`StructuredKernel`), built on first use."""
        if self._kernel is None:
            self._kernel = StructuredKernel(self._flat, self.shape)
        return self._kernel

    def kernel_apply(self, U, gemm_dtype=None, overwrite=False):
        """``K U = J J* U`` without the parameter space. U: (k, B, T, H) -> (k, B, T, H).

        ``gemm_dtype``, ``overwrite``: see :meth:`StructuredKernel.apply`."""
        return self.kernel.apply(U, self.chunk_bytes, gemm_dtype, overwrite)

    def kernel_axis_mean(self, axis, square=False):
        """Exact mean compression of K (or K^2) onto one axis: see
        :meth:`StructuredKernel.axis_mean`."""
        return self.kernel.axis_mean(axis, square)
