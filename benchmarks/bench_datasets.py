"""Benchmark: 10,000 trials of any task in <= 1 s, the 20-task Yang mix of 10,000 in <= 5 s.

Usage::

    python benchmarks/bench_datasets.py [--n-samples 10000] [--budget 1.0] [--mix-budget 5.0]
                                        [--repeats 3] [--tasks fdgo delaydm1 ...]

Prints the load average (before and after: on a shared machine the wall clock mostly measures
the other jobs, so the CPU time of this process is printed too), one line per task (best
wall-clock and CPU time of ``--repeats`` runs of ``make_task``, the slowest repeat's wall clock
and its system time, the size of ``X + y + mask``, the budget and PASS/FAIL on the best wall
clock), one line for ``make_multitask`` of the 20 Yang et al. tasks, and a summary. Exits with
status 1 when anything is over budget.

``--json PATH`` also writes the numbers to PATH, but only when the 1-minute load average was at
most ``--max-load`` (default 1.5) both before and after the run: numbers taken on a busy shared
machine are not results (the script then prints why and writes nothing).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time

import numpy as np

from kpflow_sk.datasets import get_task, list_tasks, make_multitask, make_task


def _loadavg():
    try:
        return os.getloadavg()
    except OSError:
        return None


def _load(avg):
    return "load average unavailable" if avg is None else "load average %.2f %.2f %.2f" % avg


def best_of(make, repeats):
    """Timings of ``make(seed)`` over seeds 0..repeats-1, and the MB of ``X + y + mask``.

    Returns the best wall-clock and CPU seconds, the slowest repeat's wall-clock seconds and
    that repeat's system (kernel) seconds: a slow repeat with a large system time was paying
    page faults, not computing (see README_datasets.md).
    """
    wall, cpu, worst, worst_sys, size = np.inf, np.inf, -np.inf, 0.0, 0.0
    for seed in range(repeats):
        gc.collect()
        w0, c0, s0 = time.perf_counter(), time.process_time(), os.times().system
        b = make(seed)
        w = time.perf_counter() - w0
        wall = min(wall, w)
        cpu = min(cpu, time.process_time() - c0)
        if w > worst:
            worst, worst_sys = w, os.times().system - s0
        size = (b.X.nbytes + b.y.nbytes + b.mask.nbytes) / 1e6
        del b
    return wall, cpu, worst, worst_sys, size


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=10_000)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per task")
    parser.add_argument("--mix-budget", type=float, default=5.0,
                        help="seconds for the 20-task Yang mix")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tasks", nargs="*", default=None, help="default: every task")
    parser.add_argument("--json", default=None, metavar="PATH",
                        help="write the results here (only if the load stayed <= --max-load)")
    parser.add_argument("--max-load", type=float, default=1.5)
    args = parser.parse_args(argv)
    n = args.n_samples

    load_before = _loadavg()
    print(f"# {_load(load_before)} on {os.cpu_count()} CPUs (before)")
    print(f"# make_task(name, {n}) per task and make_multitask(<20 Yang tasks>, {n}), best of "
          f"{args.repeats}; budgets {args.budget:g} s per task, {args.mix_budget:g} s for the mix")
    print(f"# python {platform.python_version()}, numpy {np.__version__}, "
          f"{platform.machine()}, {platform.processor() or 'unknown cpu'}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    print(f"{'task':20s} {'family':20s} {'wall s':>8s} {'cpu s':>8s} {'worst s':>8s} "
          f"{'its sys':>8s} {'MB':>8s} {'budget s':>8s}  result")
    rows, failed = [], []

    def report(name, family, make, budget):
        wall, cpu, worst, worst_sys, size = best_of(make, args.repeats)
        ok = wall <= budget
        failed.extend([] if ok else [name])
        rows.append({"task": name, "family": family, "wall_s": round(wall, 4),
                     "cpu_s": round(cpu, 4), "worst_wall_s": round(worst, 4),
                     "worst_sys_s": round(worst_sys, 4), "MB": round(size, 1),
                     "budget_s": budget, "met": bool(ok)})
        print(f"{name:20s} {family:20s} {wall:8.3f} {cpu:8.3f} {worst:8.3f} {worst_sys:8.3f} "
              f"{size:8.1f} {budget:8.2f}  {'PASS (met)' if ok else 'FAIL (missed)'}",
              flush=True)

    names = args.tasks or list_tasks()
    for name in names:
        report(name, get_task(name).family,
               lambda s, name=name: make_task(name, n, random_state=s), args.budget)
    yang = list_tasks("yang19")
    report("yang19 mix (20)", "multitask",
           lambda s: make_multitask(yang, n, random_state=s), args.mix_budget)
    load_after = _loadavg()
    print(f"# {_load(load_after)} (after)")
    total = len(names) + 1
    print(f"summary: {total - len(failed)}/{total} under budget"
          + (f"; FAIL: {', '.join(failed)}" if failed else ""))
    if args.json:
        loads = [a[0] for a in (load_before, load_after) if a is not None]
        if len(loads) < 2 or max(loads) > args.max_load:
            print(f"# not writing {args.json}: 1-minute load average "
                  f"{', '.join(f'{v:.2f}' for v in loads) or 'unavailable'} (before, after) is "
                  f"above --max-load {args.max_load:g}; rerun on an idle machine")
        else:
            with open(args.json, "w") as fh:
                json.dump({"n_samples": n, "repeats": args.repeats, "load_before": load_before,
                           "load_after": load_after, "cpus": os.cpu_count(),
                           "numpy": np.__version__, "python": platform.python_version(),
                           "rows": rows, "failed": failed}, fh, indent=1)
            print(f"# wrote {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
