"""Operator benchmark (issue 12): every measure as a multiple of one forward + backward pass.

For a GRU (B = 20, T = 90, 3 inputs, H in --sizes) it measures, in one process and with one
torch thread, one forward + backward of the same ``nn.GRU`` (+ linear readout, MSE) on the same
batch, then the rows of issue 12's table, each as a multiple of it, beside the target:

- operator set-up (Trajectory + operators), Theta with 1 and with 32 probes;
- hidden- and time-axis ranks (``pr``, ``reduce="mean"``) of Theta in the reference code's
  convention (the compressed Gram Theta^2, DESIGN.md 3.1), of P (P P*), of K (K itself; the
  hidden-axis K^2 of the reference convention is printed too);
- the whole-space participation ratio of Theta (``collapse_dim``).

Then the same operator rows and the rows whose cost is mostly GEMMs (Theta's and P's axis
ranks, the collapse dim) again with ``precision="medium"`` (bfloat16 GEMM operands in the
structured K and in the propagator's steps, float32 accumulation and sums; the Grams
stay float32; ``--no-medium`` skips it): their values against the exact answers at H = 64,
and Theta with 32 probes against the float32 ``"highest"`` product. Both runs of a size are
expressed against the faster of their two forward+backward timings.

At H = 64 (always run, first) every measure is compared with its exact answer computed in
float64 on a float64 copy of the model by an independent path: axis compressions by pushing
every basis vector of the axis through the generic operators (J, P, Theta through parameter
space), the whole-space pr from every parameter-space basis vector through P J.

The load average is printed before and after; ``--out FILE`` writes the rows as JSON only when
both are at most 1.5 (an idle machine), and says so otherwise. ``--scale`` adds the GRU
H = 1024, T = 500, B = 64 collapse-dim run with its peak memory.

Usage::

    python benchmarks/bench_operators.py --out benchmarks/results_operators.json
    python benchmarks/bench_operators.py --sizes 64 1024
    python benchmarks/bench_operators.py --scale
    python benchmarks/bench_operators.py --sizes 256 --no-accuracy --rows theta_hidden
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import time

import numpy as np
import torch

from kpflow_sk import linalg
from kpflow_sk.cells import get_cell
from kpflow_sk.operators import Trajectory, kp_operators

B, T, D = 20, 90, 3
MAX_LOAD = 1.5
#: relative tolerance of the randomized whole-space pr (issue 9's accuracy contract)
RTOL = 0.02
#: Krylov block size of the --scale run (see run_scale)
SCALE_BLOCK = 16
# issue 12's targets (multiples of fwd+bwd at H = 256) and the reference code's figures
TARGETS = {
    "setup": ("operator set-up on the batch", 89, 2),
    "theta1": ("Theta, 1 probe", 7.9, 1.5),
    "theta32": ("Theta, 32 probes", 265, 12),
    "theta_hidden": ("hidden-axis rank of Theta (Theta^2, mean)", 715, 70),
    "theta_time": ("time-axis rank of Theta (Theta^2, mean)", 701, 70),
    "p_hidden": ("hidden-axis rank of P (P P*, mean)", 333, 30),
    "p_time": ("time-axis rank of P (P P*, mean)", 363, 15),
    "k_hidden": ("hidden-axis rank of K (K, mean)", 44, 4.4),
    "k_time": ("time-axis rank of K (K, mean)", 45, 4.5),
    "collapse": ("whole-space pr of Theta (collapse dim)", 348, 35),
}
EXTRA = {
    "k2_hidden": "hidden-axis rank of K^2 (reference convention)",
    "k32": "K, 32 probes",
    "p32": "P, 32 probes",
    "materialize": "materialize A_t (lazy, at the first >= 8-probe P)",
}


def load():
    return os.getloadavg()[0]


def best_time(fn, repeat=3):
    """Best of ``repeat`` timings after one warm-up call; returns (seconds, last result)."""
    out = fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def once(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def make_model(H, B=B, T=T, seed=0, dtype=torch.float32, device="cpu"):
    torch.manual_seed(seed)
    net = torch.nn.GRU(D, H, batch_first=True).to(dtype)
    readout = torch.nn.Linear(H, 3).to(dtype)
    X = torch.randn(B, T, D, dtype=dtype)
    Y = torch.randn(B, T, 3, dtype=dtype)
    return net.to(device), readout.to(device), X.to(device), Y.to(device)


def trajectory(net, X):
    cell = get_cell("gru", D, net.hidden_size)
    params = {n: getattr(net, n + "_l0").detach() for n in cell.parameter_shapes()}
    with torch.no_grad():
        Z = net(X)[0]
    return Trajectory(cell, params, X, Z)


def pr_of(matrix):
    return linalg.participation_ratio(torch.linalg.eigvalsh(matrix.double()).cpu().numpy())


# ---------------------------------------------------------------------- the measures
def measures(ops):
    """name -> zero-argument callable returning the measured value (the package's paths)."""
    Th, P, K = ops["Theta"], ops["P"], ops["K"]

    def axis_rank(op, axis):
        return linalg.effective_rank(op, axis=axis, reduce="mean", gram=True).value

    return {
        "theta_hidden": lambda: axis_rank(Th, "hidden"),
        "theta_time": lambda: axis_rank(Th, "time"),
        "p_hidden": lambda: axis_rank(P, "hidden"),
        "p_time": lambda: axis_rank(P, "time"),
        "k_hidden": lambda: pr_of(K.axis_mean(2)),
        "k_time": lambda: pr_of(K.axis_mean(1)),
        "k2_hidden": lambda: pr_of(K.axis_mean(2, square=True)),
        # Theta itself (self-adjoint, P K P* with the structured K), 2% tolerance: the budget
        # grows in blocks of 32 probes until the ~95% interval is within 2% of the value
        "collapse": lambda: linalg.effective_rank(
            Th, exact=False, rtol=RTOL, block_size=32, random_state=0),
    }


def exact_answers(ops64):
    """The same quantities by independent generic paths, float64 (H = 64 only)."""
    J, P, Th = ops64["J"], ops64["P"], ops64["Theta"]
    PJ = Th.PJ

    def via(op, axis, gram=True):
        return pr_of(linalg.reduce_to_axis(op, axis, "mean", gram=gram, exact=True).matrix)

    # Theta^2 compressed: E^T (PJ)(PJ)*(PJ)(PJ)* E / M through parameter space
    def theta2(axis):
        return pr_of(linalg.reduce_to_axis(_Composed(PJ), axis, "mean", gram=True).matrix)

    out = {"theta_hidden": theta2(2), "theta_time": theta2(1),
           "p_hidden": via(P, 2), "p_time": via(P, 1),
           "k_hidden": via(J, 2), "k_time": via(J, 1),
           "k2_hidden": pr_of(linalg.reduce_to_axis(_JJt(J), 2, "mean", gram=True).matrix)}
    return out


def exact_collapse(ops, chunk=512):
    """Whole-space pr of Theta from every parameter-space basis vector through P J.

    ``tr(Theta) = ||P J||_F^2`` and ``tr(Theta^2) = ||(P J)* (P J)||_F^2``, accumulated in
    float64 over chunks of basis vectors (the operators' own dtype for the products).
    """
    PJ = ops["Theta"].PJ
    n = PJ.in_shape[0]
    tr = tr2 = 0.0
    for s in range(0, n, chunk):
        k = min(chunk, n - s)
        E = torch.zeros(n, k, dtype=PJ.dtype)
        E[torch.arange(s, s + k), torch.arange(k)] = 1
        Y = PJ.matmat(E)
        tr += float(Y.double().square().sum())
        tr2 += float(PJ.rmatmat(Y).double().square().sum())
    return tr**2 / tr2


def cached_exact_collapse(ops, path, recompute, compute_missing):
    """The exact collapse dim at H = 64, kept in ``path`` (it takes minutes: n_params probes).

    Computed when ``recompute``, or when the cache is missing and ``compute_missing``;
    otherwise None (the error column of that row stays empty).
    """
    key = {"model": "GRU(3, 64) seed 0", "B": B, "T": T, "torch": torch.__version__}
    if path and os.path.exists(path) and not recompute:
        with open(path) as fh:
            saved = json.load(fh)
        if saved.get("key") == key:
            print(f"  exact collapse dim from {path} (computed {saved['date']})")
            return saved["collapse"]
    if not (recompute or compute_missing):
        print(f"  no exact collapse dim cached in {path}: run once with --exact-only "
              "(n_params basis probes, many minutes); its error is left out")
        return None
    print(f"  [{time.strftime('%H:%M:%S')}] exact collapse dim: {PJ_n(ops)} basis probes "
          "(minutes)", flush=True)
    value = exact_collapse(ops)
    if path:
        with open(path, "w") as fh:
            json.dump({"key": key, "collapse": value, "date": time.strftime("%Y-%m-%d %H:%M"),
                       "how": "every parameter-space basis vector through P J, float64"}, fh)
    return value


def PJ_n(ops):
    return ops["Theta"].PJ.in_shape[0]


class _Composed:
    """``(P J)(P J)*`` through parameter space (the generic Theta), as a protocol operator."""

    def __init__(self, PJ):
        self.PJ = PJ
        self.in_shape = self.out_shape = PJ.out_shape
        self.dtype, self.device = PJ.dtype, PJ.device

    def matmat(self, Q):
        return self.PJ.matmat(self.PJ.rmatmat(Q))

    rmatmat = matmat


class _JJt(_Composed):
    """``J J*`` through parameter space (the generic K)."""


# ---------------------------------------------------------------------- one size
#: the rows whose cost is mostly K's and P's GEMMs: run again with ``precision="medium"``
MEDIUM_ROWS = ("theta_hidden", "theta_time", "p_hidden", "p_time", "collapse")


def run_size(H, exact=None, rows_wanted=None, precision="highest"):
    net, readout, X, Y = make_model(H)

    def fwd_bwd():
        net.zero_grad()
        readout.zero_grad()
        Z = net(X)[0]
        ((readout(Z) - Y) ** 2).mean().backward()

    base, _ = best_time(fwd_bwd, 5)
    rows = {}
    setup, traj = best_time(lambda: trajectory(net, X), 3)
    s2, ops = best_time(lambda: kp_operators(traj, precision), 3)
    rows["setup"] = (setup + s2) / base
    ops = kp_operators(trajectory(net, X), precision)
    g = torch.Generator().manual_seed(0)
    q32 = torch.randn(B, T, H, 32, generator=g)
    rows["materialize"] = once(lambda: ops["P"] @ q32)[0] / base
    rows["theta1"] = best_time(lambda: ops["Theta"] @ q32[..., 0])[0] / base
    rows["theta32"], out32 = best_time(lambda: ops["Theta"] @ q32, 2)
    rows["theta32"] /= base
    errors = {}
    if precision != "highest":
        # Theta q against the model's own precision (float32 "highest", ~1e-7 from float64)
        ref = kp_operators(ops["P"].traj)["Theta"] @ q32
        errors["theta32"] = float((out32 - ref).norm() / ref.norm())
        del ref
    rows["k32"] = best_time(lambda: ops["K"] @ q32, 2)[0] / base
    rows["p32"] = best_time(lambda: ops["P"] @ q32, 2)[0] / base
    values = {}
    info = {}
    for name, fn in measures(ops).items():
        if rows_wanted and name not in rows_wanted:
            continue
        seconds, val = once(fn)
        if hasattr(val, "value"):       # a result object of the accuracy contract
            info[name] = {"stderr": val.stderr, "n_applications": val.n_applications,
                          "hit_cap": val.hit_cap, "converged": val.converged}
            val = val.value
        values[name] = float(val)
        rows[name] = seconds / base
        print(f"    [{time.strftime('%H:%M:%S')}] {name}: {values[name]:.5g} "
              f"({rows[name]:.3g}x) {info.get(name, '')}", flush=True)
    if exact is not None:
        errors.update({n: abs(values[n] - e) / abs(e) for n, e in exact.items()
                       if n in values and e is not None})
    return {"H": H, "precision": precision, "fwd_bwd_ms": base * 1e3, "ratios": rows,
            "values": values, "estimates": info, "exact": exact, "relerr": errors}


def print_table(res):
    p = res.get("precision", "highest")
    print(f"\nGRU H={res['H']}, B={B}, T={T}, precision={p!r}"
          f"{' (bfloat16 GEMMs in K and the P, P* steps)' if p == 'medium' else ''}"
          f": fwd+bwd = {res['fwd_bwd_ms']:.1f} ms (one thread; the fastest of this size's "
          f"runs, this one measured {res.get('fwd_bwd_ms_measured', res['fwd_bwd_ms']):.1f})"
          "; times are multiples of it")
    print(f"  {'measure':48s} {'ref.code':>8s} {'time':>8s} {'target':>7s}  {'':6s} "
          f"{'value':>10s} {'rel.err':>8s}")
    r, v, e = res["ratios"], res["values"], res["relerr"]
    for key, (label, ref, target) in TARGETS.items():
        if key not in r:
            continue
        status = "met" if r[key] <= target else "missed"
        val = f"{v[key]:10.5g}" if key in v else " " * 10
        err = f"{e[key]:8.1e}" if key in e else " " * 8
        print(f"  {label:48s} {ref:7g}x {r[key]:7.3g}x {target:6g}x  {status:6s} {val} {err}")
    for key, est in res.get("estimates", {}).items():
        print(f"  ({key}: stderr {est['stderr']:.3g}, {est['n_applications']} applications, "
              f"converged {est['converged']}, hit_cap {est['hit_cap']})")
    for key, label in EXTRA.items():
        if key not in r:
            continue
        val = f"{v[key]:10.5g}" if key in v else " " * 10
        err = f"{e[key]:8.1e}" if key in e else " " * 8
        print(f"  {label:48s} {'':8s} {r[key]:7.3g}x {'':7s}  {'':6s} {val} {err}")


def run_scale(H=1024, T_=500, B_=64, device="cpu", precision="highest"):
    net, readout, X, Y = make_model(H, B=B_, T=T_, device=device)

    def fwd_bwd():
        net.zero_grad()
        Z = net(X)[0]
        ((readout(Z) - Y) ** 2).mean().backward()

    base, _ = best_time(fwd_bwd, 1)
    t0 = time.perf_counter()
    ops = kp_operators(trajectory(net, X), precision)
    # Krylov blocks of 16: the first round keeps the basis, its residual block, the probes
    # and their images, (n, 32) float32 each = 4.2 GB at n = B T H = 3.3e7; the residual
    # block of 16 keeps the peak under 20 GB
    res = linalg.effective_rank(ops["Theta"], exact=False, rtol=RTOL, block_size=SCALE_BLOCK,
                                random_state=0)
    r = res.value
    seconds = time.perf_counter() - t0
    # ru_maxrss is in KiB on Linux: GB (10^9 bytes, the unit) and GiB both reported
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    gpu_gb = (torch.cuda.max_memory_allocated() / 1e9 if torch.device(device).type == "cuda"
              else None)
    return {"H": H, "T": T_, "B": B_, "device": str(device), "precision": precision,
            "block_size": SCALE_BLOCK,
            "collapse_dim": r,
            "seconds": seconds, "fwd_bwd_s": base, "ratio": seconds / base,
            "peak_rss_GB": peak_kib * 1024 / 1e9, "peak_rss_GiB": peak_kib / 1024**2,
            "peak_gpu_GB": gpu_gb,
            "n_applications": res.n_applications, "stderr": res.stderr}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256],
                    help="hidden sizes timed after the H = 64 accuracy run (default 256)")
    ap.add_argument("--scale", action="store_true", help="add the GRU H=1024, T=500, B=64 run")
    ap.add_argument("--scale-only", action="store_true", help="only the --scale run")
    ap.add_argument("--device", default="cpu", help="device of the --scale run")
    ap.add_argument("--out", help="write the rows here as JSON (only on an idle machine)")
    ap.add_argument("--exact-cache", default=os.path.join(os.path.dirname(__file__),
                                                          "exact_collapse_H64.json"),
                    help="where the exact H = 64 collapse dim is kept between runs")
    ap.add_argument("--recompute-exact", action="store_true")
    ap.add_argument("--exact-only", action="store_true",
                    help="only compute (and cache) the exact H = 64 answers")
    ap.add_argument("--no-accuracy", action="store_true",
                    help="timings only: no exact answers and no H = 64 run unless in --sizes")
    ap.add_argument("--no-medium", action="store_true",
                    help="skip the precision='medium' (bfloat16 K) runs of "
                         + ", ".join(MEDIUM_ROWS) + " and the operator rows")
    ap.add_argument("--scale-precision", default="highest", choices=("highest", "medium"))
    ap.add_argument("--rows", nargs="+", metavar="ROW",
                    help=f"only these measures (of {', '.join(m for m in TARGETS)}); the "
                         "operator rows (set-up, Theta and K/P with 32 probes) always run")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    import scipy.special  # noqa: F401  (imported here, not inside the first timed measure)
    load0 = load()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"load average before: {load0:.2f}")
    results = []
    if args.scale_only:
        res = run_scale(device=args.device, precision=args.scale_precision)
        print(json.dumps(res, indent=1))
        write_results(args.out, load0, [res])
        return
    if args.no_accuracy:
        medium = [r for r in (args.rows or MEDIUM_ROWS) if r in MEDIUM_ROWS]
        for H in args.sizes:
            pair = [run_size(H, None, args.rows)]
            if medium and not args.no_medium:
                pair.append(run_size(H, None, medium, precision="medium"))
            results.extend(common_baseline(pair))
        print(f"\nload average after: {load():.2f} (timings only: no results file)")
        return
    net64, _, X64, _ = make_model(64)
    net64, X64 = copy.deepcopy(net64).double(), X64.double()
    print(f"  [{time.strftime('%H:%M:%S')}] exact answers at H = 64 (float64)", flush=True)
    ops64 = kp_operators(trajectory(net64, X64))
    exact = exact_answers(ops64)
    exact["collapse"] = cached_exact_collapse(ops64, args.exact_cache, args.recompute_exact,
                                              args.exact_only)
    del ops64
    if args.exact_only:
        print(json.dumps(exact, indent=1))
        return
    medium = [r for r in (args.rows or MEDIUM_ROWS) if r in MEDIUM_ROWS]
    for H in [64] + [h for h in args.sizes if h != 64]:
        pair = [run_size(H, exact if H == 64 else None, args.rows)]
        if medium and not args.no_medium:
            pair.append(run_size(H, exact if H == 64 else None, medium, precision="medium"))
        results.extend(common_baseline(pair))
    if args.scale:
        res = run_scale(device=args.device, precision=args.scale_precision)
        print(json.dumps(res, indent=1))
        results.append(res)
    write_results(args.out, load0, results)


def common_baseline(runs):
    """Express the runs of one size against the fastest of their forward+backward timings
    (each run measures its own; a later one ran up to 20% slower in one process), print
    their tables and return them."""
    base = min(r["fwd_bwd_ms"] for r in runs)
    for r in runs:
        scale = r["fwd_bwd_ms"] / base
        r["ratios"] = {k: v * scale for k, v in r["ratios"].items()}
        r["fwd_bwd_ms_measured"], r["fwd_bwd_ms"] = r["fwd_bwd_ms"], base
        print_table(r)
    return runs


def write_results(path, load0, results):
    """Print the load average after the run; write ``results`` to ``path`` (if given) only
    when the load before and after was at most MAX_LOAD."""
    load1 = load()
    print(f"\nload average after: {load1:.2f}")
    if not path:
        return
    if max(load0, load1) > MAX_LOAD:
        print(f"NOT writing {path}: load average {max(load0, load1):.2f} > {MAX_LOAD}; "
              "these timings are not results (rerun on an idle machine)")
        return
    with open(path, "w") as fh:
        json.dump({"load": [load0, load1], "torch": torch.__version__, "results": results},
                  fh, indent=1, default=float)
    print(f"wrote {path}")


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
