"""GPU check (issue 6): KPFlow operator identities on CUDA, host-sync audit, timings vs CPU.

One prepared script for a CUDA machine. In order, each step guarded so that a failure is
reported and the next step still runs:

1. environment: torch / CUDA / GPU, optional packages (torchdiffeq, joblib, tqdm, pytest);
2. identities (float64, on the GPU): J, K, P, Theta of every cell (rnn, leaky_rnn, gru,
   node rk4, node dopri5, a user cell) x state-Jacobian strategy (materialized, matrix-free)
   against dense autograd computed on the GPU (``tests/kp_reference.py``), plus
   Theta = P K P*, the adjoint (dot-product) test, P^-1 P = I, P* err = BPTT, and that every
   result stays on the GPU;
3. estimator: ``device="auto"`` picks CUDA; fit, predict, ``kp_decompose_``, pickling;
4. host-sync audit: ``torch.cuda.set_sync_debug_mode`` counts the synchronizing calls of one
   operator application (must be 0: no host round-trip in the recurrence), one training
   epoch and one whole-space effective rank;
5. timings: fit of a GRU-256 (memory_pro, 256 trials, T=90) and the whole-space effective
   rank of Theta on its analysis batch (B=20), on the GPU and on this machine's CPU;
6. ``pytest -m cuda tests/scale`` (the CUDA-marked tests), if pytest is installed.

Usage (from the repository root; the package need not be installed)::

    python benchmarks/gpu_check.py                 # everything, about 3-6 minutes
    python benchmarks/gpu_check.py --quick         # fewer epochs, no CPU rank timing
    python benchmarks/gpu_check.py --device cpu    # dry run of the same code on a CPU

Results are printed as tables and, when the environment variable ``OUT`` is set (or
``--out DIR``), written to ``$OUT/gpu_check.json``. Exit status: 0 all checks passed,
1 a check failed, 2 no CUDA device (nothing to check).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import pickle
import platform
import subprocess
import sys
import time
import traceback
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "tests"):  # run from a checkout: no install needed
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import numpy as np  # noqa: E402
import torch  # noqa: E402

# ---------------------------------------------------------------------- identities
B, T, H, D = 2, 5, 4, 3
# the tolerances of tests/operators/test_operators.py, x10 for other reduction orders
TOL = {"P": 1e-11, "J": 1e-11, "K": 1e-11, "Theta": 1e-10, "PKP*": 1e-10, "rollout": 1e-13,
       "adjoint": 1e-9, "Pinv P": 1e-11, "P* err = BPTT": 1e-11}
CELL_CASES = ("rnn", "leaky_rnn", "gru", "node_rk4", "node_dopri5", "user")
STRATEGIES = ("materialized", "matrix_free")


def _user_cell_class():
    from kpflow_sk.cells import Cell

    class SineGainCell(Cell):
        """z' = (1 - s) z + s sin(W z + U x), s = sigmoid(gain): a user cell (autodiff)."""

        def parameter_shapes(self):
            return {"weight_hh": (self.hidden_size, self.hidden_size),
                    "weight_ih": (self.hidden_size, self.input_size),
                    "gain": (self.hidden_size,)}

        def step(self, params, z_prev, x_t, aux=None):
            s = torch.sigmoid(params["gain"])
            a = z_prev @ params["weight_hh"].T + x_t @ params["weight_ih"].T
            return (1 - s) * z_prev + s * torch.sin(a)

    return SineGainCell


def make_cell(case):
    from kpflow_sk.cells import get_cell

    return {
        "rnn": lambda: get_cell("rnn", D, H),
        "leaky_rnn": lambda: get_cell("leaky_rnn", D, H, alpha=0.3, nonlinearity="softplus"),
        "gru": lambda: get_cell("gru", D, H),
        "node_rk4": lambda: get_cell("node", D, H, solver="rk4", dt=0.5, step_size=0.25),
        "node_dopri5": lambda: get_cell("node", D, H, solver="dopri5", dt=0.5, rtol=1e-5,
                                        atol=1e-7),
        "user": lambda: _user_cell_class()(D, H),
    }[case]()


def _rel(a, b):
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


