"""Benchmark: generating 10,000 trials of each registered task takes under 2 s.

Usage::

    python benchmarks/bench_datasets.py [--n-samples 10000] [--budget 2.0] [--repeats 3]

Prints one line per task (best wall-clock time of ``--repeats`` runs of ``make_task``, the
array size, PASS/FAIL) and a summary; exits with status 1 when any task fails.
"""

from __future__ import annotations

import argparse
import gc
import platform
import sys
import time

import numpy as np

from kpflow_sk.datasets import get_task, list_tasks, make_task


def time_task(name, n_samples, repeats):
    """Best wall-clock seconds of ``make_task(name, n_samples)`` and the Bunch's size in MB."""
    best, size = np.inf, 0.0
    for seed in range(repeats):
        gc.collect()
        start = time.perf_counter()
        b = make_task(name, n_samples, random_state=seed)
        best = min(best, time.perf_counter() - start)
        size = (b.X.nbytes + b.y.nbytes + b.mask.nbytes) / 1e6
        del b
    return best, size


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=10_000)
    parser.add_argument("--budget", type=float, default=2.0, help="seconds per task")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    print(f"# make_task(name, {args.n_samples}) per registered task, best of {args.repeats}; "
          f"budget {args.budget:g} s")
    print(f"# python {platform.python_version()}, numpy {np.__version__}, "
          f"{platform.machine()}, {platform.processor() or 'unknown cpu'}")
    failed = []
    total = 0.0
    for name in list_tasks():
        seconds, size = time_task(name, args.n_samples, args.repeats)
        total += seconds
        ok = seconds < args.budget
        if not ok:
            failed.append(name)
        family = get_task(name).family
        print(f"{name:20s} {family:20s} {seconds:7.3f} s  {size:8.1f} MB  "
              f"{'PASS' if ok else 'FAIL'}")
    n = len(list_tasks())
    print(f"summary: {n - len(failed)}/{n} tasks under {args.budget:g} s; total {total:.2f} s"
          + (f"; FAIL: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
