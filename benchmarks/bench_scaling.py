"""Scaling benchmark (issue 6): time and peak memory of the whole-space effective rank of Theta.

For a GRU (3 inputs, random weights, init_scale 1) on B random trials it measures, for each
size H x T:

- ``build_s``: building the analysis (rollout, state linearization: ``KPDecomposition``);
- ``rank_s``: ``D.effective_rank("Theta")`` on the whole trajectory space, ``"pr"`` (this is
  ``collapse_dim_``; randomized Hutch++/block Krylov with the default budget);
- ``peak_GB``: peak resident memory of the process (``ru_maxrss``) and ``extra_GB``, the same
  minus the resident memory after ``import torch`` and the model set-up (so the cost of the
  analysis itself); on CUDA ``peak_gpu_GB`` (``max_memory_allocated``);
- which state-Jacobian strategy the operator core chose (materialized ``(B, T, H, H)`` within
  the 2 GiB budget, matrix-free above it) and how many operator applications were used.

Every size runs in a fresh subprocess so that peak memory is per size. The growth exponents
``time ~ H^a T^b`` (and the same for memory) are fitted by least squares on log-log axes over
the sizes measured. The default grid is H in {64, 256, 1024} x T in {90, 500}, B = 20.

Usage::

    python benchmarks/bench_scaling.py --quick                  # H 64, 256 x T 90, 500
    python benchmarks/bench_scaling.py                           # the full grid (long)
    python benchmarks/bench_scaling.py --sizes 64x90 1024x500 --batch 20 --json out.json
    python benchmarks/bench_scaling.py --device cuda
    python benchmarks/bench_scaling.py --sizes 1024x500 --max-memory-gb 20

``--timeout`` (seconds per size, default 3600) stops a size that runs too long; its row is
reported as timed out and the others still run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FULL = [(H, T) for H in (64, 256, 1024) for T in (90, 500)]
QUICK = [(H, T) for H in (64, 256) for T in (90, 500)]
D_IN = 3
MEMORY_LIMIT_GB = 20.0


def _rss_gb():
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def run_one(H, T, B, device, seed=0, budget=None, strategy="auto"):
    """Measure one size in this process; returns a dict (the row)."""
    sys.path.insert(0, str(ROOT))
    import torch

    from kpflow_sk import KPDecomposition, linalg
    from kpflow_sk.cells import get_cell

    device = torch.device(device)
    cell = get_cell("gru", D_IN, H)
    g = torch.Generator().manual_seed(seed)
    params = {n: v.to(device) for n, v in cell.init_params(g).items()}
    X = torch.randn(B, T, D_IN, generator=g).to(device)
    base = _rss_gb()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    Dec = KPDecomposition(cell, params, X, strategy=strategy, random_state=seed)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    build = time.perf_counter() - t0
    # what KPDecomposition.effective_rank("Theta") runs, keeping linalg's result object
    A = Dec.Theta.PJ
    if math.prod(A.in_shape) < math.prod(A.out_shape):
        A = A.T
    t0 = time.perf_counter()
    res = linalg.effective_rank(A, method="pr", gram=True, n_applications=budget,
                                random_state=seed)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    rank_s = time.perf_counter() - t0
    traj = Dec.trajectory
    peak = _rss_gb()
    row = {"H": H, "T": T, "B": B, "device": str(device), "threads": torch.get_num_threads(),
           "n_params": traj.parameter_space.size, "trajectory_dim": B * T * H,
           "strategy": type(traj.state_linearization(32)).__name__,
           "materialized_would_need_GB": traj.dense_nbytes / 1e9,
           "build_s": build, "rank_s": rank_s, "total_s": build + rank_s,
           "pr_Theta": float(res.value), "applications": int(res.n_applications),
           "exact": bool(res.exact), "peak_GB": peak, "baseline_GB": base,
           "extra_GB": peak - base}
    if device.type == "cuda":
        row["peak_gpu_GB"] = torch.cuda.max_memory_allocated(device) / 1e9
    return row


def fit_exponents(rows, key):
    """Least-squares ``log y = c + a log H + b log T`` over the rows; exponents of the axes
    that vary (None for an axis with a single value)."""
    import numpy as np

    rows = [r for r in rows if r.get(key) and r[key] > 0]
    if len(rows) < 2:
        return {"H": None, "T": None}
    cols, names = [np.ones(len(rows))], []
    for ax in ("H", "T"):
        v = np.log([r[ax] for r in rows])
        if np.ptp(v) > 0:
            cols.append(v)
            names.append(ax)
    if not names:
        return {"H": None, "T": None}
    A = np.stack(cols, 1)
    coef, *_ = np.linalg.lstsq(A, np.log([r[key] for r in rows]), rcond=None)
    out = {"H": None, "T": None}
    out.update({n: float(c) for n, c in zip(names, coef[1:])})
    return out


def print_table(rows):
    hdr = (f"{'H':>5s} {'T':>4s} {'B':>3s} {'n_params':>9s} {'dim BTH':>9s} "
           f"{'A_t':>26s} {'build s':>8s} {'rank s':>8s} {'applic.':>7s} {'pr(Theta)':>9s} "
           f"{'peak GB':>8s} {'extra GB':>8s}")
    print(hdr)
    for r in rows:
        if "error" in r:
            print(f"{r['H']:5d} {r['T']:4d} {r['B']:3d}  {r['error']}")
            continue
        print(f"{r['H']:5d} {r['T']:4d} {r['B']:3d} {r['n_params']:9d} "
              f"{r['trajectory_dim']:9d} {r['strategy']:>26s} {r['build_s']:8.2f} "
              f"{r['rank_s']:8.2f} {r['applications']:7d} {r['pr_Theta']:9.2f} "
              f"{r['peak_GB']:8.2f} {r['extra_GB']:8.2f}")


def parse_size(s):
    try:
        H, T = s.lower().split("x")
        return int(H), int(T)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 256x90 (HxT), got {s!r}") \
            from None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=parse_size, nargs="+", metavar="HxT",
                    help="sizes to run (default: H 64, 256, 1024 x T 90, 500)")
    ap.add_argument("--quick", action="store_true", help="H 64, 256 x T 90, 500 only")
    ap.add_argument("--batch", type=int, default=20, help="trials B (default 20)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--budget", type=int, default=None,
                    help="operator applications of the randomized estimate (default: the "
                         "library default, 400 = what collapse_dim_ uses)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch CPU threads (default: torch's; 1 is steadier on a shared "
                         "machine, where spinning OpenMP threads slow down badly)")
    ap.add_argument("--strategy", default="auto",
                    choices=["auto", "materialized", "matrix_free"],
                    help="state-Jacobian strategy (default: auto, as the estimators)")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per size")
    ap.add_argument("--json", help="write the rows and exponents here")
    ap.add_argument("--max-memory-gb", type=float, default=None,
                    help="cap each size's address space (RLIMIT_AS) at this many GB: a size "
                         "that needs more fails with an out-of-memory error instead of "
                         "swapping or waking the OOM killer (virtual memory is a bit more "
                         "than resident memory, so the cap is conservative)")
    ap.add_argument("--one", type=parse_size, help=argparse.SUPPRESS)  # child mode
    args = ap.parse_args(argv)
    if args.one:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        if args.max_memory_gb:
            cap = int(args.max_memory_gb * 1024**3)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        print(json.dumps(run_one(*args.one, args.batch, args.device, budget=args.budget,
                                 strategy=args.strategy)))
        return 0
    sizes = args.sizes or (QUICK if args.quick else FULL)
    print(f"GRU, {D_IN} inputs, B={args.batch}, device {args.device}, torch threads: "
          f"{args.threads or 'default'}, strategy {args.strategy}; "
          f"load average before: {os.getloadavg()}")
    rows = []
    for H, T in sizes:
        cmd = [sys.executable, __file__, "--one", f"{H}x{T}", "--batch", str(args.batch),
               "--device", args.device]
        if args.max_memory_gb:
            cmd += ["--max-memory-gb", str(args.max_memory_gb)]
        if args.budget:
            cmd += ["--budget", str(args.budget)]
        if args.strategy != "auto":
            cmd += ["--strategy", args.strategy]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        t0 = time.time()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
            if proc.returncode != 0:
                err = (proc.stderr.strip().splitlines() or ["?"])[-1]
                cap = (f"; address space capped at {args.max_memory_gb:g} GB"
                       if args.max_memory_gb else "")
                row = {"H": H, "T": T, "B": args.batch,
                       "error": f"failed (exit {proc.returncode}: {err}{cap})"}
            else:
                row = json.loads(proc.stdout.strip().splitlines()[-1])
        except subprocess.TimeoutExpired:
            row = {"H": H, "T": T, "B": args.batch,
                   "error": f"timed out after {args.timeout:.0f} s"}
        row["wall_s"] = time.time() - t0
        rows.append(row)
        print_table([row])
        sys.stdout.flush()
    ok = [r for r in rows if "error" not in r]
    exps = {k: fit_exponents(ok, k) for k in ("rank_s", "total_s", "extra_GB")}
    print("\nall sizes:")
    print_table(rows)
    print("\ngrowth exponents (least squares on log-log, y ~ H^a T^b):")
    for k, e in exps.items():
        print(f"  {k:9s} " + "  ".join(f"{ax}: {'-' if v is None else f'{v:.2f}'}"
                                        for ax, v in e.items()))
    if ok:
        worst = max(ok, key=lambda r: r["peak_GB"])
        verdict = "within" if worst["peak_GB"] <= MEMORY_LIMIT_GB else "OVER"
        print(f"largest peak memory {worst['peak_GB']:.2f} GB at H={worst['H']}, "
              f"T={worst['T']}: {verdict} the {MEMORY_LIMIT_GB:.0f} GB limit")
    print(f"load average after: {os.getloadavg()}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"rows": rows, "exponents": exps, "load_after": os.getloadavg()}, fh,
                      indent=1)
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
