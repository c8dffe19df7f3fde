"""The three effective-rank conventions (docs/conventions.md s. 3) against dense float64 math.

Everything here is independent of kpflow_sk.operators and kpflow_sk.linalg: K, P, Theta are
dense matrices from autograd Jacobians (tests/kp_reference.py), the mean compression, the
participation ratio, var95 and the figure's var95-of-squares are written out below.
"""

import numpy as np
import pytest
import torch
from kp_models import float64_params
from kp_reference import dense_J, dense_P

from kpflow_sk import KPDecomposition
from kpflow_sk.analysis import figure_rank
from kpflow_sk.cells import get_cell

B, T, H, D_IN = 3, 6, 4, 2
CELLS = ["rnn", "leaky_rnn", "gru", "node"]
AXES = {"trial": 0, "time": 1, "hidden": 2}


def _setup(cell_name, seed=0):
    g = torch.Generator().manual_seed(seed)
    cell = get_cell(cell_name, D_IN, H, solver="rk4")
    params = float64_params(cell, g, init_scale=1.3, biases_only=False)
    X = torch.randn(B, T, D_IN, generator=g, dtype=torch.float64)
    Dec = KPDecomposition(cell, params, X, random_state=0)
    return cell, params, X, Dec


def _dense_operators(cell, params, Dec):
    """Dense K, P, P P*, Theta, J on the flat (B T H) trajectory space."""
    P = dense_P(cell, params, Dec.X, None)
    J = dense_J(cell, params, Dec.trajectory.Z_prev, Dec.X, None)
    K = J @ J.T
    return {"K": K, "P": P, "PPt": P @ P.T, "Theta": P @ K @ P.T, "J": J}


def _gram(A):
    return A @ A.T


def _mean_compress(G, axis):
    """E^T G E / M: inputs constant along the other axes, outputs averaged over them."""
    G6 = G.reshape(B, T, H, B, T, H)
    other = [a for a in range(3) if a != axis]
    M = int(np.prod([(B, T, H)[a] for a in other]))
    return G6.sum(dim=tuple(other) + tuple(3 + a for a in other)) / M


def _partial_trace(G, axis):
    letters = "btj"
    src = list(letters)
    dst = list(letters)
    src[axis], dst[axis] = "x", "y"
    return torch.einsum(f"{''.join(src)}{''.join(dst)}->xy", G.reshape(B, T, H, B, T, H))


def _eig(G):
    return np.sort(np.clip(torch.linalg.eigvalsh((G + G.T) / 2).numpy(), 0, None))[::-1]


def _pr(lam):
    return lam.sum() ** 2 / (lam**2).sum()


def _var95(lam):
    c = np.cumsum(lam) / lam.sum()
    r = int(np.argmax(c >= 0.95))  # 0-based index of the first c_r >= 0.95
    prev = c[r - 1] if r > 0 else 0.0
    return r + (0.95 - prev) / (c[r] - prev)


def _figure(lam, ncomp):
    top = lam[:ncomp]
    v = top**2 / np.sum(top**2)
    c = np.cumsum(v)
    i1 = next(i for i in range(len(c)) if c[i] > 0.95) + 1  # 1-based
    prev = c[i1 - 2] if i1 > 1 else 0.0
    return (i1 - 1) + (0.95 - prev) / (c[i1 - 1] - prev)


def _close(a, b):
    assert abs(a - b) <= 1e-8 * max(1.0, abs(b)), (a, b)


@pytest.mark.parametrize("cell_name", CELLS)
def test_default_convention_matches_dense(cell_name):
    cell, params, X, Dec = _setup(cell_name)
    ops = _dense_operators(cell, params, Dec)
    measured = {"K": ops["K"], "P": ops["PPt"], "Theta": ops["Theta"]}
    for name, G in measured.items():
        lam = _eig(G)
        _close(Dec.effective_rank(name), _pr(lam))
        _close(Dec.effective_rank(name, method="var95", convention="default"), _var95(lam))
        for axis, a in AXES.items():
            for reduce, red in (("mean", _mean_compress), ("trace", _partial_trace)):
                la = _eig(red(G, a))
                _close(Dec.effective_rank(name, axis=axis, reduce=reduce), _pr(la))
                _close(Dec.effective_rank(name, axis=axis, reduce=reduce, method="var95"),
                       _var95(la))


