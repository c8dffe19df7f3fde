"""channel_names: the named input / output channels of every family and of the composer."""

import pytest

from kpflow_sk.datasets import channel_names, list_tasks, make_multitask, make_task
from kpflow_sk.plotting import plot_trial

FOUR = ["memory_pro", "memory_anti", "delay_pro", "delay_anti"]


def test_four_task_context_encoding():
    b = make_multitask(FOUR, 8, rule_inputs="context", random_state=0)
    ins, outs = channel_names(b)
    assert ins == ["fixation", "cos θ", "sin θ"] + [f"rule: {t}" for t in FOUR]
    assert outs == ["fixation", "cos θ", "sin θ"]
    # the names describe the (noisy) data: a rule channel is on in its own task's context
    # period only, fixation is on before the response
    assert b.X[:, :30, 0].mean() > 0.8
    assert b.X[b.task_ids == 1, :30, ins.index("rule: memory_anti")].mean() > 0.8
    assert b.X[b.task_ids != 1, :30, ins.index("rule: memory_anti")].mean() < 0.2


@pytest.mark.parametrize("name", list_tasks())
def test_every_task_has_one_name_per_channel(name):
    b = make_task(name, 2, random_state=0)
    ins, outs = channel_names(b)
    assert len(ins) == b.X.shape[2] and len(outs) == b.y.shape[2]
    assert len(set(ins)) == len(ins) and len(set(outs)) == len(outs)


def test_yang_rings_and_rules():
    b = make_task("fdgo", 2, random_state=0)
    ins, outs = channel_names(b)
    assert ins[0] == "fixation" and ins[1] == "ring 1 · 0" and ins[33] == "ring 2 · 0"
    assert ins[65] == "rule: fdgo" and outs[:2] == ["fixation", "ring · 0"]
    assert b.X[:, :, 65].mean() > 0.9   # fdgo's own rule unit is on


def test_plot_trial_uses_the_names():
    b = make_multitask(FOUR, 8, rule_inputs="context", random_state=0)
    fig = plot_trial(b, 0, y_pred=b.y)
    ax_in, ax_out = fig.axes[:2]
    assert [t.get_text() for t in ax_in.get_legend().get_texts()] == channel_names(b)[0]
    labels = [t.get_text() for t in ax_out.get_legend().get_texts()]
    assert labels == ["fixation", "cos θ", "sin θ", "target (solid)", "prediction (dashed)"]
