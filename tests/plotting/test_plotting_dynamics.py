"""Figures of the dynamics results: fixed points on the PCA plot, eigenvalues, exponents."""

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from kpflow_sk.cells import get_cell, rollout
from kpflow_sk.dynamics import find_fixed_points
from kpflow_sk.plotting import (
    plot_eigenvalues,
    plot_exponents_over_training,
    plot_fixed_points,
)

F64 = torch.float64


@pytest.fixture(scope="module")
def bistable():
    """tanh RNN z' = tanh(W z), W = diag(2, 0.5, 0.3): two stable points and a saddle."""
    cell = get_cell("rnn", 1, 3)
    p = {"weight_hh": torch.diag(torch.tensor([2.0, 0.5, 0.3], dtype=F64)),
         "weight_ih": torch.tensor([[1.0], [0.5], [-0.5]], dtype=F64),
         "bias_ih": torch.zeros(3, dtype=F64), "bias_hh": torch.zeros(3, dtype=F64)}
    X = torch.zeros(6, 30, 1, dtype=F64)
    X[:, 0, 0] = torch.linspace(-2, 2, 6, dtype=F64)
    Z, _ = rollout(cell, p, X)
    starts = torch.cat([Z.reshape(-1, 3), torch.tensor([[0.0, 0.1, 0.0]], dtype=F64)])
    return Z, find_fixed_points(cell, p, [0.0], starts)


def test_fixed_points_on_pca_plot(bistable):
    Z, fps = bistable
    assert fps.counts()["stable"] == 2 and fps.counts()["saddle"] == 1
    fig = plot_fixed_points(Z, fps, conditions=np.arange(6))
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "stable (2)" in texts and "saddle (1)" in texts
    # the fixed points are drawn where PCA puts them: the stable points are the trajectories'
    # end points (the trials converge to them)
    # collections: trial starts, trial ends (plot_trajectories_pca), stable, saddle points
    scat = ax.collections[2].get_offsets()                 # stable points, filled
    ends = np.array([ln.get_xydata()[-1] for ln in ax.lines[:6]])
    d = np.linalg.norm(ends[:, None] - np.asarray(scat)[None], axis=-1).min(1)
    assert d.max() < 1e-3
    assert ax.collections[2].get_facecolors()[0][3] > 0    # filled
    assert len(ax.collections[3].get_facecolors()) == 0     # open (no face)
    fig3 = plot_fixed_points(Z, fps, n_components=3)
    assert fig3.axes[0].name == "3d"


def test_eigenvalue_plot_unit_circle_and_imaginary_axis(bistable):
    _, fps = bistable
    fig = plot_eigenvalues(fps)
    ax = fig.axes[0]
    circle = ax.lines[0].get_xydata()
    np.testing.assert_allclose(np.hypot(*circle.T), 1.0, atol=1e-12)
    pts = np.concatenate([c.get_offsets() for c in ax.collections])
    np.testing.assert_allclose(np.sort(pts[:, 0]), np.sort(fps.eigenvalues.real.ravel()))
    cell = get_cell("node", 1, 3, solver="euler")
    p = cell.init_params(torch.Generator().manual_seed(0), dtype=F64, init_scale=0.5)
    flow = find_fixed_points(cell, p, [0.0], torch.randn(4, 3, dtype=F64))
    ax2 = plot_eigenvalues(flow).axes[0]
    assert "Re λ = 0" in [t.get_text() for t in ax2.get_legend().get_texts()]
    with pytest.raises(ValueError, match="index out of range"):
        plot_eigenvalues(fps, index=7)
    with pytest.raises(ValueError, match="FixedPoints"):
        plot_eigenvalues(object())


def test_exponents_over_training():
    it = np.array([5, 10, 15])
    E = np.array([[0.1, -0.2, -0.5], [0.0, -0.3, -0.6], [-0.1, -0.4, -0.9]])
    fig = plot_exponents_over_training(it, E, k=2, loss=[1.0, 0.5, 0.1])
    ax = fig.axes[0]
    assert len([ln for ln in ax.lines if ln.get_label().startswith("λ")]) == 2
    np.testing.assert_allclose(ax.lines[0].get_ydata(), E[:, 0])
    with pytest.raises(ValueError, match="n_checkpoints"):
        plot_exponents_over_training(it, E[:2])
    with pytest.raises(ValueError, match="k must be"):
        plot_exponents_over_training(it, E, k=0)
