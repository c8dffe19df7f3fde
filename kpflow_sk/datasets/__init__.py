"""The dataset zoo: neuroscience tasks as ``sklearn.utils.Bunch`` objects.

>>> from kpflow_sk.datasets import list_tasks, make_task, make_multitask, score_task
>>> b = make_task("flipflop", 16, random_state=0)
>>> b.X.shape, b.y.shape, b.mask.shape
((16, 90, 3), (16, 90, 3), (16, 90))

Every task is one module that calls :func:`register_task` at import; this package imports
them all. See ``datasets/*.md`` for one card per task family.
"""

from . import _context, _flipflop, _kpflow, _rsg, _sine, _yang  # noqa: F401  (register tasks)
from ._base import circular_distance, get_task, list_tasks, make_task
from ._chance import chance_level, chance_output, task_info
from ._channels import channel_names
from ._frozen import FROZEN, load_frozen, write_frozen
from ._multitask import make_multitask
from ._neurogym import from_neurogym
from ._recipes import (
    dataset_from_recipe,
    default_rule_inputs,
    make_dataset,
    make_recipe,
    shared_task_params,
)
from ._registry import TASKS, TaskSpec, register_task
from ._scoring import score_task, select_task
from ._weights import loss_mask
from ._yang_modes import make_psychometric, make_test_batch, psychometric_grid

__all__ = [
    "list_tasks",
    "get_task",
    "task_info",
    "chance_level",
    "chance_output",
    "make_task",
    "make_multitask",
    "make_dataset",
    "make_recipe",
    "dataset_from_recipe",
    "default_rule_inputs",
    "shared_task_params",
    "make_test_batch",
    "make_psychometric",
    "psychometric_grid",
    "score_task",
    "loss_mask",
    "select_task",
    "load_frozen",
    "write_frozen",
    "FROZEN",
    "from_neurogym",
    "channel_names",
    "circular_distance",
    "TASKS",
    "TaskSpec",
    "register_task",
]


def __getattr__(name):
    # plot_trial moved up to the plotting layer (datasets imports nothing above it)
    if name == "plot_trial":
        raise AttributeError("kpflow_sk.datasets.plot_trial moved to "
                             "kpflow_sk.plotting.plot_trial")
    raise AttributeError(f"module 'kpflow_sk.datasets' has no attribute {name!r}")
