"""The task registry: one ``TaskSpec`` per task name (adding a task is one module)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

__all__ = ["TaskSpec", "TASKS", "register_task"]


@dataclass(frozen=True)
class TaskSpec:
    """Everything the package knows about one task.

    Attributes
    ----------
    name : str
        Registry key, e.g. ``"fdgo"`` or ``"memory_pro"``.
    family : str
        Family name (``"yang19"``, ``"kpflow"``, ``"flipflop"``, ...); tasks of one family share
        an input/output layout.
    generate : callable
        ``generate(n_samples, rng, **params) -> dict`` with keys ``X`` (n, T, d_in) float32,
        ``y`` (n, T, d_out) float32, ``mask`` (n, T) float32, ``periods`` (dict: epoch name ->
        int array (n, 2) of [start, stop) steps) and ``meta`` (dict of per-trial arrays).
        ``rng`` is a ``numpy.random.Generator``. Must be vectorised over trials.
    score : callable
        ``score(y_pred, bunch) -> float``: the source paper's performance measure (fraction of
        trials correct, in [0, 1]) for predictions ``y_pred`` of shape (n, T, d_out).
    n_rule_inputs : int
        Number of trailing input channels of ``X`` that are rule (task-identity) inputs; the
        multi-task composer strips them and adds its own.
    rule_index : int or None
        Which of those ``n_rule_inputs`` channels is this task's own (Yang et al.'s global rule
        layout, kept by ``make_multitask(..., rule_layout="global")``); None if it has none.
    description, source : str
        One line on the task and the paper it comes from.
    defaults : dict
        Default values of the task's keyword parameters.
    """

    name: str
    family: str
    generate: Callable
    score: Callable
    n_rule_inputs: int = 0
    rule_index: int | None = None
    description: str = ""
    source: str = ""
    defaults: dict = field(default_factory=dict)


TASKS: dict[str, TaskSpec] = {}


def register_task(spec: TaskSpec) -> TaskSpec:
    """Add ``spec`` to :data:`TASKS` (a name may be registered once)."""
    if spec.name in TASKS:
        raise ValueError(f"task {spec.name!r} is already registered")
    TASKS[spec.name] = spec
    return spec
