"""``K = J J*`` of an affine-gated cell (rnn, leaky_rnn, gru) in factored form.

For a cell ``F = Phi(W_1 s_1 + b_1, ..., z)`` whose unit j reads only unit j of each gate
(:class:`~kpflow_sk.cells.AffineParameterLinearization`), K is block-diagonal over hidden
units:

    K_j = sum_g diag(c_gj) M diag(w_g) M^T diag(c_gj)

with ``M = [s_1, ..., s_m, 1]`` the ``(N, S)`` rows (N = B*T) of every distinct source and one
ones column, ``c_g`` the ``(N, H)`` coefficients ``dF/da_g`` of gate block g and ``w_g`` how
often each column of M enters gate g (0 where gate g does not read a source, 2 for the ones
column when two biases feed the gate, as in nn.GRU). A block of probes then costs two GEMMs,
``F = M^T X`` and ``M F`` with ``X = c_g * U`` for every gate g side by side, shared by all
gates that read most of M (a GRU's r, z and hidden-n gates); gates that read only a narrow
part of M (a GRU's input-n gate: the inputs and a ones column) get their own small GEMMs.
Probes go through in blocks small enough that X stays in cache between the two GEMMs.

With ``gemm_dtype=torch.bfloat16`` (``precision="medium"`` of the operators) X, M and both
GEMMs' outputs are bfloat16 (products accumulated in float32 inside the GEMM), the gate
coefficients and the sum over gates stay float32: on CPUs with AVX512-BF16 (measured here:
233-264 GFLOPS against 72-79 for float32 at these shapes, one thread) and on GPUs K costs about
half; the result's relative error is a few 1e-3 (``tests/operators/
test_structured_kernel_precision.py``).

Hand-written: no library computes this factored kernel; ``tests/operators/
test_structured_kernel.py`` checks it against the autodiff J J* to 1e-10 in float64.
"""

from __future__ import annotations

import math

import torch

from kpflow_sk.cells._probes import empty_probes_like

__all__ = ["StructuredKernel"]

# Columns of the wide GEMM per block (gates x hidden units x probes): bounds the block buffer
# (N x columns); on one thread (float32 MKL) narrower blocks ran slower (GRU H = 256, 32
# probes: 768 columns 10.5x fwd+bwd, 4096 9.2x, same-process CPU time).
_BLOCK_COLUMNS = 4096
# A gate whose columns of M are fewer than this fraction of S gets its own small GEMMs.
_NARROW = 0.5


class _Gates:
    """Gates sharing the GEMMs with ``M (N, S)``: their coefficients ``coefs`` (N, H) each.

    ``scale`` lists ``(g, start, stop, w)``: rows ``start:stop`` of ``F_g = M^T X_g`` are
    multiplied by ``w`` (the column weight of ``w_g`` where it is not 1).
    """

    def __init__(self, M, coefs, scale):
        self.M = M
        self.Mt = M.T.contiguous()
        self.G = len(coefs)
        self.scale = scale


