"""``tr(G)`` and ``tr(G^2)`` of a PSD operator from one block Krylov sketch plus probes.

The estimators behind :func:`~kpflow_sk.linalg.hutchpp_trace`,
:func:`~kpflow_sk.linalg.trace_of_square` and the whole-space participation ratio
(:func:`~kpflow_sk.linalg.effective_rank`). In the basis ``[Q, Q_perp]`` of a block Krylov
space (``Q`` orthonormal, ``G Q`` computed once per basis vector),

    G = [[H, C^T], [C, D]],   H = Q^T G Q,   C = (I - QQ^T) G Q = R E_last^T,

where ``R`` is the last block's residual (full reorthogonalisation leaves nothing of the
earlier blocks outside the basis). The Nystrom approximation on the same products,
``G Q H^+ Q^T G``, fills the unknown block D with ``N = R M R^T`` (``M`` the last diagonal
block of ``H^+``) at no extra application: it uses the direction ``R`` that the next Krylov
block would have taken. Then

    tr(G)   = tr(H) + tr(N) + tr(D - N)
    tr(G^2) = 2 ||G Q||_F^2 - ||H||_F^2 + ||N||_F^2 + (||D||_F^2 - ||N||_F^2)

with every term known exactly except the last, which Rademacher probes ``z' = (I-QQ^T) z``
estimate without bias (``z'^T G z' - z'^T N z'`` and ``||(I-QQ^T) G z'||^2 - ||N z'||^2``;
any fixed N keeps them unbiased, a good one makes them small). The variance is that of the
Schur complement ``D - N``, which is what the Nystrom++ estimator (Persson, Cortinovis and
Kressner 2022) gains over Hutch++; ``tr(G^2)`` needs no sample of the part of ``G z'`` inside
the basis, which is known.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from kpflow_sk.linalg._accuracy import delta_stderr, jackknife_stderr, t_quantile
from kpflow_sk.linalg._krylov import BlockKrylov
from kpflow_sk.linalg._random import rademacher

__all__ = ["Moments", "krylov_moments", "adaptive_moments", "auto_block_size",
           "MIN_STOP_PROBES", "RESIDUAL_SHARE", "PR_FIRST_ROUND"]

#: First-round budget (applications of G; twice that for ``A A*``) of an adaptive
#: whole-space participation ratio: a Krylov sketch of 32 plus :data:`MIN_STOP_PROBES`
#: probes, enough for 2% on the spectra of Theta measured (GRU H = 64: collapse dim 145).
PR_FIRST_ROUND = 64
#: Share of a fixed budget spent on the Hutchinson probes of the deflated remainder. Tuned
#: on decaying spectra (1/i^2, exp(-i/10)); the classic Hutch++ split is 1/3.
RESIDUAL_SHARE = 0.2
# Fewest probes a round of an adaptive estimate draws (a spread needs a few samples).
_MIN_PROBES = 6
#: Fewest probes an adaptive estimate stops on: the spread of fewer is too noisy to trust,
#: and stopping on a lucky small spread would make the intervals too narrow (measured: 88%
#: coverage of the participation ratio on a 1/i spectrum with 6, 96% with 16).
MIN_STOP_PROBES = 32
# Eigenvalues of H below this fraction of the largest are left out of H^+ (any M keeps the
# estimates unbiased; dropping noise-level directions keeps N from amplifying rounding).
_PINV_RTOL = 1e3


class Moments:
    """``tr(G)`` and (optionally) ``tr(G^2)``: exact sketch terms plus pooled probe samples.

    ``trace = trace_sketch + mean(trace_samples)`` and likewise for ``square``; the samples
    are the per-probe Hutchinson values on the Schur complement (empty when the sketch
    covers the space).

    Parameters
    ----------
    G : SymmetricView
    krylov : BlockKrylov or None
    square : bool
        Also estimate ``tr(G^2)`` (each probe then costs ``G.cost``, not 1).
    """

    def __init__(self, G, krylov, square):
        self.G, self.krylov, self.square_wanted = G, krylov, bool(square)
        self._sketch()

    def _sketch(self):
        """The exact terms and the Nystrom fill ``N = R M R^T`` of the current basis; no
        probe samples pooled yet."""
        kr, dev = self.krylov, self.G.device
        empty = torch.zeros(0, dtype=torch.float64, device=dev)
        self.trace_samples = empty
        self.square_samples = empty if self.square_wanted else None
        zero = torch.zeros((), dtype=torch.float64, device=dev)
        self.trace_sketch, self.square_sketch = zero, (zero if self.square_wanted else None)
        self._R = self._M = self._GR = None
        # the pooled probes (signs S, coefficients C: z' = s - Q c) and images (resketch)
        self._blocks = []
        if kr is None or kr.dim == 0:
            return
        H = kr.projected().double()
        trace, square = H.diagonal().sum(), 2 * kr.gq_sqnorm.double() - H.square().sum()
        if kr.dim < self.G.n and kr.residual is not None:
            lam, V = torch.linalg.eigh(H)
            tol = _PINV_RTOL * torch.finfo(self.G.dtype).eps * lam.abs().max()
            inv = torch.where(lam > tol, 1.0 / torch.where(lam > tol, lam, 1.0), 0.0)
            Vl = V[-kr.b:]
            M = (Vl * inv) @ Vl.mT
            R = kr.residual
            GR = (R.mT @ R).double()
            MG = M @ GR
            trace = trace + MG.diagonal().sum()
            square = square + (MG @ MG).diagonal().sum()
            self._R, self._M, self._GR = R, M, GR
        self.trace_sketch = trace
        if self.square_wanted:
            self.square_sketch = square

    @property
    def n_probes(self):
        return int(self.trace_samples.shape[0])

    @property
    def trace(self):
        if self.n_probes:
            return self.trace_sketch + self.trace_samples.mean()
        return self.trace_sketch

    @property
    def square(self):
        if self.square_sketch is None:
            return None
        if self.n_probes:
            return self.square_sketch + self.square_samples.mean()
        return self.square_sketch

    def add_probes(self, n_probes, generator):
        """Draw ``n_probes`` more deflated probes (same basis, samples pooled).

        The probes are kept as their signs (int8, a quarter of a float32 block) and their
        coefficients in the basis, and rebuilt by chunks of rows where they are needed
        again; so G may take the deflated block's memory for its images (at the peak one
        ``(n, n_probes)`` block of G's dtype instead of two: 3.9 GiB less at n = 3.3e7).
        """
        G = self.G
        S = rademacher((G.n, n_probes), generator, torch.int8, G.device)
        Q = self._basis()
        Z = S.to(G.dtype)
        C = None if Q is None else Q.mT @ Z
        _deflate_rows(Z, Q, C)                      # (the rows _pool rebuilds, alike)
        if not self._keep_images:
            c = None if self._R is None else (self._R.mT @ Z).double()
            self._add_samples(G.quad(Z).double(), None, c)
            return
        Y = G.mm(Z, overwrite=True)                 # Z is consumed (rebuilt from S, C)
        del Z
        self._pool(S, C, Y)

    @property
    def _keep_images(self):
        # with the images G z' the probes survive a larger basis (see resketch); a
        # quadratic form through A A* (one application, not two) has no image to keep
        return self.square_wanted or not self.G.gram

    @property
    def carries_probes(self):
        """True when the probes drawn so far survive a :meth:`resketch` (images kept)."""
        return bool(self._blocks)

    @property
    def _Z(self):
        """The pooled deflated probes ``(n, p)``, rebuilt (new memory), or None."""
        Q = self._basis()
        return torch.cat([_deflate_rows(S.to(self.G.dtype), Q, C) for S, C, _ in
                          self._blocks], 1) if self._blocks else None

    def _basis(self):
        kr = self.krylov
        return kr.basis() if kr is not None and kr.dim else None

    def _pool(self, S, C, Y):
        """Samples of the deflated probes ``Z = S - Q C`` and their images ``Y = G Z``,
        pooled; Z rebuilt by chunks of rows (no second (n, p) array)."""
        Q, R = self._basis(), self._R
        step = _row_step(Y)
        t = torch.zeros(Y.shape[1], dtype=torch.float64, device=Y.device)
        c = None if R is None else t.new_zeros(R.shape[1], Y.shape[1])
        for r in range(0, Y.shape[0], step):
            z = _deflate_rows(S[r:r + step].to(Y.dtype), Q, C, r)
            t += (z * Y[r:r + step]).sum(0)        # float32 within a chunk, float64 across
            if c is not None:
                c += R[r:r + step].mT @ z
        s = _outside_sqnorm(Y, Q) if self.square_wanted else None
        self._blocks.append((S, C, Y))
        self._add_samples(t, s, c)

    def _add_samples(self, t, s, c):
        """Pool the Hutchinson samples ``t`` (and ``s``) less the Nystrom fill's share,
        with ``c = R^T z'`` (float64) of each probe."""
        if c is not None:
            Mc = self._M @ c
            t = t - (c * Mc).sum(0)
            if s is not None:
                s = s - (Mc * (self._GR @ Mc)).sum(0)
        self.trace_samples = torch.cat([self.trace_samples, t])
        if s is not None:
            self.square_samples = torch.cat([self.square_samples, s])

    def resketch(self, n_blocks, n_probes, generator):
        """Extend the Krylov basis by ``n_blocks``, carry the probes over, add ``n_probes``.

        A probe ``z' = (I - Q Q^T) z`` of the old basis becomes ``z'' = (I - Q' Q'^T) z``
        of the new one (the new basis Q' contains Q), and its image follows from the Krylov
        relation ``G Q' = Q' H' + R' E_last^T`` without applying G again:
        ``G z'' = G z' - Q' (H' c) - R' c_last`` with ``c = Q'^T z'``. The carried probes
        are exactly the probes the new basis would have drawn (the basis never saw them),
        so no application is lost. Without images (quadratic forms of ``A A*``) the old
        probes are dropped instead.
        """
        blocks = self._blocks
        self.krylov.extend(n_blocks)
        self._sketch()
        if self.krylov.dim >= self.G.n:
            return
        kr = self.krylov
        Q, Hk = kr.basis(), kr.projected()
        for S, C, Y in blocks:
            # c = Q'^T z' by chunks of rows (z' rebuilt on the old basis, Q's leading
            # columns); z'' = s - Q' (C + c); the image in place (Y is this object's own)
            d, step = (0 if C is None else C.shape[0]), _row_step(Y)
            c = torch.zeros(Q.shape[1], Y.shape[1], dtype=torch.float64, device=Y.device)
            for r in range(0, Y.shape[0], step):
                z = _deflate_rows(S[r:r + step].to(Y.dtype), Q[:, :d] if d else None, C, r)
                c += Q[r:r + step].mT @ z
            c = c.to(Y.dtype)
            C_new = torch.cat([c[:d] + C, c[d:]]) if d else c
            Y.addmm_(Q, Hk @ c, alpha=-1).addmm_(kr.residual, c[-kr.b:], alpha=-1)
            self._pool(S, C_new, Y)
        if n_probes:
            self.add_probes(n_probes, generator)

    def stats(self, quantity):
        """``(value, stderr, dof)`` of ``quantity``.

        ``"trace"``, ``"square"``: the sample standard error of the probe mean; the norms
        (square roots): delta method. ``"pr"`` (``tr(G)^2 / tr(G^2)``): jackknife over the
        probes, which share ``tr(G)`` and ``tr(G^2)`` samples.
        """
        p = self.n_probes
        t = self.trace_samples.cpu().numpy()
        s = None if self.square_samples is None else self.square_samples.cpu().numpy()
        T = float(self.trace)
        S = None if s is None else float(self.square)
        if quantity == "trace":
            value, grad, x = T, [1.0], t[:, None]
        elif quantity == "sqrt_trace":
            value = math.sqrt(max(T, 0.0))
            grad, x = [0.5 / value if value > 0 else 0.0], t[:, None]
        elif quantity == "square":
            value, grad, x = S, [1.0], s[:, None]
        elif quantity == "sqrt_square":
            value = math.sqrt(max(S, 0.0))
            grad, x = [0.5 / value if value > 0 else 0.0], s[:, None]
        else:  # "pr"
            value = T**2 / S if S > 0 else 0.0
            if p == 0:
                return value, 0.0, math.inf
            if p < 2 or S <= 0:
                return value, math.nan, p - 1
            # Jackknife over the probes (not the delta method): tr(G) and tr(G^2) come from
            # the same probes, and the leave-one-out ratios carry both their covariance and
            # the curvature of the ratio, which the linearisation misses at small p.
            t_loo = T - (t - t.mean()) / (p - 1)
            s_loo = S - (s - s.mean()) / (p - 1)
            return value, jackknife_stderr(t_loo**2 / np.maximum(s_loo, 1e-300)), p - 1
        if p == 0:
            return value, 0.0, math.inf
        return value, delta_stderr(grad, x), p - 1


