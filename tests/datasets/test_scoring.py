"""score_task argument handling (per-task measures are tested with each task)."""

import pytest
import torch

from kpflow_sk.datasets import make_multitask, make_task, score_task


def test_unknown_task_lists_registered_names():
    b = make_task("flipflop", 2, random_state=0)
    with pytest.raises(ValueError, match=r"unknown task 'nope'; valid task names"):
        score_task("nope", b.y, b)


def test_task_not_in_bunch_lists_bunch_tasks():
    b = make_task("flipflop", 2, random_state=0)
    with pytest.raises(ValueError, match=r"'sine_wave' is not in this Bunch; its tasks are "
                                         r"\['flipflop'\]"):
        score_task("sine_wave", b.y, b)


def test_shape_mismatch():
    b = make_task("flipflop", 2, random_state=0)
    with pytest.raises(ValueError, match="y_pred has shape"):
        score_task("flipflop", b.y[:, :-1], b)


def test_torch_tensors_are_accepted():
    b = make_multitask(["memory_pro", "flipflop"], 6, random_state=0)
    pred = torch.tensor(b.y, requires_grad=True)
    assert score_task("memory_pro", pred, b) == 1.0
    assert score_task("flipflop", pred, b) == 1.0
