"""Moments keeps its probes as signs and lets G write its images into their memory: the
estimates equal those of whole float probes (the storage before, kept here as the
reference), and the probe application has no second (n, k) block alive."""

import gc

import pytest
import torch
from linalg_helpers import psd_matrix

import kpflow_sk.linalg._moments as moments
from kpflow_sk import linalg
from kpflow_sk.cells import get_cell
from kpflow_sk.linalg import DenseOperator, LinearOperator
from kpflow_sk.linalg._krylov import BlockKrylov, own
from kpflow_sk.linalg._moments import Moments, _outside_sqnorm
from kpflow_sk.linalg._random import check_generator, rademacher
from kpflow_sk.linalg._views import SymmetricView
from kpflow_sk.operators import Trajectory, kp_operators


class WholeProbeMoments(Moments):
    """The storage before: deflated float probes Z and images Y kept whole (concatenated
    over rounds), G never allowed to overwrite Z."""

    def _sketch(self):
        super()._sketch()
        self._Zw = self._Yw = None

    @property
    def carries_probes(self):
        return self._Zw is not None

    def add_probes(self, n_probes, generator):
        G = self.G
        Z = rademacher((G.n, n_probes), generator, G.dtype, G.device)
        Q = self._basis()
        if Q is not None:
            Z.addmm_(Q, Q.mT @ Z, alpha=-1)
        self._pool_whole(Z, own(G.mm(Z), Z) if self._keep_images else None)

    def _pool_whole(self, Z, Y):
        if Y is None:
            t, s = self.G.quad(Z).double(), None
        else:
            t = (Z.double() * Y.double()).sum(0)
            s = _outside_sqnorm(Y, self._basis()) if self.square_wanted else None
            self._Zw = Z if self._Zw is None else torch.cat([self._Zw, Z], 1)
            self._Yw = Y if self._Yw is None else torch.cat([self._Yw, Y], 1)
        self._add_samples(t, s, None if self._R is None else (self._R.mT @ Z).double())

    def resketch(self, n_blocks, n_probes, generator):
        Z, Y = self._Zw, self._Yw
        self.krylov.extend(n_blocks)
        self._sketch()
        if self.krylov.dim >= self.G.n:
            return
        if Z is not None:
            kr = self.krylov
            Q = kr.basis()
            c = Q.mT @ Z
            Z.addmm_(Q, c, alpha=-1)
            Y.addmm_(Q, kr.projected() @ c, alpha=-1).addmm_(kr.residual, c[-kr.b:],
                                                             alpha=-1)
            self._pool_whole(Z, Y)
        if n_probes:
            self.add_probes(n_probes, generator)


def _dense_spd(seed=0, n=400):
    lam = 1.0 / torch.arange(1, n + 1, dtype=torch.float64) ** 0.5   # slow decay
    return DenseOperator(psd_matrix(lam, seed), self_adjoint=True)


def _gru_theta(strategy, H=16, B=6, T=20, D=3):
    torch.manual_seed(0)
    net = torch.nn.GRU(D, H, batch_first=True)          # float32, as the scale run
    X = torch.randn(B, T, D)
    cell = get_cell("gru", D, H)
    params = {k: getattr(net, k + "_l0").detach() for k in cell.parameter_shapes()}
    with torch.no_grad():
        Z = net(X)[0]
    return kp_operators(Trajectory(cell, params, X, Z, strategy=strategy))["Theta"]


def _estimate(monkeypatch, cls, run):
    """``run()`` with ``cls`` as the Moments of every estimate; also counts resketches."""
    calls = []
    resketch = cls.resketch

    def counted(self, *args):
        calls.append(args)
        return resketch(self, *args)

    monkeypatch.setattr(cls, "resketch", counted)
    monkeypatch.setattr(moments, "Moments", cls)
    r = run()
    monkeypatch.undo()
    return (r.value, r.stderr, r.n_applications), len(calls)


# the same operators and seeds on main (whole probes): value, stderr, applications
MAIN_DENSE = {(0.005, 4): (225.91011019643474, 0.5338963152602081, 465),
              (0.02, 8): (224.62698998588453, 1.2386425524562348, 64)}


@pytest.mark.parametrize("rtol,block", [(0.005, 4), (0.02, 8)])
def test_dense_pr_equals_whole_probes(monkeypatch, rtol, block):
    G = _dense_spd()
    kw = dict(exact=False, rtol=rtol, block_size=block, random_state=0)
    got, n_re = _estimate(monkeypatch, Moments, lambda: linalg.effective_rank(G, **kw))
    want, n_re_w = _estimate(monkeypatch, WholeProbeMoments,
                             lambda: linalg.effective_rank(G, **kw))
    assert n_re == n_re_w and (n_re >= 1) == (rtol < 0.01)   # the tight one resketches
    assert got[2] == want[2] == MAIN_DENSE[rtol, block][2]
    for a, b, m in zip(got[:2], want[:2], MAIN_DENSE[rtol, block][:2]):
        assert a == pytest.approx(b, rel=1e-10) and a == pytest.approx(m, rel=1e-10)
    # and an estimate of the dense truth (independent: eigenvalues of the matrix)
    lam = torch.linalg.eigvalsh(G.matrix)
    pr = float(lam.sum() ** 2 / (lam**2).sum())
    assert abs(got[0] - pr) < 5 * got[1]


