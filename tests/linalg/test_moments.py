"""The Krylov + Nystrom moment estimator (linalg._moments) and the block orthonormalisation."""

import math

import numpy as np
import pytest
import torch
from linalg_helpers import psd_matrix

from kpflow_sk.linalg._krylov import BlockKrylov, orthonormalize
from kpflow_sk.linalg._moments import Moments, krylov_moments
from kpflow_sk.linalg._random import check_generator
from kpflow_sk.linalg._views import SymmetricView

N = 300
LAM = 1.0 / torch.arange(1, N + 1, dtype=torch.float64) ** 0.8  # slow decay, pr ~ 60


@pytest.fixture(scope="module")
def G():
    return psd_matrix(LAM, seed=3)


@pytest.mark.parametrize("block_size", [1, 4, 16])
def test_sketch_terms_are_exact_identities(G, block_size):
    # tr(G) = tr(H) + tr(N) + tr(D - N) and ||G||^2 = 2||GQ||^2 - ||H||^2 + ||N||^2 +
    # (||D||^2 - ||N||^2): the probe-free terms against the dense blocks of G
    view = SymmetricView(G)
    kr = BlockKrylov(view, block_size, check_generator(0)).extend(48 // block_size)
    m = Moments(view, kr, square=True)
    Q = kr.basis()
    P = torch.eye(N, dtype=torch.float64) - Q @ Q.T
    D = P @ G @ P
    Nf = m._R @ m._M @ m._R.T
    assert float(m.trace_sketch + torch.trace(D - Nf)) == pytest.approx(float(LAM.sum()),
                                                                           rel=1e-10)
    assert float(m.square_sketch + (D @ D).trace() - (Nf @ Nf).trace()) == pytest.approx(
        float((LAM**2).sum()), rel=1e-10)
    # N is the Nystrom fill of D: the Schur complement D - N is PSD
    assert float(torch.linalg.eigvalsh(D - Nf).min()) > -1e-10


def test_carried_probes_equal_fresh_probes_of_the_new_basis(G):
    # after a resketch, a probe z' of the old basis is (I - Q'Q'^T) z with image G z''
    # from the Krylov relation: the same samples as computing them from scratch
    view = SymmetricView(G)
    gen = check_generator(1)
    m = krylov_moments(view, 40, gen, square=True, block_size=4, min_probes=8)
    z_old = m._Z.clone()
    before = view.counter.n
    m.resketch(3, 0, gen)
    assert view.counter.n - before == 12  # three blocks of 4, no probe applied again
    Q = m.krylov.basis()
    Z = z_old - Q @ (Q.T @ z_old)
    Y = G @ Z
    c = m._R.T @ Z
    Mc = m._M @ c
    t = (Z * Y).sum(0) - (c * Mc).sum(0)
    PY = Y - Q @ (Q.T @ Y)
    s = PY.square().sum(0) - (Mc * (m._GR @ Mc)).sum(0)
    torch.testing.assert_close(m.trace_samples, t, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(m.square_samples, s, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("square", [False, True])
def test_unbiased_over_seeds(G, square):
    # fixed budget, 200 seeds: the mean estimate is within 4 standard errors of the truth
    view_values = []
    for seed in range(200):
        m = krylov_moments(SymmetricView(G), 40, check_generator(seed), square=square,
                           block_size=4, min_probes=8)
        view_values.append(float(m.square if square else m.trace))
    v = np.array(view_values)
    truth = float((LAM**2).sum() if square else LAM.sum())
    assert abs(v.mean() - truth) < 4 * v.std() / math.sqrt(len(v)) + 1e-12


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("cond", [1.0, 1e4])
def test_orthonormalize_tall_blocks(dtype, cond):
    g = torch.Generator().manual_seed(0)
    n, b = 40000, 16
    U = orthonormalize(torch.randn(n, b, generator=g, dtype=torch.float64))
    s = torch.logspace(0, -math.log10(cond), b, dtype=torch.float64)
    V = torch.linalg.qr(torch.randn(b, b, generator=g, dtype=torch.float64))[0]
    X = ((U * s) @ V.T).to(dtype)
    Q = orthonormalize(X)
    eps = torch.finfo(dtype).eps
    err = (Q.T.double() @ Q.double() - torch.eye(b, dtype=torch.float64)).abs().max()
    assert err < 100 * eps * math.sqrt(n)
    # same column space
    resid = X.double() - Q.double() @ (Q.double().T @ X.double())
    assert resid.norm() <= 1e3 * eps * math.sqrt(n) * X.double().norm()
