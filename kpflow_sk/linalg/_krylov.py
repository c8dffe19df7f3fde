"""Subspace builders: block Lanczos with full reorthogonalisation, randomized range finders.

All loops here run on the operator's device without host synchronisation: no ``.item()``,
no data-dependent branches, only QR / matmul / triangular solves / Cholesky-ex on the device.
"""

from __future__ import annotations

import torch

from kpflow_sk.linalg._random import gaussian, rademacher

__all__ = ["BlockKrylov", "deflated_hutchinson", "orthonormalize", "own"]


def own(Y, *others):
    """Y, or a copy of it when it shares memory with one of ``others`` (before Y is
    overwritten in place: an operator may return its input, e.g. the identity)."""
    ptr = Y.untyped_storage().data_ptr()
    if any(o is not None and o.untyped_storage().data_ptr() == ptr for o in others):
        return Y.clone()
    return Y


# Below this many entries a block is orthonormalised by Householder QR (cheap at that size,
# and the most robust); above, by Cholesky QR (see :func:`orthonormalize`).
_HOUSEHOLDER_MAX_ENTRIES = 2**16


def orthonormalize(X, well_conditioned=False):
    """Orthonormal basis of the columns of a full-rank tall ``X`` (n, b), same dtype.

    Householder QR costs about 1 s per 460 800 x 32 float32 block on one core (it is
    memory-bound), so tall float32 blocks use Cholesky QR twice instead ("CholQR2",
    Yamamoto et al. 2015; two GEMMs and a b x b Cholesky per pass): the first pass in
    float64 (Gram and triangular solve), which orthonormalises blocks with condition numbers
    up to ~1e6, the second in working precision. Callers keep blocks full rank (the Krylov
    builder mixes in a small random block). float64 (test-size) and small blocks use
    Householder QR. ``well_conditioned=True`` (a Gaussian block: condition number about
    1.4) takes one working-precision pass.
    """
    n, b = X.shape
    if X.dtype == torch.float64 or n * b <= _HOUSEHOLDER_MAX_ENTRIES or b > n // 4:
        return torch.linalg.qr(X)[0]
    if well_conditioned:
        return _cholqr_pass(X)
    return _cholqr_pass(_cholqr_pass(X, torch.float64))


# Rows per chunk of a CholQR pass computed in a wider dtype than X's (no (n, b) copy of X
# in that dtype: at n = 3e7, b = 32 that copy alone would be 8 GB).
_WIDE_ROWS = 2**16


def _cholqr_pass(X, dtype=None):
    """``X R^{-1}`` with ``R^T R = X^T X`` (Cholesky; a relative shift of 1e-13 keeps the
    factorisation defined on a numerically singular block, whose rank-deficient columns then
    come out short instead of NaN), in X's dtype. ``dtype`` (wider than X's): the Gram and
    the product are computed in it, by row chunks, the result rounded to X's dtype."""
    if dtype is None or dtype == X.dtype:
        Linv = _inverse_cholesky(X.mT @ X)
        return X @ Linv.mT
    G = torch.zeros(X.shape[1], X.shape[1], dtype=dtype, device=X.device)
    for i in range(0, X.shape[0], _WIDE_ROWS):
        Xc = X[i:i + _WIDE_ROWS].to(dtype)
        G += Xc.mT @ Xc
    LinvT = _inverse_cholesky(G).mT
    out = torch.empty_like(X)
    for i in range(0, X.shape[0], _WIDE_ROWS):
        out[i:i + _WIDE_ROWS] = X[i:i + _WIDE_ROWS].to(dtype) @ LinvT
    return out


def _inverse_cholesky(G):
    """``L^{-1}`` for ``L L^T = G + shift I`` (see :func:`_cholqr_pass`)."""
    shift = 1e-13 * G.diagonal().sum() / G.shape[0]
    eye = torch.eye(G.shape[0], dtype=G.dtype, device=G.device)
    L, _ = torch.linalg.cholesky_ex(G + shift * eye)
    return torch.linalg.solve_triangular(L, eye, upper=False)


