"""plot_trial returns a Figure with inputs, targets, mask and periods."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from kpflow_sk.datasets import make_multitask, make_task  # noqa: E402
from kpflow_sk.plotting import plot_trial  # noqa: E402


def _period_labels(fig):
    return [t.get_text() for t in fig.axes[3].get_yticklabels()]


def test_single_task_figure(tmp_path):
    b = make_task("ready_set_go", 3, random_state=0)
    fig = plot_trial(b, 1, y_pred=np.zeros_like(b.y))
    assert isinstance(fig, Figure)
    ax_in, ax_out, ax_mask, ax_periods = fig.axes
    assert len(ax_in.lines) == 3 and len(ax_out.lines) == 2
    # One row per period, in order of onset.
    assert _period_labels(fig) == ["fixation", "ready", "interval", "set", "response"]
    fig.savefig(tmp_path / "trial.png")
    assert (tmp_path / "trial.png").stat().st_size > 0


def test_multitask_figure_skips_absent_periods():
    b = make_multitask(["memory_pro", "sine_wave"], 4, rule_inputs="context", random_state=0)
    i = int(np.flatnonzero(b.task_ids == 1)[0])
    fig = plot_trial(b, i)
    assert _period_labels(fig) == ["context", "response"]
    assert "sine_wave" in fig._suptitle.get_text()


def test_bad_index():
    b = make_task("flipflop", 2, random_state=0)
    with pytest.raises(ValueError, match="out of range"):
        plot_trial(b, 5)