@pytest.mark.parametrize("gram", [False, True])
def test_dense_trace_equals_whole_probes(monkeypatch, gram):
    # gram=True, trace only: quadratic forms of A A* (no images kept, probes dropped at a
    # resketch); gram=False: images kept and carried
    op = DenseOperator(_dense_spd(1).matrix[:, :300] * 2) if gram else _dense_spd(1)
    kw = dict(exact=False, rtol=0.003, block_size=4, random_state=2, gram=gram)
    got, n_re = _estimate(monkeypatch, Moments, lambda: linalg.hutchpp_trace(op, **kw))
    want, _ = _estimate(monkeypatch, WholeProbeMoments, lambda: linalg.hutchpp_trace(op, **kw))
    assert n_re >= 1 and got[2] == want[2]
    assert got[0] == pytest.approx(want[0], rel=1e-12)
    assert got[1] == pytest.approx(want[1], rel=1e-9)
    M = op.matrix @ op.matrix.T if gram else op.matrix
    assert abs(got[0] - float(torch.trace(M))) < 5 * got[1]


@pytest.mark.parametrize("strategy", ["materialized", "matrix_free"])
@pytest.mark.parametrize("rtol", [0.02, 0.003])
def test_gru_collapse_dim_equals_whole_probes(monkeypatch, strategy, rtol):
    # float32 Theta, the scale run's call: equal up to float32 rounding of the probes'
    # reconstruction (measured ~1e-9 on the value, ~1e-7 on the stderr)
    Th = _gru_theta(strategy)
    kw = dict(exact=False, rtol=rtol, block_size=16, random_state=0)
    got, n_re = _estimate(monkeypatch, Moments, lambda: linalg.effective_rank(Th, **kw))
    want, n_re_w = _estimate(monkeypatch, WholeProbeMoments,
                             lambda: linalg.effective_rank(Th, **kw))
    assert n_re == n_re_w >= 1                              # both carry probes over
    assert got[2] == want[2]
    assert got[0] == pytest.approx(want[0], rel=1e-6)
    assert got[1] == pytest.approx(want[1], rel=1e-5)


N, K_PROBES, BLOCK = 1231, 8, 4   # n: a size no other tensor of the session has


class RecordingOperator(LinearOperator):
    """A dense SPD G that accepts ``overwrite`` and, on each application, records the
    live float tensors with a dimension of size N whose memory holds an (N, k) block."""

    self_adjoint = True
    overwrite_probes = True

    def __init__(self, M):
        super().__init__((N,), (N,), M.dtype, "cpu")
        self.M, self.ignore, self.calls = M, set(), []

    def _matmat(self, Q, overwrite=False):
        k = Q.shape[-1]
        live = _big_storages(k * N * Q.element_size()) - self.ignore
        self.calls.append((k, overwrite, Q.untyped_storage().data_ptr(), live))
        Y = self.M @ Q
        return Q.copy_(Y) if overwrite else Y


def _big_storages(nbytes):
    gc.collect()                     # (garbage of earlier tests is not alive)
    found = set()
    for o in gc.get_objects():
        # (type, not isinstance: some torch objects warn when asked for their __class__)
        if (issubclass(type(o), torch.Tensor) and o.is_floating_point() and N in o.shape
                and o.untyped_storage().nbytes() >= nbytes):
            found.add(o.untyped_storage().data_ptr())
    return found


@pytest.mark.parametrize("cls", [Moments, WholeProbeMoments])
def test_probe_application_holds_one_probe_block(cls):
    lam = 1.0 / torch.arange(1, N + 1, dtype=torch.float64)
    op = RecordingOperator(psd_matrix(lam, 4))
    G = SymmetricView(op)
    kr = BlockKrylov(G, BLOCK, check_generator(0)).extend(3)
    m = cls(G, kr, square=True)
    op.ignore = {op.M.untyped_storage().data_ptr(), kr._buf.untyped_storage().data_ptr()}
    op.calls.clear()
    m.add_probes(K_PROBES, check_generator(1))
    ((k, overwrite, ptr, live),) = op.calls
    assert k == K_PROBES
    # at the application: the probe block is the only (n, k) block alive
    assert live == {ptr}
    held = _big_storages(N * K_PROBES * 8) - op.ignore
    if cls is Moments:
        assert overwrite
        # after it: the images took the probes' memory, the probes are int8 signs
        ((S, C, Y),) = m._blocks
        assert held == {ptr} == {Y.untyped_storage().data_ptr()}
        assert S.dtype == torch.int8 and C.shape == (kr.dim, K_PROBES)
        # the rebuilt probes are the deflated ones: (I - QQ^T) s, images G z'
        Q = kr.basis()
        Z = S.double() - Q @ (Q.T @ S.double())
        torch.testing.assert_close(m._Z, Z, rtol=0, atol=1e-12)
        torch.testing.assert_close(Y, op.M @ Z, rtol=0, atol=1e-12)
    else:   # whole probes: probes and images, two blocks (what the check is there for)
        assert not overwrite and len(held) == 2


@pytest.mark.parametrize("shape", [(5,), (70000, 3), (1000, 32)])
def test_int8_signs_equal_float_signs(shape):
    # the signs Moments keeps are the probes it would have drawn in G's dtype
    S = rademacher(shape, check_generator(5), torch.int8, "cpu")
    Z = rademacher(shape, check_generator(5), torch.float32, "cpu")
    assert S.dtype == torch.int8 and set(S.unique().tolist()) == {-1, 1}
    assert torch.equal(S.to(torch.float32), Z)