class BlockKrylov:
    """Orthonormal basis of the block Krylov space ``[S, G S, G^2 S, ...]`` and ``Q^T G Q``.

    Block Lanczos with full reorthogonalisation (two classical Gram-Schmidt passes against
    the whole basis, before and after the block QR). The projected matrix ``H = Q^T G Q`` is
    assembled from the products ``Q^T (G Q_j)`` that reorthogonalisation computes anyway, so
    the Rayleigh-Ritz values are exact Rayleigh quotients of the basis, whatever rounding
    did to the three-term recurrence.

    When the Krylov space stops growing (G of low rank, or an invariant subspace found), the
    new block is all rounding noise; a random block of relative size ``1e3 * eps`` is added
    to every new block so that the basis always grows by fresh orthonormal directions
    (no rank test, hence no device sync).

    The basis lives in one preallocated ``(n, capacity)`` buffer (grown by doubling), so no
    step copies the whole basis; the next block is built only when it is about to be
    applied (no orthogonalisation is spent on a block that is never used).

    Parameters
    ----------
    G : SymmetricView
    block_size : int
    generator : torch.Generator on G.device
    """

    def __init__(self, G, block_size, generator):
        self.G, self.gen = G, generator
        self.b = int(min(block_size, G.n))
        self.max_blocks = G.n // self.b
        dt, dev = G.dtype, G.device
        # grown by doubling; the first block is the orthonormalized Gaussian itself
        self._buf = orthonormalize(gaussian((G.n, self.b), generator, dt, dev),
                                   well_conditioned=True).contiguous()
        self._n_built = 1  # blocks in the buffer (the last one may not be applied yet)
        self.cols = []  # cols[j] = [Q_0..Q_j]^T G Q_j, shape ((j+1) b, b)
        self.gq_sqnorm = torch.zeros((), dtype=dt, device=dev)  # ||G Q||_F^2
        self._scale = torch.zeros((), dtype=dt, device=dev)
        self._tol = 1e3 * torch.finfo(dt).eps
        self.residual = None  # (I - QQ^T) G Q_last, for the Ritz residuals

    @property
    def n_blocks(self):
        """Blocks whose image under G has been computed (the usable basis)."""
        return len(self.cols)

    @property
    def dim(self):
        return self.n_blocks * self.b

    @property
    def exhausted(self):
        return self.n_blocks >= self.max_blocks

    def _block(self, j):
        return self._buf[:, j * self.b:(j + 1) * self.b]

    def _append(self, V):
        start = self._n_built * self.b
        if start + self.b > self._buf.shape[1]:
            cap = min(self.max_blocks, 2 * self._n_built) * self.b
            buf = torch.empty(self.G.n, cap, dtype=self._buf.dtype, device=self._buf.device)
            buf[:, :start] = self._buf[:, :start]
            self._buf = buf
        self._buf[:, start:start + self.b] = V
        self._n_built += 1

    def extend(self, n_blocks):
        """Apply G to ``n_blocks`` more blocks (fewer if the space is full)."""
        n_blocks = min(n_blocks, self.max_blocks - self.n_blocks)
        for _ in range(n_blocks):
            if self._n_built == self.n_blocks:  # build the next block from the last residual
                self._append(self._next_block(self.residual))
            j = self.n_blocks
            Qj = self._block(j)
            W = own(self.G.mm(Qj), self._buf)     # (an operator may return its input)
            sq = torch.linalg.vector_norm(W).square()
            self.gq_sqnorm = self.gq_sqnorm + sq
            self._scale = torch.maximum(self._scale, (sq / self.b).sqrt())
            Q = self._buf[:, :(j + 1) * self.b]
            C = Q.mT @ W
            self.cols.append(C)
            # R = W - Q C, then a second Gram-Schmidt pass, in W's memory (G Q_j is not
            # needed again: C and ||G Q_j|| hold what is)
            R = W.addmm_(Q, C, alpha=-1)
            R.addmm_(Q, Q.mT @ R, alpha=-1)
            # (I - QQ^T) G Q = R E_last^T: the Ritz residuals come from the last block's R
            self.residual = R
        return self

    def _next_block(self, W):
        Q = self.basis()
        noise = gaussian(W.shape, self.gen, W.dtype, W.device)
        # W + tol scale noise / ||noise||, then deflated, in the noise's memory (W, the
        # residual, stays as it is)
        scale = (self._tol * self._scale) / noise.norm(dim=0).clamp_min(
            torch.finfo(W.dtype).tiny)
        V = noise.mul_(scale).add_(W)
        V.addmm_(Q, Q.mT @ V, alpha=-1)
        V = orthonormalize(V)
        V.addmm_(Q, Q.mT @ V, alpha=-1)
        return orthonormalize(V)

    def basis(self):
        """Orthonormal basis ``Q`` of shape ``(n, dim)`` (a view: do not modify)."""
        return self._buf[:, :self.dim]

    def projected(self):
        """``H = Q^T G Q`` of shape ``(dim, dim)``, symmetric."""
        m, b = self.dim, self.b
        H = torch.zeros(m, m, dtype=self.G.dtype, device=self.G.device)
        for j, C in enumerate(self.cols):
            H[:C.shape[0], j * b:(j + 1) * b] = C
            H[j * b:(j + 1) * b, :C.shape[0]] = C.mT
        return (H + H.mT) / 2

    def ritz_values(self):
        """Eigenvalues of H, descending (float64 tensor on the device)."""
        if self.dim == 0:
            return torch.zeros(0, dtype=torch.float64, device=self.G.device)
        return torch.linalg.eigvalsh(self.projected().double()).flip(0)

    def ritz_errors(self):
        """Ritz values (descending) and an error bound for each, float64 on the device.

        The residual of Ritz pair ``(theta_i, Q s_i)`` is ``r_i = ||R_last s_i[last block]||``
        (full reorthogonalisation leaves only the last block's remainder outside the
        basis); some eigenvalue of G lies within ``min(r_i, r_i^2 / gap_i)`` of theta_i
        (Bauer-Fike; Kato-Temple with ``gap_i`` the distance to the other Ritz values, the
        usual a-posteriori estimate, e.g. Saad, *Numerical methods for large eigenvalue
        problems*, 2011, sec. 3.2). Zero when the basis fills the space.
        """
        dev = self.G.device
        if self.dim == 0:
            empty = torch.zeros(0, dtype=torch.float64, device=dev)
            return empty, empty
        theta, S = torch.linalg.eigh(self.projected().double())
        theta, S = theta.flip(0), S.flip(1)
        if self.dim >= self.G.n:
            return theta, torch.zeros_like(theta)
        r = (self.residual.double() @ S[-self.b:]).norm(dim=0)
        return theta, ritz_bounds(theta, r)