def identity_errors(case, strategy, device):
    """Relative errors of the KPFlow operators against dense autograd, float64 on ``device``.

    Returns
    -------
    dict
        name -> relative error (see ``TOL``), plus ``"on_device"`` (bool): every operator
        output lives on ``device``.
    """
    from kp_reference import dense_J, dense_JZ, dense_P, unroll

    from kpflow_sk.operators import Trajectory, kp_operators

    device = torch.device(device)
    g = torch.Generator().manual_seed(0)
    cell = make_cell(case)
    params = cell.init_params(g, dtype=torch.float64, init_scale=1.2)
    params = {n: v + 0.1 * torch.randn(v.shape, generator=g, dtype=torch.float64)
              if v.ndim == 1 else v for n, v in params.items()}
    X = torch.randn(B, T, D, generator=g, dtype=torch.float64)
    params = {n: v.to(device) for n, v in params.items()}
    X = X.to(device)
    traj = Trajectory(cell, params, X, strategy=strategy)
    ops = kp_operators(traj)
    aux = traj.aux
    Pd = dense_P(cell, params, X, aux)
    Jd = dense_J(cell, params, traj.Z_prev, X, aux)
    JZ = dense_JZ(cell, params, X, aux)
    dense = {n: ops[n].to_dense() for n in ("P", "J", "K", "Theta")}
    err = {"P": _rel(dense["P"], Pd), "J": _rel(dense["J"], Jd),
           "K": _rel(dense["K"], Jd @ Jd.T), "Theta": _rel(dense["Theta"], JZ @ JZ.T),
           "PKP*": _rel(Pd @ Jd @ Jd.T @ Pd.T, JZ @ JZ.T),
           "rollout": _rel(traj.Z, unroll(cell, params, X, aux))}
    on_device = all(t.device.type == device.type for t in dense.values()) and \
        traj.Z.device.type == device.type
    # adjoint (dot-product) test for every operator
    gq = torch.Generator(device=device).manual_seed(1)
    worst = 0.0
    for name in ("J", "K", "P", "Pinv", "Theta"):
        op = ops[name]
        q = torch.randn(*op.in_shape, 3, generator=gq, dtype=torch.float64, device=device)
        r = torch.randn(*op.out_shape, 3, generator=gq, dtype=torch.float64, device=device)
        Aq, Atr = op @ q, op.T @ r
        on_device &= Aq.device.type == device.type and Atr.device.type == device.type
        lhs, rhs = (Aq * r).sum(), (q * Atr).sum()
        worst = max(worst, float((lhs - rhs).abs() / (lhs.abs() + rhs.abs())))
    err["adjoint"] = worst
    q = torch.randn(B, T, H, 4, generator=gq, dtype=torch.float64, device=device)
    err["Pinv P"] = max(_rel(ops["P"] @ (ops["Pinv"] @ q), q),
                        _rel(ops["Pinv"] @ (ops["P"] @ q), q))
    # P* err equals the BPTT gradient through the recurrence
    target = torch.randn(B, T, 1, generator=gq, dtype=torch.float64, device=device)
    w = torch.rand(B, T, generator=gq, dtype=torch.float64, device=device)

    def loss(Z):
        return 0.5 * (w[:, :, None] * (Z.sum(-1, keepdim=True) * 0.3 - target) ** 2).sum()

    Zl = traj.Z.clone().requires_grad_(True)
    (e,) = torch.autograd.grad(loss(Zl), Zl)
    eps = torch.zeros(B, T, H, dtype=torch.float64, device=device, requires_grad=True)
    (bptt,) = torch.autograd.grad(loss(unroll(cell, params, X, aux, eps)), eps)
    err["P* err = BPTT"] = _rel(ops["P"].T @ e, bptt)
    err["on_device"] = bool(on_device)
    return err


