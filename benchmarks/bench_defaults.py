"""Evidence for the estimators' training defaults (results in benchmarks/README_defaults.md).

For each (learning_rate, batch_size) candidate and each of the package's own tasks, trains a
``RecurrentRegressor`` GRU for a fixed epoch budget with early stopping *off*
(``n_iter_no_change`` = the budget) in chunks of ``--every`` epochs (``warm_start``), and
after every chunk records the training loss curve and the held-out ``score_task`` (fresh
trials, another seed). The stopping rule (``tol``, ``n_iter_no_change``) depends only on the
loss curve, so the epoch at which each candidate rule would have stopped is replayed from the
recorded curve, and the held-out score at that epoch read off (rounded up to a chunk).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_defaults.py --out benchmarks/results_defaults.json

Keep it small on a shared machine: one torch thread, short runs, few configurations.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings

import numpy as np
import torch

from kpflow_sk.datasets import make_multitask, make_task, score_task
from kpflow_sk.estimators import RecurrentRegressor

FOURTASK = ["memory_pro", "memory_anti", "delay_pro", "delay_anti"]

#: name -> (factory(n, seed) -> Bunch, n_train)
TASKS = {
    "fourtask": (lambda n, s: make_multitask(FOURTASK, n, rule_inputs="context",
                                             random_state=s), 512),
    "memory_pro": (lambda n, s: make_task("memory_pro", n, random_state=s), 256),
    "delay_anti": (lambda n, s: make_task("delay_anti", n, random_state=s), 256),
    "flipflop": (lambda n, s: make_task("flipflop", n, random_state=s), 256),
    "fdgo": (lambda n, s: make_task("fdgo", n, random_state=s), 256),
    "reactanti": (lambda n, s: make_task("reactanti", n, random_state=s), 256),
}

#: (learning_rate, batch_size): the old MLPRegressor-like default, the CLI's, two between
CONFIGS = [(1e-3, 200), (1e-2, 32), (3e-3, 64), (1e-2, 64)]

#: stopping rules replayed on the loss curves: (tol, n_iter_no_change)
RULES = [(1e-4, 10), (1e-4, 30), (1e-5, 30), (0.0, 50)]


def stop_epoch(curve, tol, n_iter_no_change):
    """The epoch at which the estimator's rule (loss > best - tol for more than
    ``n_iter_no_change`` epochs in a row) stops, or None when it runs the whole curve."""
    best, count = np.inf, 0
    for i, loss in enumerate(curve, start=1):
        count = count + 1 if loss > best - tol else 0
        best = min(best, loss)
        if count > n_iter_no_change:
            return i
    return None


def task_scores(est, bunch):
    pred = est.predict(bunch.X)
    return {t: score_task(t, pred, bunch) for t in bunch.task_names}


def run_one(task, lr, bs, *, epochs, every, hidden, seed):
    factory, n = TASKS[task]
    train, test = factory(n, seed), factory(200, seed + 1)
    est = RecurrentRegressor(cell="gru", hidden_size=hidden, learning_rate=lr, batch_size=bs,
                             max_iter=every, n_iter_no_change=epochs, warm_start=True,
                             random_state=seed, n_threads=1)
    scores, seconds = {}, 0.0
    for _ in range(epochs // every):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(train.X, train.y, mask=train.mask)
        seconds += time.perf_counter() - t0
        scores[est.n_iter_] = task_scores(est, test)
    curve = [float(v) for v in est.loss_curve_]
    rules = {}
    for tol, nic in RULES:
        e = stop_epoch(curve, tol, nic)
        at = epochs if e is None else min(epochs, every * int(np.ceil(e / every)))
        rules[f"tol={tol:g},n_iter_no_change={nic}"] = {
            "stop_epoch": e, "score_at_stop": scores[at]}
    return {"task": task, "learning_rate": lr, "batch_size": bs, "n_train": n,
            "epochs": epochs, "seconds": seconds, "loss_curve": curve,
            "heldout_scores": scores, "rules": rules}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--configs", default=None, help="lr:bs,lr:bs,... (default: CONFIGS)")
    ap.add_argument("--out", default=None, help="JSON file for all records")
    args = ap.parse_args()
    torch.set_num_threads(1)
    configs = CONFIGS if args.configs is None else [
        (float(a), int(b)) for a, b in (c.split(":") for c in args.configs.split(","))]
    load = os.getloadavg()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}, 1 thread, load average at start {load[0]:.2f}", flush=True)
    records = []
    for task in args.tasks.split(","):
        for lr, bs in configs:
            r = run_one(task, lr, bs, epochs=args.epochs, every=args.every,
                        hidden=args.hidden, seed=args.seed)
            records.append(r)
            final = r["heldout_scores"][args.epochs]
            print(json.dumps({"task": task, "lr": lr, "bs": bs, "s": round(r["seconds"], 1),
                              "final_loss": round(r["loss_curve"][-1], 5),
                              "heldout": {k: {t: round(v, 3) for t, v in s.items()}
                                          for k, s in r["heldout_scores"].items()},
                              "final": final,
                              "stops": {k: v["stop_epoch"] for k, v in r["rules"].items()}}),
                  flush=True)
            if args.out:
                with open(args.out, "w") as f:
                    json.dump({"load_at_start": load, "records": records}, f, indent=1)
    print(f"# load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
