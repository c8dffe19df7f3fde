"""The figures of kpflow_sk.plotting hold the expected artists and labels (headless Agg)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from kpflow_sk.plotting import (  # noqa: E402
    plot_spectra,
    plot_task_alignment,
    plot_training,
    plot_trajectories_pca,
    plot_trial,
)


def _history(n=5, time=True):
    rows = []
    for k in range(n):
        rec = {"iteration": 10 * k, "loss": 1.0 / (k + 1), "train_loss": 1.2 / (k + 1),
               "rank_K": 8.0 - k, "rank_P": 4.0, "rank_Theta": 6.0 - k,
               "collapse_dim": 6.0 - k, "task_alignment": [[1.0, 0.5], [0.5, 1.0]]}
        if time:
            rec.update(rank_K_time=3.0, rank_P_time=2.0, rank_Theta_time=2.5)
        rows.append(rec)
    return rows


def _legend(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


@pytest.fixture(autouse=True)
def _no_pyplot_figures():
    before = set(plt.get_fignums())
    yield
    # the figures are pyplot-free: nothing is registered globally
    assert set(plt.get_fignums()) == before


# ---- plot_training -------------------------------------------------------------------

def test_training_panels_lines_and_labels():
    fig = plot_training(_history())
    assert isinstance(fig, Figure)
    ax_loss, ax_rank, ax_time = fig.axes       # whole space and time axis: separate panels
    assert len(ax_loss.lines) == 2 and ax_loss.get_yscale() == "log"
    assert ax_loss.get_xlabel() == "iteration" and ax_loss.get_ylabel() == "loss"
    assert _legend(ax_loss) == ["loss", "train loss"]
    assert len(ax_rank.lines) == 3 and len(ax_time.lines) == 3
    assert ax_rank.get_ylabel() == "effective rank (pr)"
    assert _legend(ax_rank) == ["K", "P P*", "Θ"] == _legend(ax_time)
    assert "collapse dim 2" in ax_rank.get_title()
    assert "convention 'default'" in ax_rank.get_title() and "Whole space" in ax_rank.get_title()
    assert "Time axis" in ax_time.get_title() and "convention 'default'" in ax_time.get_title()
    np.testing.assert_allclose(ax_rank.lines[0].get_ydata(), [8, 7, 6, 5, 4])
    h = _history()
    np.testing.assert_allclose(ax_time.lines[0].get_ydata(), [r["rank_K_time"] for r in h])


def test_training_dataframe_unsorted_and_without_time_ranks():
    pd = pytest.importorskip("pandas")
    rows = _history(4, time=False)[::-1]
    for r in rows:
        r.pop("train_loss")
    fig = plot_training(pd.DataFrame(rows))
    ax_loss, ax_rank = fig.axes
    assert len(ax_loss.lines) == 1 and len(ax_rank.lines) == 3
    np.testing.assert_array_equal(ax_rank.lines[0].get_xdata(), [0, 10, 20, 30])
    assert _legend(ax_rank) == ["K", "P P*", "Θ"]


def test_training_draws_into_given_axes():
    fig = Figure()
    axes = fig.subplots(1, 3)
    assert plot_training(_history(), ax=axes) is fig
    assert len(axes[1].lines) == 3 and len(axes[2].lines) == 3
    with pytest.raises(ValueError, match="sequence of 3 Axes"):
        plot_training(_history(), ax=axes[:1])


def test_training_bad_history():
    with pytest.raises(ValueError, match="empty"):
        plot_training([])
    rows = _history()
    for r in rows:
        r.pop("rank_P")
    with pytest.raises(ValueError, match="rank_P"):
        plot_training(rows)


# ---- plot_spectra --------------------------------------------------------------------

def test_spectra_lines_log_scale_and_normalization():
    spectra = {"K": np.array([4.0, 2.0, 1.0, -1e-12]), "PPt": np.array([3.0, 1.0]),
               "Theta": [10.0, 1.0, 0.1]}
    fig = plot_spectra(spectra)
    (ax,) = fig.axes
    assert len(ax.lines) == 3 and ax.get_yscale() == "log"
    assert _legend(ax) == ["K", "P P*", "Θ"]
    assert ax.get_xlabel().startswith("eigenvalue index") and "lambda_1" in ax.get_ylabel()
    k = ax.lines[0].get_ydata()
    np.testing.assert_allclose(k[:3], [1.0, 0.5, 0.25])
    assert np.isnan(k[3])  # a negative rounding eigenvalue is left out on a log axis
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2, 3, 4])
    raw = plot_spectra(spectra, normalize=False).axes[0]
    np.testing.assert_allclose(raw.lines[2].get_ydata(), [10.0, 1.0, 0.1])


def test_spectra_bad_input():
    with pytest.raises(ValueError, match="non-empty dict"):
        plot_spectra({})
    with pytest.raises(ValueError, match="'K'.*1-D"):
        plot_spectra({"K": np.ones((2, 2))})
    with pytest.raises(ValueError, match="'P'.*1-D"):
        plot_spectra({"P": []})


# ---- plot_task_alignment -------------------------------------------------------------

def test_task_alignment_heatmap():
    M = np.array([[1.0, 0.3, -0.8], [0.3, 1.0, np.nan], [-0.8, np.nan, 1.0]])
    names = ["memory_pro", "anti", "go"]
    fig = plot_task_alignment(M, names)
    ax, cbar_ax = fig.axes
    (im,) = ax.images
    assert im.get_clim() == (-1.0, 1.0)
    assert im.get_cmap().name == "RdBu_r"
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert [t.get_text() for t in ax.get_yticklabels()] == names
    texts = sorted(t.get_text() for t in ax.texts)
    assert len(texts) == 7  # NaN cells stay blank
    assert texts.count("1.00") == 3 and "-0.80" in texts and "0.30" in texts
    assert ax.get_title() == "Task alignment"
    assert "cos" in cbar_ax.get_ylabel()
    assert len(plot_task_alignment(M, names, annotate=False).axes[0].texts) == 0


def test_task_alignment_bad_input():
    with pytest.raises(ValueError, match="3 names but matrix is 2 x 2"):
        plot_task_alignment(np.eye(2), ["a", "b", "c"])
    with pytest.raises(ValueError, match="square"):
        plot_task_alignment(np.ones((2, 3)), ["a", "b"])
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        plot_task_alignment(2 * np.eye(2), ["a", "b"])


# ---- plot_trajectories_pca -----------------------------------------------------------

@pytest.fixture
def trajectories():
    rng = np.random.default_rng(0)
    return rng.normal(size=(6, 7, 5))


def test_pca_categorical_conditions(trajectories):
    Z = trajectories
    fig = plot_trajectories_pca(Z, np.array([0, 1, 2, 0, 1, 2]),
                                labels=["go", "anti", "dm"], condition_name="task")
    (ax,) = fig.axes
    assert len(ax.lines) == 6 and len(ax.collections) == 2
    assert len(ax.collections[0].get_offsets()) == 6  # one start point per trial
    assert len(ax.collections[1].get_offsets()) == 6  # one end point per trial
    assert _legend(ax) == ["go", "anti", "dm", "start", "end"]
    assert ax.get_legend().get_title().get_text() == "task"
    assert ax.get_xlabel().startswith("PC1 (") and ax.get_ylabel().startswith("PC2 (")
    assert ax.lines[0].get_color() == ax.lines[3].get_color() != ax.lines[1].get_color()
    # the lines are the trials in the PCA basis fit on all time points
    Y = PCA(2).fit(Z.reshape(-1, 5)).transform(Z[2])
    np.testing.assert_allclose(ax.lines[2].get_xydata(), Y, atol=1e-10)
    np.testing.assert_allclose(ax.collections[0].get_offsets()[2], Y[0], atol=1e-10)
    np.testing.assert_allclose(ax.collections[1].get_offsets()[2], Y[-1], atol=1e-10)


def test_pca_period_markers(trajectories):
    Z = trajectories
    T = Z.shape[1]
    fig = plot_trajectories_pca(Z, periods={"late": (T - 2, T), "early": (1, 3),
                                            "whole": (0, T)})
    (ax,) = fig.axes
    # start, end, and one marker set per period that starts inside the trial (not at 0)
    assert len(ax.collections) == 4
    assert _legend(ax) == ["start", "end", "early starts", "late starts"]
    Y = PCA(2).fit(Z.reshape(-1, 5)).transform(Z.reshape(-1, 5)).reshape(Z.shape[0], T, 2)
    np.testing.assert_allclose(ax.collections[2].get_offsets(), Y[:, 1], atol=1e-10)
    np.testing.assert_allclose(ax.collections[3].get_offsets(), Y[:, T - 2], atol=1e-10)
    colors = {tuple(c.get_facecolor()[0]) for c in ax.collections[2:]}
    assert len(colors) == 2


def test_pca_continuous_conditions_and_no_conditions(trajectories):
    angles = np.linspace(0, 2 * np.pi, 6, endpoint=False)
    fig = plot_trajectories_pca(trajectories, angles, vmin=0, vmax=2 * np.pi,
                                condition_name="angle")
    ax, cbar_ax = fig.axes
    assert cbar_ax.get_ylabel() == "angle"
    assert _legend(ax) == ["start", "end"]
    assert len({tuple(line.get_color()) for line in ax.lines}) == 6
    fig = plot_trajectories_pca(trajectories)
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 6


def test_pca_three_components_and_torch_input(trajectories):
    torch = pytest.importorskip("torch")
    fig = plot_trajectories_pca(torch.tensor(trajectories, requires_grad=True),
                                ["a", "b"] * 3, n_components=3)
    (ax,) = fig.axes
    assert ax.name == "3d" and ax.get_zlabel().startswith("PC3 (")
    assert len(ax.lines) == 6 and _legend(ax) == ["a", "b", "start", "end"]


def test_pca_bad_input(trajectories):
    with pytest.raises(ValueError, match="Z must have shape"):
        plot_trajectories_pca(trajectories[0])
    with pytest.raises(ValueError, match=r"conditions must have shape \(6,\)"):
        plot_trajectories_pca(trajectories, [0, 1])
    with pytest.raises(ValueError, match="n_components must be 2 or 3"):
        plot_trajectories_pca(trajectories, n_components=4)
    with pytest.raises(ValueError, match="3-D axes"):
        plot_trajectories_pca(trajectories, n_components=3, ax=Figure().subplots())
    with pytest.raises(ValueError, match="labels has no entry"):
        plot_trajectories_pca(trajectories, [0, 1, 2] * 2, labels=["a", "b"])


# ---- plot_trial ----------------------------------------------------------------------

def test_plot_trial_lives_in_plotting():
    import kpflow_sk.datasets as datasets
    from kpflow_sk.datasets import make_task

    # datasets (the bottom layer) no longer draws: its old name points here
    with pytest.raises(AttributeError, match="moved to kpflow_sk.plotting.plot_trial"):
        datasets.plot_trial
    fig = plot_trial(make_task("flipflop", 2, random_state=0), 1)
    assert isinstance(fig, Figure) and len(fig.axes) >= 1  # its layout is datasets' business


def test_training_rank_scale():
    rows = _history()
    assert plot_training(rows).axes[1].get_yscale() == "linear"  # ranks within x20
    for r in rows:
        r["rank_P"] = 300.0
    assert plot_training(rows).axes[1].get_yscale() == "log"
    assert plot_training(rows, rank_scale="linear").axes[1].get_yscale() == "linear"
    with pytest.raises(ValueError, match="rank_scale"):
        plot_training(rows, rank_scale="symlog")