@pytest.mark.parametrize("cell_name", CELLS)
def test_reference_convention_matches_dense(cell_name):
    cell, params, X, Dec = _setup(cell_name)
    ops = _dense_operators(cell, params, Dec)
    for name in ("K", "P", "PPt", "Theta", "J"):
        G = _gram(ops[name])  # the Gram of every operator: K^2, P P*, (P P*)^2, Theta^2, K
        _close(Dec.effective_rank(name, convention="reference"), _pr(_eig(G)))
        for axis, a in AXES.items():
            la = _eig(_mean_compress(G, a))
            _close(Dec.effective_rank(name, axis=axis, convention="reference"), _pr(la))
            np.testing.assert_allclose(
                Dec.spectrum(name, k=3, axis=axis, convention="reference"), la[:3],
                rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("cell_name", CELLS)
def test_figure_convention_matches_dense(cell_name):
    cell, params, X, Dec = _setup(cell_name)
    ops = _dense_operators(cell, params, Dec)
    for name in ("K", "P", "Theta"):
        lam = _eig(_mean_compress(_gram(ops[name]), AXES["time"]))
        # default ncomp (20 for K, 60 for P) exceeds T here: all T eigenvalues
        _close(Dec.effective_rank(name, axis="time", convention="figure"), _figure(lam, T))
        for ncomp in (1, 3, "all"):
            n = T if ncomp == "all" else ncomp
            _close(Dec.effective_rank(name, axis="time", convention="figure", ncomp=ncomp),
                   _figure(lam, n))
        np.testing.assert_allclose(Dec.spectrum(name, k=T, axis="time", convention="figure"),
                                   lam, rtol=1e-8, atol=1e-12)


def test_figure_rank_formula():
    assert figure_rank([1.0, 0.0, 0.0]) == pytest.approx(0.95)
    # squared: eigenvalues (2, 1) give v = (0.8, 0.2), c = (0.8, 1.0): 1 + 0.15 / 0.2
    assert figure_rank([2.0, 1.0]) == pytest.approx(1.75)
    # normalised over the top ncomp only
    assert figure_rank([2.0, 1.0, 1.0], ncomp=2) == pytest.approx(1.75)
    assert figure_rank([0.0, 0.0]) == 0.0


def test_table_names_every_convention():
    _, _, _, Dec = _setup("gru")
    rows = Dec.table(names=("K", "P"), convention="all")
    convs = {r["convention"] for r in rows}
    assert convs == {"default", "reference", "figure"}
    fig = [r for r in rows if r["convention"] == "figure"]
    assert [(r["operator"], r["axis"], r["method"]) for r in fig] == [
        ("K", "time", "figure"), ("P", "time", "figure")]
    assert [r["ncomp"] for r in fig] == [T, T]
    for r in rows:
        expected = Dec.effective_rank(
            r["operator"], axis=None if r["axis"] == "all" else r["axis"],
            reduce=r["reduce"] or ("trace" if r["convention"] == "default" else None),
            method=r["method"] if r["convention"] == "default" else None,
            convention=r["convention"], ncomp=r["ncomp"])
        assert r["rank"] == expected


def test_convention_bad_input():
    _, _, _, Dec = _setup("rnn")
    with pytest.raises(ValueError, match="unknown convention 'paper'"):
        Dec.effective_rank("K", axis="time", convention="paper")
    with pytest.raises(ValueError, match="reduce='mean'"):
        Dec.effective_rank("K", axis="time", reduce="trace", convention="reference")
    with pytest.raises(ValueError, match="method='figure'"):
        Dec.effective_rank("K", axis="time", method="pr", convention="figure")
    with pytest.raises(ValueError, match="pass axis='time'"):
        Dec.effective_rank("K", convention="figure")
    with pytest.raises(ValueError, match="ncomp must be"):
        Dec.effective_rank("K", axis="time", convention="figure", ncomp=0)
    with pytest.raises(ValueError, match="ncomp is a parameter of convention='figure'"):
        Dec.effective_rank("K", axis="time", ncomp=5)
    with pytest.raises(ValueError, match="k must be an int"):
        Dec.spectrum("K", k=T + 1, axis="time", convention="figure")
    with pytest.raises(ValueError, match="unknown operator 'Q'"):
        Dec.effective_rank("Q", axis="time", convention="figure")


def test_figure_convention_reproduces_poster_init_panel():
    """Poster, left panel: tanh RNN at PyTorch's default nn.RNN initialisation, noise-free
    Memory-Pro, T = 90: time-axis figure rank of K (and P K P*) about 0.96, of P P* about 82."""
    from kpflow_sk.datasets import make_task

    bunch = make_task("memory_pro", 20, noise=0.0, random_state=0)
    X = torch.as_tensor(bunch.X, dtype=torch.float64)
    assert X.shape == (20, 90, 3)
    torch.manual_seed(0)
    rnn = torch.nn.RNN(3, 64, nonlinearity="tanh", batch_first=True).double()
    params = {"weight_ih": rnn.weight_ih_l0.detach(), "weight_hh": rnn.weight_hh_l0.detach(),
              "bias_ih": rnn.bias_ih_l0.detach(), "bias_hh": rnn.bias_hh_l0.detach()}
    cell = get_cell("rnn", 3, 64)
    Dec = KPDecomposition(cell, params, X, random_state=0)
    # the cell is nn.RNN's map on the same weights
    torch.testing.assert_close(Dec.Z, rnn(X)[0], rtol=1e-12, atol=1e-12)
    k = Dec.effective_rank("K", axis="time", convention="figure", ncomp="all")
    pp = Dec.effective_rank("P", axis="time", convention="figure", ncomp="all")
    theta = Dec.effective_rank("Theta", axis="time", convention="figure", ncomp="all")
    assert 0.93 <= k <= 0.99
    assert 0.93 <= theta <= 0.99
    assert 78 <= pp <= 86