def run_identities(device):
    rows, ok = [], True
    for case in CELL_CASES:
        for strategy in STRATEGIES:
            t0 = time.perf_counter()
            try:
                err = identity_errors(case, strategy, device)
                fails = [k for k, tol in TOL.items() if not err[k] <= tol]
                if not err["on_device"]:
                    fails.append("on_device")
                row = {"cell": case, "strategy": strategy, **err, "fails": fails}
            except Exception as exc:  # report and go on with the next case
                row = {"cell": case, "strategy": strategy, "fails": ["exception"],
                       "error": f"{type(exc).__name__}: {exc}"}
            row["seconds"] = time.perf_counter() - t0
            ok &= not row["fails"]
            rows.append(row)
    print(f"\n== 2. operator identities vs dense autograd, float64 on {device} "
          f"(B={B}, T={T}, H={H}) ==")
    names = list(TOL)
    print(f"{'cell':12s} {'strategy':13s} " + " ".join(f"{n[:9]:>9s}" for n in names)
          + "  result")
    for r in rows:
        if "error" in r:
            print(f"{r['cell']:12s} {r['strategy']:13s} FAIL {r['error']}")
            continue
        vals = " ".join(f"{r[n]:9.1e}" for n in names)
        print(f"{r['cell']:12s} {r['strategy']:13s} {vals}  "
              f"{'PASS' if not r['fails'] else 'FAIL ' + ','.join(r['fails'])}")
    print("tolerances: " + ", ".join(f"{k} {v:.0e}" for k, v in TOL.items()))
    return {"ok": bool(ok), "rows": rows, "tolerances": TOL}


# ---------------------------------------------------------------------- estimator
def tiny_data(n=32, T_=8, d=2, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, T_, d)).astype(np.float32)
    return X, (0.3 * np.cumsum(X[..., :1], axis=1)).astype(np.float32)


