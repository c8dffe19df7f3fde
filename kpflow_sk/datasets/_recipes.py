"""One data set from one or several tasks (:func:`make_dataset`), and data recipes: the few
fields a saved model keeps so that its data can be drawn again (:func:`make_recipe`,
:func:`dataset_from_recipe`).

A recipe is a plain, JSON-ready dict::

    {"tasks": ["memory_pro", ...], "rule_inputs": "context", "task_params": {},
     "n_samples": 256, "random_state": 0}
"""

from __future__ import annotations

from ._base import get_task, make_task
from ._multitask import RULE_INPUTS, make_multitask

__all__ = ["make_dataset", "make_recipe", "dataset_from_recipe", "default_rule_inputs",
           "shared_task_params"]


def make_dataset(tasks, n_samples, *, rule_inputs="auto", random_state=None, **params):
    """Trials of one task, or of several composed on one layout.

    One task (a name, or a sequence of one name) with ``rule_inputs`` ``"auto"`` or None is
    :func:`make_task`; anything else is :func:`make_multitask`.

    Parameters
    ----------
    tasks : str or sequence of str
        Registered task name(s).
    n_samples : int
        Trials in all (split evenly over the tasks).
    rule_inputs : {"auto", "onehot", "context", None}, default="auto"
        Task identity inputs of a composition; ``"auto"``: none for one task, ``"onehot"``
        (:func:`make_multitask`'s default) for several.
    random_state : int, RandomState or None
    **params
        Task generator parameters (and :func:`make_multitask`'s, e.g. ``context_steps``).

    Returns
    -------
    sklearn.utils.Bunch
        ``X`` of shape (n_samples, n_timesteps, n_inputs), ``y``, ``mask``, ``task_ids``,
        ``task_names``, ``periods``, ``meta``.

    Examples
    --------
    >>> from kpflow_sk.datasets import make_dataset
    >>> make_dataset("flipflop", 4, random_state=0).task_names
    ['flipflop']
    >>> b = make_dataset(["memory_pro", "memory_anti"], 4, random_state=0, memory_steps=2)
    >>> b.task_names, b.X.shape[2]  # 3 task inputs + one rule input per task
    (['memory_pro', 'memory_anti'], 5)
    """
    names = [tasks] if isinstance(tasks, str) else list(tasks)
    if rule_inputs != "auto" and rule_inputs not in RULE_INPUTS:
        raise ValueError(f"rule_inputs must be 'auto' or one of {RULE_INPUTS}, got "
                         f"{rule_inputs!r}")
    if len(names) == 1 and rule_inputs in ("auto", None):
        return make_task(names[0], n_samples, random_state=random_state, **params)
    return make_multitask(names, n_samples,
                          rule_inputs="onehot" if rule_inputs == "auto" else rule_inputs,
                          random_state=random_state, **params)


def default_rule_inputs(tasks):
    """The KPFlow paper's context encoding for its four-task family, one-hot otherwise.

    >>> default_rule_inputs(["memory_pro", "delay_anti"]), default_rule_inputs(["flipflop"])
    ('context', 'onehot')
    """
    tasks = list(tasks)
    if len(tasks) > 1 and all(get_task(t).family == "kpflow" for t in tasks):
        return "context"
    return "onehot"


def make_recipe(tasks, n_samples, random_state, *, rule_inputs=None, task_params=None):
    """The recipe of ``n_samples`` trials of ``tasks`` (see the module docstring).

    Parameters
    ----------
    tasks : sequence of str
    n_samples : int
    random_state : int or None
    rule_inputs : {"onehot", "context"} or None
        Of several tasks (None: :func:`default_rule_inputs`); always None for one task.
    task_params : dict, optional
        Generator parameters.

    Returns
    -------
    dict
        ``tasks``, ``rule_inputs``, ``task_params``, ``n_samples``, ``random_state``.

    Examples
    --------
    >>> make_recipe(["memory_pro", "memory_anti"], 64, 0)["rule_inputs"]
    'context'
    """
    tasks = list(tasks)
    if len(tasks) > 1 and rule_inputs is None:
        rule_inputs = default_rule_inputs(tasks)
    return {"tasks": tasks, "rule_inputs": rule_inputs if len(tasks) > 1 else None,
            "task_params": dict(task_params or {}), "n_samples": int(n_samples),
            "random_state": random_state}


def dataset_from_recipe(recipe, n_samples=None, random_state=None):
    """The trials a recipe describes (:func:`make_dataset`).

    ``n_samples`` / ``random_state`` override the recipe's (held-out data: another seed). A
    recipe of several tasks without ``rule_inputs`` composes them with one-hot rules.

    Examples
    --------
    >>> r = make_recipe(["flipflop"], 8, 0)
    >>> dataset_from_recipe(r).X.shape[0], dataset_from_recipe(r, n_samples=3).X.shape[0]
    (8, 3)
    """
    n = int(recipe["n_samples"] if n_samples is None else n_samples)
    seed = recipe.get("random_state") if random_state is None else random_state
    return make_dataset(recipe["tasks"], n, rule_inputs=recipe.get("rule_inputs") or "auto",
                        random_state=seed, **(recipe.get("task_params") or {}))


def shared_task_params(task_params, tasks):
    """The entries of ``task_params`` that the generators of ``tasks`` take (and, for several
    tasks, the composition's ``context_steps``), e.g. the epoch lengths of a memory_pro recipe
    when drawing memory_anti trials.

    >>> shared_task_params({"memory_steps": 5, "amplitude": 2.0}, ["flipflop"])
    {}
    >>> shared_task_params({"memory_steps": 5, "context_steps": 4}, ["memory_anti"])
    {'memory_steps': 5}
    """
    valid = set().union(*(get_task(t).defaults for t in tasks))
    if len(list(tasks)) > 1:
        valid.add("context_steps")
    return {k: v for k, v in (task_params or {}).items() if k in valid}
