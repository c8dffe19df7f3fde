"""Benchmark: 10,000 trials of any task in <= 1 s, the 20-task Yang mix of 10,000 in <= 5 s.

Usage::

    python benchmarks/bench_datasets.py [--n-samples 10000] [--budget 1.0] [--mix-budget 5.0]
                                        [--repeats 3] [--tasks fdgo delaydm1 ...]

Prints the load average (before and after: on a shared machine the wall clock mostly measures
the other jobs, so the CPU time of this process is printed too), one line per task (best
wall-clock and CPU time of ``--repeats`` runs of ``make_task``, the size of ``X + y + mask``,
PASS/FAIL on the wall clock), one line for ``make_multitask`` of the 20 Yang et al. tasks, and
a summary. Exits with status 1 when anything is over budget.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time

import numpy as np

from kpflow_sk.datasets import get_task, list_tasks, make_multitask, make_task


def _load():
    try:
        return "load average %.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return "load average unavailable"


def best_of(make, repeats):
    """Best wall-clock and CPU seconds of ``make(seed)`` over seeds 0..repeats-1, and MB."""
    wall, cpu, size = np.inf, np.inf, 0.0
    for seed in range(repeats):
        gc.collect()
        w0, c0 = time.perf_counter(), time.process_time()
        b = make(seed)
        wall = min(wall, time.perf_counter() - w0)
        cpu = min(cpu, time.process_time() - c0)
        size = (b.X.nbytes + b.y.nbytes + b.mask.nbytes) / 1e6
        del b
    return wall, cpu, size


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=10_000)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per task")
    parser.add_argument("--mix-budget", type=float, default=5.0,
                        help="seconds for the 20-task Yang mix")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tasks", nargs="*", default=None, help="default: every task")
    args = parser.parse_args(argv)
    n = args.n_samples

    print(f"# {_load()} on {os.cpu_count()} CPUs (before)")
    print(f"# make_task(name, {n}) per task and make_multitask(<20 Yang tasks>, {n}), best of "
          f"{args.repeats}; budgets {args.budget:g} s per task, {args.mix_budget:g} s for the mix")
    print(f"# python {platform.python_version()}, numpy {np.__version__}, "
          f"{platform.machine()}, {platform.processor() or 'unknown cpu'}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    failed = []
    names = args.tasks or list_tasks()
    for name in names:
        wall, cpu, size = best_of(lambda s, name=name: make_task(name, n, random_state=s),
                                  args.repeats)
        ok = wall <= args.budget
        failed += [] if ok else [name]
        print(f"{name:20s} {get_task(name).family:20s} wall {wall:7.3f} s  cpu {cpu:7.3f} s  "
              f"{size:8.1f} MB  {'PASS' if ok else 'FAIL'}")
    yang = list_tasks("yang19")
    wall, cpu, size = best_of(lambda s: make_multitask(yang, n, random_state=s), args.repeats)
    ok = wall <= args.mix_budget
    failed += [] if ok else ["yang19 mix"]
    print(f"{'yang19 mix (20)':20s} {'multitask':20s} wall {wall:7.3f} s  cpu {cpu:7.3f} s  "
          f"{size:8.1f} MB  {'PASS' if ok else 'FAIL'}")
    print(f"# {_load()} (after)")
    total = len(names) + 1
    print(f"summary: {total - len(failed)}/{total} under budget"
          + (f"; FAIL: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
