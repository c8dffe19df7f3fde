"""The dense state Jacobians ``A_t`` held time-major, applied with one batched GEMM per step.

:class:`MaterializedLinearization` is the dense form of the
:class:`~kpflow_sk.cells.StateLinearization` contract (the analytic and autodiff forms are in
``_linearization.py``). Its recurrence :meth:`~MaterializedLinearization.propagate` can run
its GEMMs with lower-precision operands (``gemm_dtype``, e.g. bfloat16: ``A_t`` kept in that
dtype once, each step's previous output rounded to it, the product added to ``v_t`` in the
probes' dtype), which ``precision="medium"`` of the operators uses.

Hand-written (no library runs a batched linear recurrence in place of its probes' memory);
``tests/operators/test_structured_propagate.py`` and ``tests/operators/
test_propagate_medium.py`` check it against dense float64 recurrences.
"""

from __future__ import annotations

import torch

from kpflow_sk.cells._linearization import FactoredLinearization, StateLinearization
from kpflow_sk.cells._probes import empty_probes_like, started_range
from kpflow_sk.linalg import GramAccumulator

__all__ = ["MaterializedLinearization"]

# Rows of each Gram update of a dense propagate_gram (a few steps' images at once).
_GRAM_ROWS = 16384


class MaterializedLinearization(StateLinearization):
    """The dense Jacobians, held time-major ``(T, B, H, H)``, applied with batched GEMMs."""

    step_layout = "bhk"

    def __init__(self, A):
        # time-major so that each step's (B, H, H) block is contiguous
        self.At = A.transpose(0, 1).contiguous()
        self.shape = (A.shape[0], A.shape[1], A.shape[2])
        self.itemsize = A.element_size()
        self._low = {}                      # GEMM dtype -> At in it (see steps_in)

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

    def steps_in(self, dtype=None):
        """The time-major ``A`` of shape (T, B, H, H) in ``dtype`` (None: its own; another
        dtype is converted once and kept, half the memory of float32 for bfloat16)."""
        if dtype is None or dtype == self.At.dtype:
            return self.At
        if dtype not in self._low:
            self._low[dtype] = self.At.to(dtype)
        return self._low[dtype]

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

    def propagate(self, V, adjoint=False, overwrite=False, gram=None, gemm_dtype=None):
        """``P V`` or ``P* V`` with one batched GEMM per step, in V's own memory layout.

        Each step reads its ``(B, H, k)`` slice of V and writes that of the output in place
        (probes-last and probes-first memory both have a unit stride there), so no
        time-major copy is made. On the CPU, probes that are still exactly zero (a probe
        supported on late steps, as the time-axis basis of the axis measures) are left out
        of the GEMMs until they start: the range of started probes grows step by step, the
        rest of the output is written as zeros. With ``gram`` (a
        :class:`~kpflow_sk.linalg.GramAccumulator` of k columns) each step's output is
        added to it and dropped: a few step buffers instead of the output, which is not
        returned (see :meth:`propagate_gram`).

        ``gemm_dtype`` other than V's (e.g. ``torch.bfloat16``): each step's product
        ``A_t r_{t-1}`` has operands in that dtype (``A`` from :meth:`steps_in`, ``r_{t-1}``
        rounded into a step buffer) and is added to ``v_t`` in V's dtype; the output keeps
        V's dtype. None (default): ``baddbmm`` in V's dtype (exact to it). The Gram's
        products stay in V's dtype: rounding a partial Gram to bfloat16 (torch's CPU GEMMs
        have no float32 output for bfloat16 operands) moved the time-axis rank of Theta
        (pr 1.016, GRU H = 256) by 2.8e-3, against 7e-6 with exact Grams.
        """
        if V.stride(0) != 1 and V.stride(3) != 1:
            V = V.contiguous()
        T = V.shape[2]
        Vs = V.permute(2, 1, 3, 0)                                   # (T, B, H, k) view
        if gram is None:
            # (step t reads only v_t and the output of the step before: in place is safe)
            out = V if overwrite else empty_probes_like(V)
            Os = out.permute(2, 1, 3, 0)
        else:   # a ring of steps, added by groups of >= _GRAM_ROWS rows (syrk is slow on one)
            S = min(T, max(2, -(-_GRAM_ROWS // (Vs.shape[1] * Vs.shape[2]))))
            ring, first = V.new_empty(S, *Vs.shape[1:]), None
            slot = (lambda t: (T - 1 - t) % S) if adjoint else (lambda t: t % S)  # noqa: E731
            Os = {t: ring[slot(t)] for t in range(T)}
        k = Vs.shape[-1]
        low = gemm_dtype is not None and gemm_dtype != V.dtype
        At = self.steps_in(gemm_dtype if low else None)
        if low:          # step buffers: r_{t-1} and A_t r_{t-1} in the GEMM dtype
            n_step = Vs.shape[1] * Vs.shape[2] * k
            rbuf, pbuf = (V.new_empty(n_step, dtype=gemm_dtype) for _ in range(2))
            fbuf = V.new_empty(n_step)
        steps = range(T - 1, -1, -1) if adjoint else range(T)
        # started probes: [lo, hi); scanned on the CPU only (a device would sync per step)
        lo, hi = (0, k) if V.device.type != "cpu" else (k, 0)
        prev = None
        for t in steps:
            if hi - lo < k:
                lo, hi = started_range(Vs[t], lo, hi)
            if hi <= lo:
                if gram is None:
                    Os[t].zero_()
                continue
            o, v = Os[t][..., lo:hi], Vs[t][..., lo:hi]
            if prev is None:
                o.copy_(v)
            else:
                A = At[t + 1].transpose(1, 2) if adjoint else At[t]
                r = Os[prev][..., lo:hi]
                if low:
                    rl, pl, pf = (b[:r.numel()].view(r.shape) for b in (rbuf, pbuf, fbuf))
                    rl.copy_(r)
                    torch.bmm(A, rl, out=pl)
                    # converted first: a mixed-dtype add ran 4-5x slower (1.3 ms against
                    # 0.28 ms per (20, 256, 256) step, one thread); o may be v's memory
                    pf.copy_(pl)
                    torch.add(v, pf, out=o)
                else:
                    torch.baddbmm(v, A, r, out=o)
            if hi - lo < k:
                Os[t][..., :lo].zero_()
                Os[t][..., hi:].zero_()
            if gram is not None and hi - lo < k:
                gram.add(o.reshape(-1, hi - lo), slice(lo, hi))
            elif gram is not None:
                i = slot(t)
                first = i if first is None else first
                if i == S - 1:
                    gram.add(ring[first:].reshape(-1, k))
                    first = None
            prev = t
        if gram is not None and first is not None:
            gram.add(ring[first:i + 1].reshape(-1, k))
        return out if gram is None else None

    def propagate_gram(self, V, adjoint=False, gemm_dtype=None):
        # gemm_dtype: of the recurrence's steps only (the Gram stays exact, see propagate)
        acc = GramAccumulator(V.shape[0], V.dtype, V.device)
        self.propagate(V, adjoint, gram=acc, gemm_dtype=gemm_dtype)
        return acc.result()