def run_estimator(device):
    from kpflow_sk import RecurrentRegressor

    X, y = tiny_data()
    out, checks = {}, {}
    want = "auto" if device.type == "cuda" else "cpu"
    for cell in ("gru", "rnn", "node"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning of the 5-epoch fits
            est = RecurrentRegressor(cell=cell, hidden_size=8, max_iter=5, kp_n_trials=8,
                                     device=want, random_state=0).fit(X, y)
        D_ = est.kp_decompose_
        blob = pickle.loads(pickle.dumps(est))
        checks[cell] = {
            "device_": str(est.device_),
            "module_on_device": next(est.module_.parameters()).device.type == device.type,
            "analysis_on_device": D_.Z.device.type == device.type
            and D_.err.device.type == device.type,
            "collapse_dim_finite": bool(np.isfinite(est.collapse_dim_)),
            "predict_numpy": isinstance(est.predict(X), np.ndarray),
            "pickle_roundtrip": bool(np.allclose(blob.predict(X), est.predict(X), atol=1e-6)),
        }
        checks[cell]["ok"] = all(v for k, v in checks[cell].items() if k != "device_") and \
            torch.device(est.device_).type == device.type
        out[cell] = checks[cell]
    ok = all(c["ok"] for c in checks.values())
    print(f"\n== 3. estimator with device={want!r} ==")
    for cell, c in checks.items():
        flags = ", ".join(f"{k}={v}" for k, v in c.items() if k != "ok")
        print(f"{cell:5s} {'PASS' if c['ok'] else 'FAIL'}  {flags}")
    return {"ok": bool(ok), "cells": out}


# ---------------------------------------------------------------------- host-sync audit
def count_syncs(fn, device):
    """Synchronizing CUDA calls made by ``fn()`` (torch.cuda.set_sync_debug_mode)."""
    if device.type != "cuda":
        fn()
        return None
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    # count only the per-call warnings; the one-off "Synchronization debug mode is a prototype
    # feature and does not yet detect all synchronizing operations" notice is not a sync (it
    # made the first measured call of a process read 1 on the H200)
    return sum("called a synchronizing" in str(w.message) for w in rec)


def theta_rank(Dec, n_applications=None, exact=None):
    """``Dec.effective_rank("Theta")`` (whole space, "pr"), returning linalg's result object
    (value and the number of operator applications): Theta = (P J)(P J)* measured as the
    Gram of P J or of (P J)*, whichever side is smaller, as KPDecomposition does."""
    from kpflow_sk import linalg

    A = Dec.Theta.PJ
    if math.prod(A.in_shape) < math.prod(A.out_shape):
        A = A.T
    return linalg.effective_rank(A, method="pr", gram=True, n_applications=n_applications,
                                 exact=exact, random_state=Dec.random_state)


def run_sync_audit(device):
    from kpflow_sk import KPDecomposition, RecurrentRegressor
    from kpflow_sk.cells import get_cell

    rows = []
    g = torch.Generator().manual_seed(0)
    # both sides of Theta's factor above linalg's dense limit (4096): the randomized path
    Bs, Ts, Hs, k = 8, 20, 64, 8
    X = torch.randn(Bs, Ts, 3, generator=g).to(device)
    for label, cell in (("gru", get_cell("gru", 3, Hs)), ("rnn", get_cell("rnn", 3, Hs)),
                        ("node rk4", get_cell("node", 3, Hs, solver="rk4")),
                        ("node dopri5", get_cell("node", 3, Hs, solver="dopri5"))):
        params = {n: v.to(device) for n, v in cell.init_params(g).items()}
        for strategy in STRATEGIES:
            try:
                Dec = KPDecomposition(cell, params, X, strategy=strategy, random_state=0)
                q = torch.randn(Bs, Ts, Hs, k, generator=g).to(device)
                Dec.P @ q  # warm-up: builds the materialized Jacobians if any
                checks = (("P", lambda: Dec.P @ q), ("P*", lambda: Dec.P.T @ q),
                          ("K", lambda: Dec.K @ q), ("Theta", lambda: Dec.Theta @ q))
                if label == "node dopri5":  # slow matrix-free; the solver grid is fixed
                    checks = checks[:2]
                for name, fn in checks:
                    rows.append({"what": f"{name} @ {k} probes", "cell": label,
                                 "strategy": strategy, "syncs": count_syncs(fn, device),
                                 "must_be_zero": True})
            except Exception as exc:
                rows.append({"what": "operators", "cell": label, "strategy": strategy,
                             "syncs": None, "error": f"{type(exc).__name__}: {exc}",
                             "must_be_zero": True})
        if label == "gru":
            Dec = KPDecomposition(cell, params, X, random_state=0)
            out = {}
            s = count_syncs(lambda: out.setdefault("r", theta_rank(Dec, 32, exact=False)), device)
            rows.append({"what": f"effective_rank(Theta), {out['r'].n_applications} "
                         "applications", "cell": label, "strategy": "auto", "syncs": s,
                         "must_be_zero": False})
    # training: a fit of 1 and of 3 epochs (4 mini-batches each, warm start); the difference
    # is what each further epoch costs (the loop is meant to sync once per epoch, not per batch)
    Xn, yn = tiny_data(n=64, T_=Ts, d=3)
    for cell in ("gru", "node"):
        est = RecurrentRegressor(cell=cell, hidden_size=Hs, batch_size=16, max_iter=1,
                                 kp_n_trials=8, random_state=0, warm_start=True,
                                 device=str(device))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(Xn, yn)  # builds the network, the optimizer and the CUDA context
            s1 = count_syncs(lambda: est.set_params(max_iter=1).fit(Xn, yn), device)
            s3 = count_syncs(lambda: est.set_params(max_iter=3).fit(Xn, yn), device)
        rows.append({"what": "fit, 1 epoch of 4 batches (warm start)", "cell": cell,
                     "strategy": "-", "syncs": s1, "must_be_zero": False})
        rows.append({"what": "fit, 3 epochs of 4 batches (warm start)", "cell": cell,
                     "strategy": "-", "syncs": s3, "must_be_zero": False})
        if s1 is not None and s3 is not None:
            rows.append({"what": "  -> per further epoch", "cell": cell, "strategy": "-",
                         "syncs": (s3 - s1) / 2, "must_be_zero": False})
    ok = all(r["syncs"] in (0, None) and "error" not in r for r in rows if r["must_be_zero"])
    if device.type != "cuda":
        ok = all("error" not in r for r in rows)
    print(f"\n== 4. host syncs (torch.cuda.set_sync_debug_mode) on {device} ==")
    print(f"{'what':48s} {'cell':12s} {'strategy':13s} {'syncs':>6s}")
    for r in rows:
        s = "n/a" if r["syncs"] is None else str(r["syncs"])
        flag = " <-- must be 0" if r["must_be_zero"] and r["syncs"] else ""
        print(f"{r['what']:48s} {r['cell']:12s} {r['strategy']:13s} {s:>6s}"
              f"{flag}{'  ' + r['error'] if 'error' in r else ''}")
    return {"ok": bool(ok), "rows": rows}


# ---------------------------------------------------------------------- timings
def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_gru256(device, epochs, with_rank=True, hidden=256):
    """Fit a GRU (256 units) on memory_pro (256 trials, T=90); then pr of Theta on B=20."""
    from sklearn.exceptions import ConvergenceWarning

    from kpflow_sk import RecurrentRegressor
    from kpflow_sk.datasets import make_task

    b = make_task("memory_pro", 256, random_state=0)
    kw = dict(cell="gru", hidden_size=hidden, batch_size=64, kp_n_trials=20, tol=0.0,
              n_iter_no_change=10**6, random_state=0, device=str(device))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        RecurrentRegressor(**{**kw, "max_iter": 1}).fit(b.X, b.y, mask=b.mask)  # warm-up
        _sync(device)
        t0 = time.perf_counter()
        est = RecurrentRegressor(**{**kw, "max_iter": epochs}).fit(b.X, b.y, mask=b.mask)
        _sync(device)
    res = {"device": str(device), "hidden_size": hidden, "epochs": epochs,
           "fit_s": time.perf_counter() - t0, "final_loss": float(est.loss_curve_[-1])}
    res["epoch_s"] = res["fit_s"] / epochs
    if with_rank:
        t0 = time.perf_counter()
        Dec = est.kp_decompose_
        r = theta_rank(Dec)
        _sync(device)
        res["rank_s"] = time.perf_counter() - t0
        res["pr_Theta"] = float(r.value)
        res["rank_applications"] = int(r.n_applications)
        res["state_jacobians"] = type(Dec.trajectory.state_linearization(32)).__name__
    if device.type == "cuda":
        res["peak_gpu_GB"] = torch.cuda.max_memory_allocated(device) / 1e9
    return res


def run_timings(device, epochs, cpu_rank, deadline, hidden=256):
    rows = []
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    rows.append(time_gru256(device, epochs, hidden=hidden))
    if device.type == "cuda":
        cpu = torch.device("cpu")
        remaining = deadline - time.time()
        # the CPU rank takes roughly 30-100x the GPU's; skip it when time is short
        rank_on_cpu = cpu_rank and remaining > 40 * rows[0]["rank_s"] + 60
        if remaining > 60:
            rows.append(time_gru256(cpu, epochs, with_rank=rank_on_cpu, hidden=hidden))
        else:
            print(f"(CPU timing skipped: {remaining:.0f} s left of the budget)")
    print(f"\n== 5. GRU-{hidden}, memory_pro, 256 trials x T=90, batch 64; rank on B=20 "
          f"(torch threads on CPU: {torch.get_num_threads()}) ==")
    print(f"{'device':8s} {'epochs':>6s} {'fit s':>8s} {'s/epoch':>8s} {'rank s':>8s} "
          f"{'pr(Theta)':>10s} {'applic.':>8s} {'A_t':>26s} {'peak GPU GB':>11s}")
    for r in rows:
        print(f"{r['device']:8s} {r['epochs']:6d} {r['fit_s']:8.2f} {r['epoch_s']:8.3f} "
              f"{r.get('rank_s', float('nan')):8.2f} {r.get('pr_Theta', float('nan')):10.2f} "
              f"{r.get('rank_applications', 0):8d} {r.get('state_jacobians', '-'):>26s} "
              f"{r.get('peak_gpu_GB', float('nan')):11.2f}")
    if len(rows) == 2:
        sp = {"fit": rows[1]["fit_s"] / rows[0]["fit_s"]}
        if "rank_s" in rows[1]:
            sp["rank"] = rows[1]["rank_s"] / rows[0]["rank_s"]
        print("speed-up of the GPU over this CPU: " +
              ", ".join(f"{k} x{v:.1f}" for k, v in sp.items()))
        return {"ok": True, "rows": rows, "speedup": sp}
    return {"ok": True, "rows": rows}


# ---------------------------------------------------------------------- pytest
def run_pytest(timeout):
    if importlib.util.find_spec("pytest") is None:
        print("\n== 6. pytest not installed: skipped ==")
        return {"ok": True, "skipped": "pytest not installed"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "cuda",
           "-rs", "tests/scale"]
    if importlib.util.find_spec("matplotlib") is None:
        cmd.insert(-1, "--noconftest")  # tests/conftest.py imports matplotlib
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), str(ROOT / "tests")]
        + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                              env=env)
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        ok = proc.returncode in (0, 5)  # 5: no test collected
    except subprocess.TimeoutExpired:
        tail, ok = [f"timed out after {timeout:.0f} s"], False
    print(f"\n== 6. {' '.join(cmd[2:])} ==")
    print("\n".join(tail))
    return {"ok": bool(ok), "tail": tail}


