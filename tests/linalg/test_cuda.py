"""The linalg routines on a CUDA device: same answers, no host syncs inside the loops."""

import numpy as np
import pytest
import torch
from linalg_helpers import psd_matrix

from kpflow_sk.linalg import (
    DenseOperator,
    alignment,
    effective_rank,
    hutchpp_trace,
    reduce_to_axis,
    spectrum,
    top_eigenvalues,
    trace_of_square,
)
from kpflow_sk.linalg._krylov import BlockKrylov, deflated_hutchinson
from kpflow_sk.linalg._random import check_generator
from kpflow_sk.linalg._reduce import compress_each
from kpflow_sk.linalg._views import SymmetricView

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
    pytest.mark.filterwarnings("ignore:Synchronization debug mode is a prototype"),
]


@pytest.fixture(scope="module")
def psd_pair():
    lam = 1.0 / torch.arange(1, 801, dtype=torch.float64) ** 2
    G = psd_matrix(lam, seed=3)
    return G, G.cuda()


@pytest.fixture
def no_sync():
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    yield
    torch.cuda.set_sync_debug_mode(0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_estimates_on_cuda_match_dense(psd_pair, dtype):
    G, Gc = psd_pair
    Gc = Gc.to(dtype)
    rtol = 1e-2 if dtype == torch.float32 else 1e-3
    lam = torch.linalg.eigvalsh(G).flip(0)
    assert hutchpp_trace(Gc, 30, random_state=0).value == pytest.approx(lam.sum().item(),
                                                                       rel=0.01)
    assert trace_of_square(Gc, 30, random_state=0).value == pytest.approx(
        (lam**2).sum().item(), rel=rtol)
    top = top_eigenvalues(Gc, 5, random_state=0).values
    np.testing.assert_allclose(top, lam[:5].numpy(), rtol=1e-4 if dtype == torch.float32
                               else 1e-8)
    top = top_eigenvalues(Gc, 5, method="randomized", random_state=0).values
    np.testing.assert_allclose(top, lam[:5].numpy(), rtol=1e-2)
    for method in ("pr", "var95"):
        ref = effective_rank(G, method=method).value
        est = effective_rank(Gc, method=method, exact=False, random_state=0).value
        assert est == pytest.approx(ref, rel=0.02)
    A = G[:, :50].to(dtype).cuda()
    res = alignment(A, A * 2 + 0.1 * A.flip(0), 60, random_state=0, exact=False)
    ref = alignment(G[:, :50], G[:, :50] * 2 + 0.1 * G[:, :50].flip(0)).value
    assert res.value == pytest.approx(ref, abs=0.02)


def test_cpu_generator_with_cuda_operator(psd_pair):
    _, Gc = psd_pair
    a = hutchpp_trace(Gc, 30, random_state=torch.Generator().manual_seed(0))
    b = hutchpp_trace(Gc, 30, random_state=torch.Generator().manual_seed(0))
    assert a == b


def test_axis_reductions_on_cuda():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(120, 10, generator=g, dtype=torch.float64)
    G = X @ X.T
    op, opc = DenseOperator(G, (4, 6, 5), (4, 6, 5)), DenseOperator(G.cuda(), (4, 6, 5),
                                                                    (4, 6, 5))
    for reduce in ("trace", "mean"):
        ref = reduce_to_axis(op, "time", reduce).matrix
        out = reduce_to_axis(opc, "time", reduce).matrix
        assert out.device.type == "cuda"
        torch.testing.assert_close(out.cpu(), ref)
    np.testing.assert_allclose(spectrum(opc, 3, axis="hidden").values,
                               spectrum(op, 3, axis="hidden").values, rtol=1e-10)


def test_krylov_loop_never_syncs(psd_pair, no_sync):
    _, Gc = psd_pair
    G = SymmetricView(Gc)
    gen = torch.Generator(device="cuda").manual_seed(0)
    krylov = BlockKrylov(G, 4, gen).extend(10)
    deflated_hutchinson(G, krylov.basis(), 8, gen, square=True)
    krylov.projected()
    gram = SymmetricView(Gc[:, :100].contiguous(), gram=True)
    BlockKrylov(gram, 3, gen).extend(5)


def test_reduction_loop_never_syncs(no_sync):
    G = torch.eye(60, dtype=torch.float64, device="cuda")
    view = SymmetricView(DenseOperator(G, (3, 4, 5), (3, 4, 5)))
    Z = torch.ones(12, 2, dtype=torch.float64, device="cuda")  # M = 3 * 4 other-axes entries
    compress_each(view, 2, Z)
    gview = SymmetricView(DenseOperator(G[:, :7], (7,), (3, 4, 5)), gram=True)
    compress_each(gview, 1, torch.ones(15, 3, dtype=torch.float64, device="cuda"))


def test_device_generator_from_int():
    gen = check_generator(0, "cuda")
    assert gen.device.type == "cuda"
