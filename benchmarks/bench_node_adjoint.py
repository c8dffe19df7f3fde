"""Peak memory and time of one training step of a ``node`` network: continuous vs discrete.

One forward + backward pass of the estimator's training module at T = 500 (Memory-Pro-like
inputs), for each backward mode:

- ``discrete-stored``   ``adjoint=False``: autograd stores every solver stage;
- ``discrete-recompute`` ``adjoint=True`` / ``"discrete"``: each step's stages are
  recomputed in the backward pass (exact gradient);
- ``continuous``        ``adjoint="continuous"``: torchdiffeq's ``odeint_adjoint`` solves an
  adjoint ODE backward per interval (approximate gradient);

all on torchdiffeq's solver (``ode_options={}``), plus the built-in functional rk4 for
reference. Each mode runs in a fresh subprocess. Two memory numbers: the bytes autograd saves
for the backward pass (``saved_tensors_hooks``; deterministic), and the peak of the whole step above
the level before it (CPU: resident set size polled by a thread; CUDA:
``torch.cuda.max_memory_allocated``). Memory is the robust number; times on a shared machine
are reported with the load average (``os.getloadavg``) and are only comparable within a run.

Usage::

    python benchmarks/bench_node_adjoint.py [--T 500] [--batch 64] [--hidden 128]
        [--solver rk4] [--step-size 0.5] [--device cpu] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

MODES = {
    "builtin-stored": dict(adjoint=False, ode_options=None),
    "discrete-stored": dict(adjoint=False, ode_options={}),
    "discrete-recompute": dict(adjoint="discrete", ode_options={}),
    "continuous": dict(adjoint="continuous", ode_options={}),
}


def _child(args):
    """Run one mode in this process; print one JSON line."""
    import time

    import numpy as np
    import torch

    from kpflow_sk.cells import get_cell
    from kpflow_sk.estimators import RecurrentRegressor
    from kpflow_sk.estimators._module import adjoint_mode, build_network

    torch.set_num_threads(args.threads)
    mode = MODES[args.mode]
    if mode["ode_options"] is None and args.solver not in ("euler", "midpoint", "rk4", "dopri5"):
        print(json.dumps({"mode": args.mode, "skipped": "no built-in form"}))
        return
    est = RecurrentRegressor(cell="node", hidden_size=args.hidden, ode_solver=args.solver,
                             ode_step_size=args.step_size, device=args.device,
                             **{k: v for k, v in mode.items()})
    spec_cell = est._cell_spec(3)
    cell = get_cell(spec_cell["cell"], 3, args.hidden, **spec_cell["options"])
    m = adjoint_mode(mode["adjoint"])
    net = build_network(cell, 3, generator=torch.Generator().manual_seed(0),
                        device=args.device, checkpoint_steps=m == "discrete",
                        continuous_adjoint=m == "continuous")
    rng = np.random.RandomState(0)
    X = torch.as_tensor(rng.normal(size=(args.batch, args.T, 3)).astype(np.float32),
                        device=args.device) * 0.5
    Y = torch.zeros(args.batch, args.T, 3, device=args.device)
    cuda = args.device.startswith("cuda")

    def step():
        net.zero_grad(set_to_none=True)
        y_hat, _ = net(X)
        loss = ((y_hat - Y) ** 2).mean()
        loss.backward()
        if cuda:
            torch.cuda.synchronize()
        return float(loss)

    # memory 1: peak of the whole step (forward + backward) above the level before it; the
    # first step of this fresh process, so no freed heap from an earlier step hides it
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = _sampled_rss_peak(step)
    # memory 2: bytes autograd keeps for the backward pass (deterministic, load-free)
    saved = {}

    def pack(t):
        saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        net.zero_grad(set_to_none=True)
        y_hat, _ = net(X)
    saved_bytes = sum(saved.values())
    del y_hat
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    grad_norm = float(torch.sqrt(sum((p.grad.double() ** 2).sum() for p in net.parameters())))
    print(json.dumps({"mode": args.mode, "peak_bytes": int(peak), "saved_bytes": saved_bytes,
                      "time_s": min(times), "grad_norm": grad_norm}))


def _rss_now():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _sampled_rss_peak(fn, interval=2e-4):
    """Peak resident set size during ``fn()`` above the level before it (polled by a thread;
    large CPU tensors are mmapped and returned to the OS when freed, so RSS follows them)."""
    import gc
    import threading

    gc.collect()
    base = _rss_now()
    peak = [base]
    done = threading.Event()

    def poll():
        while not done.is_set():
            peak[0] = max(peak[0], _rss_now())
            done.wait(interval)

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    try:
        fn()
    finally:
        done.set()
        th.join()
    return max(peak[0], _rss_now()) - base


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--T", type=int, default=500)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--solver", default="rk4")
    ap.add_argument("--step-size", type=float, default=0.5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--mode", choices=sorted(MODES), help=argparse.SUPPRESS)
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args(argv)
    if args.mode:
        return _child(args)
    if args.solver not in ("euler", "midpoint", "rk4", "dopri5", "heun2", "heun3",
                           "explicit_adams"):
        args.step_size = None
    rows = []
    for mode in MODES:
        cmd = [sys.executable, __file__, "--mode", mode, "--T", str(args.T),
               "--batch", str(args.batch), "--hidden", str(args.hidden),
               "--solver", args.solver, "--device", args.device,
               "--repeats", str(args.repeats), "--threads", str(args.threads)]
        if args.step_size is not None:
            cmd += ["--step-size", str(args.step_size)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    load = os.getloadavg()
    print(f"node training step, T={args.T} B={args.batch} H={args.hidden} "
          f"solver={args.solver} step_size={args.step_size} device={args.device} "
          f"threads={args.threads}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          f"on {os.cpu_count()} CPUs")
    ref = next(r for r in rows if r["mode"] == "discrete-stored")
    print(f"{'mode':<20} {'saved MiB':>10} {'peak MiB':>10} {'vs stored':>10} {'time s':>8} "
          f"{'vs stored':>10} {'grad norm':>12}")
    for r in rows:
        if "skipped" in r:
            print(f"{r['mode']:<20} skipped: {r['skipped']}")
            continue
        print(f"{r['mode']:<20} {r['saved_bytes'] / 2**20:>10.1f} "
              f"{r['peak_bytes'] / 2**20:>10.1f} "
              f"{r['peak_bytes'] / max(ref['peak_bytes'], 1):>10.2f} {r['time_s']:>8.2f} "
              f"{r['time_s'] / ref['time_s']:>10.2f} {r['grad_norm']:>12.6g}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "load": load, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
