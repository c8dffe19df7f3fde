"""make_dataset (one task -> make_task, several -> make_multitask) and data recipes."""

import numpy as np
import pytest

from kpflow_sk.datasets import (
    dataset_from_recipe,
    default_rule_inputs,
    make_dataset,
    make_multitask,
    make_recipe,
    make_task,
)

SHORT = dict(stimulus_steps=2, memory_steps=2, response_steps=2)


def _same(a, b):
    assert a.task_names == b.task_names
    for key in ("X", "y", "mask", "task_ids"):
        np.testing.assert_array_equal(a[key], b[key])


@pytest.mark.parametrize("tasks", ["memory_pro", ["memory_pro"], ("memory_pro",)])
@pytest.mark.parametrize("rule_inputs", ["auto", None])
def test_one_task_is_make_task(tasks, rule_inputs):
    _same(make_dataset(tasks, 6, rule_inputs=rule_inputs, random_state=3, **SHORT),
          make_task("memory_pro", 6, random_state=3, **SHORT))


@pytest.mark.parametrize("rule_inputs, expect", [("auto", "onehot"), ("onehot", "onehot"),
                                                 ("context", "context"), (None, None)])
def test_several_tasks_are_make_multitask(rule_inputs, expect):
    names = ["memory_pro", "delay_anti"]
    _same(make_dataset(names, 8, rule_inputs=rule_inputs, random_state=1, **SHORT),
          make_multitask(names, 8, rule_inputs=expect, random_state=1, **SHORT))


def test_one_task_with_explicit_rule_inputs_is_a_composition():
    b = make_dataset(["memory_pro"], 4, rule_inputs="onehot", random_state=0, **SHORT)
    _same(b, make_multitask(["memory_pro"], 4, rule_inputs="onehot", random_state=0, **SHORT))
    assert b.X.shape[2] == make_task("memory_pro", 1, **SHORT).X.shape[2] + 1  # a rule input


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="rule_inputs must be 'auto' or one of"):
        make_dataset("memory_pro", 4, rule_inputs="tonic")
    with pytest.raises(ValueError, match="unknown parameter"):
        make_dataset(["memory_pro", "delay_pro"], 4, bogus=1)


def test_recipe_round_trip_and_held_out_seed():
    r = make_recipe(["memory_pro", "delay_pro"], 8, 5, task_params=SHORT)
    assert r == {"tasks": ["memory_pro", "delay_pro"], "rule_inputs": "context",
                 "task_params": SHORT, "n_samples": 8, "random_state": 5}
    _same(dataset_from_recipe(r),
          make_multitask(["memory_pro", "delay_pro"], 8, rule_inputs="context", random_state=5,
                         **SHORT))
    held_out = dataset_from_recipe(r, n_samples=4, random_state=6)
    _same(held_out, make_multitask(["memory_pro", "delay_pro"], 4, rule_inputs="context",
                                   random_state=6, **SHORT))
    # one task: no rule inputs whatever is asked
    assert make_recipe(["flipflop"], 4, 0, rule_inputs="onehot")["rule_inputs"] is None


def test_default_rule_inputs():
    assert default_rule_inputs(["memory_pro", "memory_anti"]) == "context"
    assert default_rule_inputs(["memory_pro", "flipflop"]) == "onehot"
    assert default_rule_inputs(["memory_pro"]) == "onehot"


def test_shared_task_params_keep_what_the_new_tasks_take():
    from kpflow_sk.datasets import get_task, shared_task_params

    params = {"memory_steps": 5, "stimulus_steps": 3, "context_steps": 4, "bogus": 1}
    assert shared_task_params(params, ["memory_anti"]) == {"memory_steps": 5,
                                                           "stimulus_steps": 3}
    both = shared_task_params(params, ["memory_anti", "delay_pro"])
    assert both == {k: v for k, v in params.items() if k != "bogus"}
    assert set(shared_task_params(params, ["flipflop"])) <= set(get_task("flipflop").defaults)
    make_dataset(["memory_anti", "delay_pro"], 4, random_state=0, **both)  # all accepted