class StructuredKernel:
    """The factored ``K`` of an affine-gated cell (see the module docstring).

    Parameters
    ----------
    flat : list of (AffineMap, Tensor (N, S_i), Tensor (N, m_i, H))
        Each map with its source and gate coefficients over the ``N = B T`` rows.
    shape : tuple (B, T, H)
    """

    def __init__(self, flat, shape):
        self.shape = tuple(shape)
        B, T, H = shape
        N = B * T
        sources, terms = [], []          # distinct sources; [c, {source index: count}]
        ones = None
        for mp, src, coef in flat:
            i = next((j for j, s in enumerate(sources) if s is src), None)
            if i is None:
                sources.append(src)
                i = len(sources) - 1
            for g in range(coef.shape[1]):
                c = coef[:, g]
                term = next((t for t in terms if t[0] is c
                             or (t[0].shape == c.shape and torch.equal(t[0], c))), None)
                if term is None:
                    term = [c, {}]
                    terms.append(term)
                term[1][i] = term[1].get(i, 0) + 1
                if mp.bias is not None:
                    term[1]["ones"] = term[1].get("ones", 0) + 1
                    ones = True
        blocks = list(sources) + ([sources[0].new_ones(N, 1)] if ones else [])
        keys = list(range(len(sources))) + (["ones"] if ones else [])
        sizes = [b.shape[1] for b in blocks]
        starts = [sum(sizes[:i]) for i in range(len(sizes))]
        S = sum(sizes)
        M = torch.cat(blocks, dim=1)
        wide, scale, self.narrow, self._factors = [], [], [], []
        for c, counts in terms:
            c = c.contiguous()
            w = {key: counts.get(key, 0) for key in keys}
            cols = [math.sqrt(w[key]) * blk
                    for key, blk in zip(keys, blocks) if w[key] > 0]
            self._factors.append((torch.cat(cols, dim=1), c))   # M_g with sqrt(w) folded in
            width = sum(s for key, s in zip(keys, sizes) if w[key] > 0)
            if width < _NARROW * S:
                Mg = self._factors[-1][0]
                self.narrow.append((Mg, Mg.T.contiguous(), c))
                continue
            g = len(wide)
            wide.append(c)
            scale.extend((g, s0, s0 + s, w[key]) for key, s0, s in zip(keys, starts, sizes)
                         if w[key] != 1)
        self.wide = _Gates(M, wide, scale) if wide else None
        self._low = {}                   # gemm dtype -> see _gemm_matrices
        self._n_wide = len(wide)
        #: every gate's coefficients, wide gates first: (N, G, H)
        self._C = torch.stack(wide + [c for _, _, c in self.narrow], dim=1)
        self.n_rows, self.n_cols = N, S

    def factors(self):
        """``[(M_g, c_g)]``, one per gate: ``K u = sum_g c_g * (M_g M_g^T (c_g * u))``.

        ``M_g`` of shape ``(N, S_g)`` holds the columns gate g reads (times the square root of
        their weight), ``c_g`` of shape ``(N, H)``.
        """
        return self._factors

    # ------------------------------------------------------------------ K on probes
    def _gemm_matrices(self, dtype):
        """``(M, M^T, [(M_g, M_g^T) of the narrow gates], coefficients (N, G, H))`` in the
        GEMM dtype (cached)."""
        if dtype not in self._low:
            gw = self.wide
            wide = (None, None) if gw is None else (gw.M.to(dtype), gw.Mt.to(dtype))
            self._low[dtype] = (*wide, [(Mg.to(dtype), Mgt.to(dtype))
                                        for Mg, Mgt, _ in self.narrow], self._C.to(dtype))
        return self._low[dtype]

    def apply(self, U, chunk_bytes=256 * 1024**2, gemm_dtype=None, overwrite=False):
        """``K U``. U: (k, B, T, H), any strides -> (k, B, T, H) with U's memory layout.

        ``overwrite=True`` writes the result into U's memory (each block of U is read
        whole before its block of the result is written) and returns U.

        ``gemm_dtype`` (e.g. ``torch.bfloat16``): the dtype of the two GEMMs' operands and
        outputs (see the module docstring); None uses U's dtype (exact to its precision).

        Probes-last memory (``(B, T, H, k)`` contiguous, what the operator protocol passes)
        and probes-first memory are both read and written in place of a transposing copy.
        Blocks run over hidden units (probes-last; K is block-diagonal over units) or over
        probes (probes-first), so each block's slice of U is contiguous; one buffer serves
        every block.
        """
        k = U.shape[0]
        B, T, H = self.shape
        probes_last = U.stride(0) < U.stride(3)       # keep U's unit-stride axis fastest
        out = U if overwrite else empty_probes_like(U, probes_last)
        G = self._C.shape[1]
        wide = max(1, self._n_wide)
        n = H if probes_last else k                    # the axis blocks run over
        other = k if probes_last else H
        per = max(1, self.n_rows * other * G * U.element_size())
        step = max(1, min(n, chunk_bytes // per, _BLOCK_COLUMNS // (other * wide)))
        gd = U.dtype if gemm_dtype is None else gemm_dtype
        mats = self._gemm_matrices(gd)
        buf = U.new_empty(self.n_rows * G * other * step, dtype=gd)
        # a lower GEMM dtype: U's block is converted first (a mixed-dtype product into X is
        # ~5x slower than a conversion plus a product in that dtype, measured on one thread)
        ubuf = None if gd == U.dtype else U.new_empty(self.n_rows * other * step, dtype=gd)
        # and two blocks in U's dtype: one gate's Y_g converted, the sum over gates
        fbuf = None if ubuf is None else U.new_empty(2 * self.n_rows * other * step)
        if probes_last:
            U4, O4 = U.permute(1, 2, 3, 0), out.permute(1, 2, 3, 0)     # (B, T, H, k)
        else:
            U4, O4 = U.permute(1, 2, 0, 3), out.permute(1, 2, 0, 3)     # (B, T, k, H)
        for s in range(0, n, step):
            sl = slice(s, min(n, s + step))
            if probes_last:
                self._apply_block(U4[:, :, sl], O4[:, :, sl], sl, True, buf, mats, ubuf,
                                  fbuf)
            else:
                self._apply_block(U4[:, :, sl], O4[:, :, sl], slice(None), False, buf,
                                  mats, ubuf, fbuf)
        return out

    def _apply_block(self, U4, O4, units, probes_last, buf, mats, ubuf=None, fbuf=None):
        """One block: U4, O4 of shape (B, T, h, kb) (probes last) or (B, T, kb, h); ``buf``,
        ``ubuf`` (None when U has the GEMM dtype) and ``mats`` (:meth:`_gemm_matrices`) in
        the GEMM dtype, ``fbuf`` (two blocks, with ``ubuf``) in U's dtype."""
        B, T, _ = self.shape
        N, G = self.n_rows, self._C.shape[1]
        M, Mt, narrow, Cl = mats

        def block(coefs):                                                # (B, T, G, h|1, 1|h)
            c = coefs.view(B, T, G, -1)[..., units]
            return c.unsqueeze(-1) if probes_last else c.unsqueeze(-2)

        C = block(self._C)
        X = buf[:N * G * U4[0, 0].numel()].view(B, T, G, *U4.shape[2:])
        if ubuf is None:
            torch.mul(U4.unsqueeze(2), C, out=X)                         # X_g = c_g * U
        else:
            Ul = ubuf[:U4.numel()].view(U4.shape)
            Ul.copy_(U4)
            torch.mul(Ul.unsqueeze(2), block(Cl), out=X)
        Xf = X.view(N, G, -1)
        cols = Xf.shape[2]
        if self.wide is not None:
            gw = self.wide
            Xw = X.view(N, -1)[:, :gw.G * cols]                           # the wide gates
            F = torch.mm(Mt, Xw)                                          # (S, G_w * cols)
            Fg = F.view(F.shape[0], gw.G, cols)
            for g, a, b, w in gw.scale:
                Fg[a:b, g] *= w
            torch.mm(M, F, out=Xw)                                        # Y_g in X_g's place
        for i, (Mg, Mgt) in enumerate(narrow):
            Xn = Xf[:, self._n_wide + i]
            torch.mm(Mg, torch.mm(Mgt, Xn), out=Xn)
        # K U = sum_g c_g * Y_g
        if ubuf is None:
            torch.mul(X[:, :, 0], C[:, :, 0], out=O4)
            for g in range(1, G):
                O4.addcmul_(X[:, :, g], C[:, :, g])
            return
        # a lower GEMM dtype: each Y_g converted into a contiguous buffer, the sum formed in
        # another and written once (mixed-dtype products into O4 ran 2x slower alone: GRU
        # H = 256, 256 probes, 0.67 s against 0.32 s per K, one thread; inside the whole
        # hidden-axis Theta the elementwise part went from 1.02 s to 0.95 s)
        Yf, Of = (fbuf[i * O4.numel():(i + 1) * O4.numel()].view(O4.shape) for i in (0, 1))
        for g in range(G):
            Yf.copy_(X[:, :, g])
            if g == 0:
                torch.mul(Yf, C[:, :, 0], out=Of)
            else:
                Of.addcmul_(Yf, C[:, :, g])
        O4.copy_(Of)

    # ------------------------------------------------------------------ axis compressions
    def axis_mean(self, axis, square=False):
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
        M0 = self.factors()[0][0]
        if axis == 2:
            ones = M0.new_ones(1, B, T, H)
            KE = self.apply(ones)[0].reshape(-1, H)                     # column j: K_j 1
            d = KE.square().sum(0) if square else KE.sum(0)
            return torch.diag(d) / Mo
        if square:
            raise NotImplementedError("structured time/trial compression of K^2")
        C = M0.new_zeros(n_axis, n_axis)
        for M, c in self.factors():
            Mb = M.reshape(B, T, -1)
            cb = c.reshape(B, T, -1)
            if axis == 1:
                F = torch.matmul(Mb.permute(1, 2, 0), cb.transpose(0, 1))   # (T, S, H)
            else:
                F = torch.matmul(Mb.transpose(1, 2), cb)                    # (B, S, H)
            F = F.reshape(n_axis, -1)
            C = C + F @ F.T
        return C / Mo

    @property
    def flops_per_probe(self):
        """Multiply-adds x 2 of one probe (both GEMMs, every gate): the floor of ``apply``."""
        H = self.shape[2]
        wide = (self.wide.G * self.n_cols) if self.wide else 0
        narrow = sum(Mg.shape[1] for Mg, _, _ in self.narrow)
        return 4 * self.n_rows * H * (wide + narrow)

