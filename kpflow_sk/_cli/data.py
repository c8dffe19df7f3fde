"""Data recipes: what a command trains or analyses on, regenerated from a few fields.

A recipe is a plain dict saved next to a model, so that ``analyze`` can draw fresh
(held-out) trials of the tasks the model was trained on::

    {"tasks": ["memory_pro", ...], "rule_inputs": "context", "task_params": {},
     "n_samples": 256, "random_state": 0}
"""

from __future__ import annotations

import numpy as np

__all__ = ["make_recipe", "make_data", "analysis_subset", "default_rule_inputs"]


def default_rule_inputs(tasks):
    """The KPFlow paper's context encoding for its four-task family, one-hot otherwise."""
    from kpflow_sk.datasets import get_task

    if len(tasks) > 1 and all(get_task(t).family == "kpflow" for t in tasks):
        return "context"
    return "onehot"


def make_recipe(tasks, n_samples, random_state, *, rule_inputs=None, task_params=None):
    tasks = list(tasks)
    if len(tasks) > 1 and rule_inputs is None:
        rule_inputs = default_rule_inputs(tasks)
    return {"tasks": tasks, "rule_inputs": rule_inputs if len(tasks) > 1 else None,
            "task_params": dict(task_params or {}), "n_samples": int(n_samples),
            "random_state": random_state}


def make_data(recipe, n_samples=None, random_state=None):
    """Trials of the recipe's task(s): a Bunch from ``make_task`` or ``make_multitask``.

    ``n_samples`` / ``random_state`` override the recipe's (held-out data: another seed).
    """
    from kpflow_sk.datasets import make_multitask, make_task

    n = int(recipe["n_samples"] if n_samples is None else n_samples)
    seed = recipe.get("random_state") if random_state is None else random_state
    params = recipe.get("task_params") or {}
    tasks = recipe["tasks"]
    if len(tasks) == 1:
        return make_task(tasks[0], n, random_state=seed, **params)
    return make_multitask(tasks, n, rule_inputs=recipe.get("rule_inputs") or "onehot",
                          random_state=seed, **params)


def analysis_subset(bunch, n_trials):
    """Indices of up to ``n_trials`` trials, as balanced over tasks as possible (sorted)."""
    ids = np.asarray(bunch.task_ids)
    labels = np.unique(ids)
    per = max(1, n_trials // len(labels))
    idx = np.concatenate([np.flatnonzero(ids == k)[:per] for k in labels])
    return np.sort(idx[:max(n_trials, len(labels))])
