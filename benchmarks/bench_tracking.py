"""Tracking benchmark (issue 12): extra fit time of ``kp_track_every`` on a GRU Memory-Pro fit.

The same ``RecurrentRegressor(cell="gru")`` fit (Memory-Pro, the KPFlow paper's 5000 trials
in shuffled batches of 500, Adam 1e-3, a fixed number of epochs) runs twice in one process
with one torch thread: without tracking (``kp_track_every=0``) and with it
(``kp_track_every=50``: snapshots at epochs 0, 50, ..., each a ``KPDecomposition`` on the
``kp_n_trials = 64`` analysis batch and every field of ``analysis.HISTORY_FIELDS`` at the
accuracy contract's 2%). It prints both wall times and the overhead (target <= 25%), the
time of each measure of one snapshot, and the load average before and after; ``--out``
writes a JSON file only when both load averages are at most 1.5 (else it says why not).

Usage::

    python benchmarks/bench_tracking.py --out benchmarks/results_tracking.json
    python benchmarks/bench_tracking.py --n-samples 1000 --epochs 100   # shorter, not the target
    python benchmarks/bench_tracking.py --epochs 3 --project 200         # components only
    python benchmarks/bench_tracking.py --precision medium               # bfloat16 analysis
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings

import numpy as np
import torch

from kpflow_sk.analysis import RANK_FIELDS, collapse_dim
from kpflow_sk.estimators import RecurrentRegressor

MAX_LOAD = 1.5
TARGET = 0.25


def load():
    return os.getloadavg()[0]


def memory_pro(n, seed=0):
    from kpflow_sk.datasets import make_task

    b = make_task("memory_pro", n, random_state=seed)
    return np.asarray(b.X, dtype=np.float32), np.asarray(b.y, dtype=np.float32)


def fit(X, y, args, track_every):
    est = RecurrentRegressor(cell="gru", hidden_size=args.hidden, batch_size=args.batch_size,
                             learning_rate=1e-3, max_iter=args.epochs, tol=0.0,
                             n_iter_no_change=args.epochs + 1, device="cpu", n_threads=1,
                             random_state=0, kp_track_every=track_every,
                             kp_precision=args.precision)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    return time.perf_counter() - t0, est


def snapshot_parts(est):
    """Seconds of each measure of one snapshot of the fitted network (fresh decomposition)."""
    parts = {}
    t0 = time.perf_counter()
    with torch.enable_grad():
        D = est._analysis_batch_decomposition()
    parts["decomposition"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = collapse_dim(D, return_result=True)
    parts["collapse_dim (= rank_Theta)"] = time.perf_counter() - t0
    parts["collapse_dim_estimate"] = str(res)
    for field, (name, axis, reduce, method, convention) in RANK_FIELDS.items():
        t0 = time.perf_counter()
        r = D.effective_rank(name, axis=axis, reduce=reduce, method=method,
                             convention=convention, return_result=True)
        parts[field] = time.perf_counter() - t0
        if axis is None:
            parts[field + "_estimate"] = str(r)
    t0 = time.perf_counter()
    D.task_alignment()
    parts["task_alignment"] = time.perf_counter() - t0
    return parts


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-samples", type=int, default=5000)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--track-every", type=int, default=50)
    ap.add_argument("--project", type=int, default=None, metavar="EPOCHS",
                    help="skip the tracked fit: time --epochs untracked epochs and one snapshot "
                         "and print the overhead they project for a fit of EPOCHS epochs "
                         "(a projection, not the two-fit measurement)")
    ap.add_argument("--precision", default="highest", choices=("highest", "medium"),
                    help="kp_precision of the analysis (medium: bfloat16 GEMMs in K and P)")
    ap.add_argument("--out", help="write the results here as JSON (only on an idle machine)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    load0 = load()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"load average before: {load0:.2f}", flush=True)
    X, y = memory_pro(args.n_samples)
    fit(X[:args.batch_size], y[:args.batch_size], argparse.Namespace(**{**vars(args),
        "epochs": 1}), 0)  # warm-up: lazy imports, allocator
    t_off, est_off = fit(X, y, args, 0)
    print(f"  [{time.strftime('%H:%M:%S')}] fit without tracking: {t_off:.1f} s "
          f"({t_off / args.epochs:.2f} s/epoch)", flush=True)
    parts = snapshot_parts(est_off)
    snap_s = sum(v for v in parts.values() if isinstance(v, float))
    print(f"  one snapshot of the fitted network: {snap_s:.1f} s", flush=True)
    for k, v in parts.items():
        print(f"    {k:32s} {v:.2f} s" if isinstance(v, float) else f"    {k:32s} {v}")
    if args.project:
        n_proj = args.project // args.track_every + 1   # epochs 0, every, 2 every, ...
        extra = n_proj * snap_s / (args.project * t_off / args.epochs)
        print(f"\nPROJECTION (not the two-fit measurement): {args.project} epochs at "
              f"{t_off / args.epochs:.2f} s/epoch and {n_proj} snapshots of {snap_s:.1f} s "
              f"(this network's, after {args.epochs} epochs): overhead {extra:+.1%} "
              f"(target <= {TARGET:.0%})")
        print(f"load average after: {load():.2f}")
        return 0
    t_on, est_on = fit(X, y, args, args.track_every)
    n_snap = len(est_on.kp_history_)
    extra = t_on / t_off - 1
    print(f"  [{time.strftime('%H:%M:%S')}] fit with kp_track_every={args.track_every}: "
          f"{t_on:.1f} s ({n_snap} snapshots, {(t_on - t_off) / max(n_snap, 1):.1f} s each)")
    for rec in est_on.kp_history_:
        print(f"    epoch {rec['iteration']:4d}: collapse dim {rec['collapse_dim_estimate']}, "
              f"rank K {rec['rank_K']:.4g}, rank P {rec['rank_P']:.4g}")
    load1 = load()
    verdict = "met" if extra <= TARGET else "missed"
    print(f"\nGRU-{args.hidden} Memory-Pro, {args.n_samples} trials, batch {args.batch_size}, "
          f"{args.epochs} epochs, one thread, kp_precision={args.precision!r}:\n"
          f"  without tracking {t_off:.1f} s, with "
          f"kp_track_every={args.track_every} {t_on:.1f} s: overhead {extra:+.1%} "
          f"(target <= {TARGET:.0%}: {verdict})")
    print(f"load average after: {load1:.2f}")
    if args.out:
        if max(load0, load1) > MAX_LOAD:
            print(f"NOT writing {args.out}: load average {max(load0, load1):.2f} > {MAX_LOAD}; "
                  "these timings are not results (rerun on an idle machine)")
        else:
            with open(args.out, "w") as fh:
                json.dump({"load": [load0, load1], "torch": torch.__version__,
                           "args": vars(args), "fit_s_without": t_off, "fit_s_with": t_on,
                           "snapshots": n_snap, "overhead": extra, "snapshot_parts": parts,
                           "history": est_on.kp_history_}, fh, indent=1, default=float)
            print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