# ---------------------------------------------------------------------- main
def environment(device):
    mods = {}
    for m in ("torchdiffeq", "joblib", "tqdm", "sklearn", "scipy", "pytest", "dask",
              "distributed"):
        mods[m] = importlib.util.find_spec(m) is not None
    env = {"python": platform.python_version(), "torch": torch.__version__,
           "cuda_available": torch.cuda.is_available(), "torch_cuda": torch.version.cuda,
           "device": str(device), "cpu_threads": torch.get_num_threads(),
           "cpu_count": os.cpu_count(), "modules": mods}
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        env.update(gpu=p.name, gpu_memory_GB=p.total_memory / 1e9,
                   capability=f"{p.major}.{p.minor}")
    print("== 1. environment ==")
    for k, v in env.items():
        print(f"{k:16s} {v}")
    missing = [m for m, ok in mods.items() if not ok and m in ("sklearn", "scipy")]
    if missing:
        print(f"MISSING required packages: {missing}")
    return env


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu for a "
                    "dry run of the same code")
    ap.add_argument("--quick", action="store_true",
                    help="3 epochs instead of 10, no CPU rank timing, no pytest")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--budget", type=float, default=300.0,
                    help="seconds; the CPU timing and pytest are skipped when they would "
                         "not fit (default 300)")
    ap.add_argument("--timing-hidden", type=int, default=256,
                    help="hidden size of the timed GRU (default 256; small for a dry run)")
    ap.add_argument("--skip", nargs="*", default=[],
                    choices=["identities", "estimator", "syncs", "timings", "pytest"])
    ap.add_argument("--out", default=os.environ.get("OUT"),
                    help="folder for gpu_check.json (default: $OUT)")
    args = ap.parse_args(argv)
    start = time.time()
    deadline = start + args.budget
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(f"CUDA is not available here (torch {torch.__version__}, built for CUDA "
              f"{torch.version.cuda}); nothing to check. Use --device cpu for a dry run.")
        return 2
    # float32 matmuls in full precision on the GPU too (no TF32), as on the CPU
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    report = {"environment": environment(device), "args": vars(args)}
    epochs = args.epochs or (3 if args.quick else 10)
    steps = [("identities", lambda: run_identities(device)),
             ("estimator", lambda: run_estimator(device)),
             ("syncs", lambda: run_sync_audit(device)),
             ("timings", lambda: run_timings(device, epochs, not args.quick, deadline,
                                             args.timing_hidden)),
             ("pytest", lambda: run_pytest(max(30.0, deadline - time.time())))]
    for name, fn in steps:
        if name in args.skip or (args.quick and name == "pytest"):
            continue
        if name in ("timings", "pytest") and time.time() > deadline - 20:
            print(f"\n== {name}: skipped, the {args.budget:.0f} s budget is spent ==")
            report[name] = {"ok": True, "skipped": "budget"}
            continue
        t0 = time.perf_counter()
        try:
            report[name] = fn()
        except Exception as exc:
            traceback.print_exc()
            report[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            print(f"== {name}: FAILED with {type(exc).__name__}: {exc} ==")
        report[name]["seconds"] = time.perf_counter() - t0
    verdict = {k: v["ok"] for k, v in report.items() if isinstance(v, dict) and "ok" in v}
    report["verdict"] = verdict
    report["total_s"] = time.time() - start
    print("\n== summary ==")
    for k, ok in verdict.items():
        print(f"{k:12s} {'PASS' if ok else 'FAIL'}  ({report[k].get('seconds', 0):.1f} s)")
    print(f"total {report['total_s']:.0f} s")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, "gpu_check.json")
        with open(path, "w") as fh:
            json.dump(report, fh, indent=1, default=_jsonable)
        print(f"wrote {path}")
    return 0 if all(verdict.values()) else 1


def _jsonable(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return str(o)


if __name__ == "__main__":
    sys.exit(main())