def ritz_bounds(theta, r):
    """Error bound of each Ritz value from its residual norm ``r`` (tensors, float64).

    ``r_i`` (Bauer-Fike), tightened to ``r_i^2 / delta_i`` (Kato-Temple) where ``delta_i``,
    the distance from theta_i to the other Ritz values less their residuals, exceeds r_i
    (the pair is then isolated; unconverged, clustered pairs keep the plain ``r_i``).
    """
    if theta.numel() < 2:
        return r
    diff = (theta[:, None] - theta[None, :]).abs() - r[None, :]
    diff.fill_diagonal_(float("inf"))
    delta = diff.min(dim=1).values
    tight = torch.where(delta > r, r.square() / delta.clamp_min(1e-300), r)
    return torch.minimum(r, tight)


def deflated_hutchinson(G, Q, n_probes, generator, *, square=False):
    """Hutchinson estimates on the part of G outside ``range(Q)``.

    With ``z' = (I - Q Q^T) z`` for Rademacher z: ``E[z'^T G z'] = tr(G) - tr(Q^T G Q)`` and
    ``E[||G z'||^2] = ||G||_F^2 - ||G Q||_F^2``. Costs ``n_probes`` applications of ``G.quad``
    (1 each), or of ``G.mm`` (``G.cost`` each) when ``square``.

    Returns
    -------
    (trace_samples, square_samples) : tensors of shape (n_probes,) (the second None unless
        ``square``); their means estimate the two remainders.
    """
    Z = rademacher((G.n, n_probes), generator, G.dtype, G.device)
    if Q is not None and Q.shape[1]:
        Z = Z - Q @ (Q.mT @ Z)
    if square:
        W = G.mm(Z)
        return (Z * W).sum(0), W.square().sum(0)
    return G.quad(Z), None


def mean_sem(x):
    """Mean and standard error of the mean of 1-D samples (NaN error for one sample)."""
    n = x.shape[0]
    sem = x.std() / n**0.5 if n > 1 else torch.full_like(x[0], float("nan"))
    return x.mean(), sem