# Rows per chunk of the column reductions below: (rows, k) float32 temporaries of ~1 MiB,
# reused by the allocator (fresh (n, k) temporaries cost page faults; column slices of
# 8 made skinny GEMMs at a third of the speed: 0.46 s for one (460 800, 32) block).
_ROW_CHUNK_BYTES = 2**20


def _row_step(Y):
    return max(256, _ROW_CHUNK_BYTES // (4 * max(1, Y.shape[1])))


def _deflate_rows(Z, Q, C, start=0):
    """``Z - Q[start:start + len(Z)] C`` in Z's memory, by chunks of rows (the same
    chunks, hence the same rounding, whether Z is a whole block or one chunk of it); Z
    as is when there is no basis (Q None)."""
    if Q is None:
        return Z
    step = _row_step(Z)
    for r in range(0, Z.shape[0], step):
        Z[r:r + step].addmm_(Q[start + r:start + r + step], C, alpha=-1)
    return Z


def _outside_sqnorm(Y, Q):
    """``||(I - Q Q^T) y||^2`` of each column of Y (float64), by chunks of rows with
    ``C = Q^T Y`` computed once (the projected copy of all of Y would be one more (n, k)
    array at the peak)."""
    out = torch.zeros(Y.shape[1], dtype=torch.float64, device=Y.device)
    step = _row_step(Y)
    C = None if Q is None else Q.mT @ Y
    for r in range(0, Y.shape[0], step):
        part = Y[r:r + step] if C is None else torch.addmm(Y[r:r + step], Q[r:r + step], C,
                                                           alpha=-1)
        out += part.square().sum(0)
    return out


def auto_block_size(n_vectors):
    """Block size for a Krylov space of ``n_vectors``: about 12 steps, blocks of 1 to 32.

    Deeper Krylov spaces converge faster per application (blocks of 1-2 beat 4 on decaying
    spectra at a budget of 30); wider blocks use the device better. Twelve steps is the
    compromise.
    """
    return max(1, min(32, n_vectors // 12))


def krylov_moments(G, budget, generator, *, square=False, block_size=None,
                   residual_share=RESIDUAL_SHARE, min_probes=1):
    """Block Krylov sketch plus deflated probes, within ``budget`` applications.

    ``residual_share`` of the budget (at least ``min_probes`` probes, when the budget
    allows) goes to the probes, the rest to the basis; a budget that covers the space takes
    all of it (exact up to rounding, no probes).
    """
    probe_cost = G.cost if square else 1
    n_probes = max(1, round(residual_share * budget / probe_cost))
    if min_probes > n_probes and budget >= (min_probes + 1) * probe_cost:
        n_probes = min_probes
    n_vectors = (budget - n_probes * probe_cost) // G.cost
    full = budget // G.cost >= G.n  # the budget covers the space: take all of it, no probes
    if full:
        n_vectors = G.n
    krylov = None
    if n_vectors >= 1:
        b = min(block_size or auto_block_size(n_vectors), n_vectors)
        if full:  # blocks must tile the space
            b = max(d for d in range(1, b + 1) if G.n % d == 0)
        krylov = BlockKrylov(G, b, generator).extend(n_vectors // b)
        spent = krylov.dim * G.cost
        n_probes = max(1, (budget - spent) // probe_cost)
        if krylov.dim == G.n:
            n_probes = 0
    m = Moments(G, krylov, square)
    if n_probes:
        m.add_probes(n_probes, generator)
    return m


def adaptive_moments(G, acc, generator, quantity, *, block_size=None):
    """:func:`krylov_moments` on ``acc.initial``, then grown until ``quantity`` meets
    ``acc.target`` (interval half-width / |value|) or ``acc.cap`` applications are spent.

    The first round draws at least :data:`MIN_STOP_PROBES` probes (fewer could not stop).
    Each round predicts, from the probe spread, the probes the tolerance needs
    (``p (hw / (rtol |value|))^2``). If those would cost more than the Krylov sketch so far,
    the sketch is extended instead (doubled, or what the cap allows): on decaying spectra
    that shrinks the remainder's variance faster than probes do (the balance of adaptive
    Hutch++, Persson, Cortinovis and Kressner 2022); the probes drawn so far are carried
    over to the larger basis (:meth:`Moments.resketch`) and half as many fresh ones added.
    Otherwise probes are added and pooled. (Dropping the probes at each resketch, as this
    routine once did, stopped on lucky fresh 32-probe rounds: 42-43 of 50 intervals covered
    the pr of an exp(-i/20) spectrum; carried over, 50 of 50.)

    Returns
    -------
    (Moments, value, stderr, dof, hit_cap)
    """
    square = quantity not in ("trace", "sqrt_trace")
    probe_cost = G.cost if square else 1
    m = krylov_moments(G, acc.initial, generator, square=square, block_size=block_size,
                       min_probes=MIN_STOP_PROBES)
    hit = False
    while True:
        value, se, dof = m.stats(quantity)
        hw = t_quantile(dof) * se
        if m.n_probes == 0 or (np.isfinite(hw) and hw <= acc.target * abs(value)
                               and m.n_probes >= MIN_STOP_PROBES):
            break
        room = acc.cap - G.counter.n
        if room < probe_cost:
            hit = True
            break
        p = m.n_probes
        ratio = hw / (acc.target * abs(value)) if value != 0 and np.isfinite(hw) else 4.0
        need = max(math.ceil(p * min(ratio, 8.0) ** 2 * 1.2) - p, MIN_STOP_PROBES - p)
        kr = m.krylov
        sketch_cost = kr.dim * G.cost if kr is not None else 0
        # probes carried over by a resketch keep counting; without images fresh ones
        # replace them
        fresh = max(_MIN_PROBES, p // 2) if m.carries_probes else max(MIN_STOP_PROBES, p)
        if (kr is not None and not kr.exhausted and need * probe_cost > sketch_cost
                and room >= kr.b * G.cost + fresh * probe_cost):
            n_blocks = min(kr.n_blocks, (room - fresh * probe_cost) // (kr.b * G.cost))
            m.resketch(n_blocks, fresh, generator)
        else:
            m.add_probes(max(1, min(max(need, _MIN_PROBES), room // probe_cost)), generator)
    return m, value, se, dof, hit
