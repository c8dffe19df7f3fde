"""Held-out Memory-Pro accuracy of a ``node`` estimator: continuous vs discrete adjoint.

Issue 16's acceptance: a ``node`` estimator trained with ``adjoint="continuous"``
(torchdiffeq's ``odeint_adjoint``) reaches the held-out accuracy of the discrete path within
2 points. Both modes train the same estimator from the same seed on the same trials with
the same hyperparameters on torchdiffeq's solver (``ode_options`` given, so both run
``torchdiffeq.odeint`` forward and compute the same forward values); they differ only in the
gradient:

- ``discrete``   ``adjoint="discrete"``: exact gradient of the computed map (each step's
  solver stages recomputed in the backward pass);
- ``continuous`` ``adjoint="continuous"``: the adjoint ODE solved backward per observation
  interval (an approximation of that gradient, to the solver's accuracy).

Accuracy is the task's own scorer (:func:`kpflow_sk.datasets.score_task`: both answer
components within pi/10 at the last response step) on fresh held-out trials, recorded every
``--every`` epochs. Each mode runs in its own subprocess (``--jobs 2`` runs them side by
side, so both see the same machine load). Fit times on a shared machine are only comparable
within one run; the load average (``os.getloadavg``) is printed at start and end.

Usage::

    python benchmarks/bench_node_memory_pro.py [--hidden 64] [--lr 1e-2] [--batch 32]
        [--n-train 512] [--n-test 512] [--epochs 20] [--every 5] [--solver rk4]
        [--step-size STEP] [--dt 0.2] [--memory-steps N] [--jobs 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

MODES = ("discrete", "continuous")
TASK = "memory_pro"


def node_cell(dt):
    """The ``node`` cell class with observation interval ``dt`` (the estimator's ``cell`` may
    be a :class:`~kpflow_sk.cells.Cell` subclass; it has no ``dt`` parameter of its own).

    ``dz/dt = -z + W tanh(z) + U x + b`` has time constant 1, so at ``dt=1`` (the cell's
    default) the state forgets a stimulus within a few steps, and training sits on the
    "answer 0" plateau of Memory-Pro (loss 0.111, accuracy 0; see README_node.md). ``dt=0.2``
    gives a time constant of 5 steps: the same dynamics as the ``leaky_rnn`` recipe's
    ``alpha=0.2``, which learns Memory-Pro in a few epochs.
    """
    from kpflow_sk.cells import NeuralODECell

    if dt == 1.0:
        return "node"

    class Node(NeuralODECell):
        def __init__(self, input_size, hidden_size, dt=dt, **options):
            super().__init__(input_size, hidden_size, dt=dt, **options)

    Node.__name__ = Node.__qualname__ = f"NeuralODECell_dt{dt:g}"
    return Node


def _task_params(args):
    return {k: v for k, v in (("stimulus_steps", args.stimulus_steps),
                              ("memory_steps", args.memory_steps),
                              ("response_steps", args.response_steps)) if v is not None}


def make_estimator(mode, args):
    """The estimator of one mode (everything but ``adjoint`` is shared)."""
    from kpflow_sk.estimators import RecurrentRegressor

    options = {} if args.step_size is None else {"step_size": args.step_size}
    return RecurrentRegressor(
        cell=node_cell(args.dt), hidden_size=args.hidden, ode_solver=args.solver,
        ode_options=options, adjoint=mode, learning_rate=args.lr, batch_size=args.batch,
        max_iter=args.every, n_iter_no_change=10**9, warm_start=True,
        random_state=args.seed, n_threads=1, init_scale=args.init_scale,
        grad_clip=args.grad_clip, kp_n_trials=4)


def train(mode, args):
    """Train one mode; return its record (held-out accuracy curve, fit seconds, loss)."""
    import warnings

    import torch

    from kpflow_sk.datasets import make_task, score_task

    torch.set_num_threads(1)
    params = _task_params(args)
    train_set = make_task(TASK, args.n_train, random_state=args.seed, **params)
    test_set = make_task(TASK, args.n_test, random_state=args.seed + 1, **params)
    est = make_estimator(mode, args)
    seconds, curve = 0.0, {}
    for _ in range(args.epochs // args.every):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            # max_iter is one chunk of epochs: ConvergenceWarning every chunk by design
            warnings.simplefilter("ignore")
            est.fit(train_set.X, train_set.y, mask=train_set.mask)
        seconds += time.perf_counter() - t0
        acc = score_task(TASK, est.predict(test_set.X), test_set)
        curve[est.n_iter_] = acc
        if args.verbose:
            print(f"# {mode} epoch {est.n_iter_} loss {est.loss_curve_[-1]:.5f} held-out "
                  f"{acc:.4f} fit {seconds:.0f}s", file=sys.stderr, flush=True)
    return {"mode": mode, "heldout_accuracy": curve[est.n_iter_], "curve": curve,
            "fit_seconds": seconds, "final_loss": float(est.loss_curve_[-1]),
            "epochs": est.n_iter_, "T": int(train_set.X.shape[1])}


def _child_cmd(mode, args):
    cmd = [sys.executable, __file__, "--mode", mode]
    for k, v in vars(args).items():
        if k in ("mode", "json", "jobs") or v is None or v is False:
            continue
        cmd += [f"--{k.replace('_', '-')}"] + ([] if v is True else [str(v)])
    return cmd


def run(args):
    """Both modes (subprocesses, ``args.jobs`` at a time); return the records."""
    procs, rows = {}, {}
    pending = list(args.modes.split(","))
    while pending or procs:
        while pending and len(procs) < args.jobs:
            mode = pending.pop(0)
            procs[mode] = subprocess.Popen(_child_cmd(mode, args), stdout=subprocess.PIPE,
                                           text=True)
        mode = next(iter(procs))
        out, _ = procs.pop(mode).communicate()
        rows[mode] = json.loads(out.strip().splitlines()[-1])
    return [rows[m] for m in args.modes.split(",")]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--n-train", type=int, default=512)
    ap.add_argument("--n-test", type=int, default=512)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--every", type=int, default=5)
    ap.add_argument("--solver", default="rk4", help="a fixed-grid torchdiffeq solver")
    ap.add_argument("--step-size", type=float, default=None,
                    help="solver step (default: one step per observation interval)")
    ap.add_argument("--dt", type=float, default=0.2,
                    help="observation interval of the node cell (time constant = 1/dt steps)")
    ap.add_argument("--init-scale", type=float, default=1.0)
    ap.add_argument("--grad-clip", type=float, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stimulus-steps", type=int, default=None)
    ap.add_argument("--memory-steps", type=int, default=None)
    ap.add_argument("--response-steps", type=int, default=None)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--jobs", type=int, default=1, help="modes trained at once")
    ap.add_argument("--verbose", action="store_true", help="progress on stderr")
    ap.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args(argv)
    if args.epochs % args.every:
        ap.error("--epochs must be a multiple of --every")
    if args.mode:
        print(json.dumps(train(args.mode, args)))
        return None
    from kpflow_sk.datasets import chance_level

    load0 = os.getloadavg()
    rows = run(args)
    load1 = os.getloadavg()
    chance = chance_level(TASK, **_task_params(args))
    print(f"node on {TASK} (T={rows[0]['T']}, task params {_task_params(args) or 'default'}): "
          f"H={args.hidden} dt={args.dt} solver={args.solver} step_size={args.step_size} Adam "
          f"lr={args.lr} batch={args.batch} n_train={args.n_train} n_test={args.n_test} "
          f"epochs={args.epochs} seed={args.seed} init_scale={args.init_scale} "
          f"grad_clip={args.grad_clip}, 1 torch thread, jobs={args.jobs}")
    print(f"load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} at start, "
          f"{load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} at end, on {os.cpu_count()} CPUs; "
          f"chance level (datasets.chance_level) {chance:.3f}")
    epochs = sorted(rows[0]["curve"], key=int)
    print(f"{'mode':<12} {'held-out acc':>12} {'fit s':>8} {'final loss':>11}   "
          f"held-out acc at epochs {', '.join(str(e) for e in epochs)}")
    for r in rows:
        curve = " ".join(f"{r['curve'][e]:.3f}" for e in epochs)
        print(f"{r['mode']:<12} {r['heldout_accuracy']:>12.4f} {r['fit_seconds']:>8.1f} "
              f"{r['final_loss']:>11.5f}   {curve}")
    if len(rows) == 2:
        gap = 100 * abs(rows[0]["heldout_accuracy"] - rows[1]["heldout_accuracy"])
        print(f"|{rows[0]['mode']} - {rows[1]['mode']}| = {gap:.1f} points")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "load_start": load0, "load_end": load1,
                       "chance": chance, "rows": rows}, f, indent=1)
    return rows


if __name__ == "__main__":
    main()
