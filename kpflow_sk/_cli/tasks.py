"""``kpflow-sk tasks list|show``: the task zoo (:mod:`kpflow_sk.datasets`)."""

from __future__ import annotations

import textwrap

import numpy as np

from kpflow_sk._cli.args import family_name, task_name
from kpflow_sk._cli.text import format_table

__all__ = ["add_parser"]


def _list(args, out):
    from kpflow_sk.datasets import get_task, list_tasks

    rows = [[name, get_task(name).family, get_task(name).description]
            for name in list_tasks(args.family)]
    print(format_table(rows, ["task", "family", "description"], indent=""), file=out)
    print(f"\n{len(rows)} tasks. `kpflow-sk tasks show NAME` for details.", file=out)
    return 0


def _show(args, out):
    from kpflow_sk.datasets import get_task, make_task, task_info

    name = args.name
    spec = get_task(name)
    info = task_info(name)
    b = make_task(name, 2, random_state=0)
    n, T, d_in = b.X.shape
    print(f"{spec.name}  ({spec.family} family)", file=out)
    print(f"  {spec.description}", file=out)
    print(f"  source: {spec.source}", file=out)
    print(f"  shapes: X (n, {T}, {d_in}), y (n, {T}, {b.y.shape[2]}), mask (n, {T}) "
          f"with the default parameters", file=out)
    periods = ", ".join(f"{p} [{int(v[0, 0])}, {int(v[0, 1])})" for p, v in b.periods.items()
                        if np.all(v[:, 0] == v[0, 0]) and np.all(v[:, 1] == v[0, 1]))
    if periods:
        print(f"  periods (steps): {periods}", file=out)
    if spec.n_rule_inputs:
        print(f"  rule inputs: the last {spec.n_rule_inputs} input channel(s)", file=out)
    if info["chance"] is not None:
        print(f"  chance level: {info['chance']:.4g} ({info['chance_output']})", file=out)
    for key, label in (("timing", "timing"), ("mask_convention", "loss mask"),
                       ("noise", "input noise")):
        if info[key]:
            print(textwrap.fill(f"{label}: {info[key]}", width=96, initial_indent="  ",
                                subsequent_indent="    "), file=out)
    if spec.defaults:
        print("  parameters (defaults):", file=out)
        print(format_table([[k, v] for k, v in spec.defaults.items()],
                           ["parameter", "default"], indent="    "), file=out)
    return 0


def add_parser(subparsers):
    p = subparsers.add_parser("tasks", help="list the tasks of the dataset zoo, or show one",
                              description="The neuroscience tasks of the dataset zoo.")
    sub = p.add_subparsers(dest="tasks_command", metavar="{list,show}", required=True)
    lst = sub.add_parser("list", help="list the registered tasks")
    lst.add_argument("--family", type=family_name,
                     help="only this family (e.g. kpflow, yang19)")
    lst.set_defaults(run=_list)
    show = sub.add_parser("show", help="describe one task")
    show.add_argument("name", type=task_name, help="task name (see `kpflow-sk tasks list`)")
    show.set_defaults(run=_show)
    return p
