"""Dynamics benchmark (issue 15): fixed-point search and Lyapunov spectra as multiples of fwd+bwd.

Two figures, each a multiple of one forward + backward pass of the same ``nn.GRU`` (+ linear
readout, MSE) on the batch that the dynamics run on, measured in the same run:

1. fixed points: ``find_fixed_points`` (``slow_tol=1e-6``) on a GRU-128 (3 inputs) with 256
   initial states drawn from its own hidden states on B = 64 trials of T = 90 steps (constant
   input 0); baseline: fwd+bwd of that 64 x 90 batch. PyTorch's initialisation (one stable
   point) and recurrent weights x 3 (many fixed and slow points, the harder search).
2. Lyapunov spectrum: ``lyapunov_spectrum`` of a GRU-256 along B = 4 trajectories of T = 500
   steps (all 256 exponents, and the top 10); baseline: fwd+bwd of that 4 x 500 batch.

The load average is printed (the development machine is shared); ratios are noisy under load.

Usage::

    python benchmarks/bench_dynamics.py                  # both, float64 dynamics
    python benchmarks/bench_dynamics.py --dtype float32
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import torch

from kpflow_sk.cells import get_cell
from kpflow_sk.dynamics import find_fixed_points, lyapunov_spectrum, sample_initial_states

D = 3


def best_time(fn, repeat=3):
    out = fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def gru_model(H, B, T, seed=0):
    torch.manual_seed(seed)
    net = torch.nn.GRU(D, H, batch_first=True)
    readout = torch.nn.Linear(H, 3)
    X = torch.randn(B, T, D)
    Y = torch.randn(B, T, 3)
    cell = get_cell("gru", D, H)
    params = {n: getattr(net, n + "_l0").detach() for n in cell.parameter_shapes()}
    return net, readout, X, Y, cell, params


def fwd_bwd(net, readout, X, Y):
    def run():
        net.zero_grad(set_to_none=True)
        readout.zero_grad(set_to_none=True)
        Z, _ = net(X)
        loss = torch.nn.functional.mse_loss(readout(Z), Y)
        loss.backward()
    return run


def bench_fixed_points(dtype, repeat, gain=1.0):
    H, B, T, N = 128, 64, 90, 256
    net, readout, X, Y, cell, params = gru_model(H, B, T)
    with torch.no_grad():
        net.weight_hh_l0.mul_(gain)       # params share storage with the nn.GRU weights
    base, _ = best_time(fwd_bwd(net, readout, X, Y), repeat=5)
    with torch.no_grad():
        Z, _ = net(X)
    starts = sample_initial_states(Z, N, random_state=0)

    def search():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return find_fixed_points(cell, params, None, starts, dtype=dtype, slow_tol=1e-6)

    t, fps = best_time(search, repeat=repeat)
    print(f"fixed points   GRU-{H} (weight_hh x {gain:g}), {N} initial states, "
          f"{str(dtype)[6:]}: {t:.2f} s = "
          f"{t / base:.0f} x fwd+bwd (B={B}, T={T}: {base * 1e3:.1f} ms); "
          f"{fps.n_iter} L-BFGS iterations, {fps.n_converged}/{N} searches reached q <= "
          f"{fps.tol:g}, {len(fps)} points {fps.counts()}", flush=True)
    return t / base


def bench_lyapunov(dtype, repeat):
    H, B, T = 256, 4, 500
    net, readout, X, Y, cell, params = gru_model(H, B, T, seed=1)
    base, _ = best_time(fwd_bwd(net, readout, X, Y), repeat=5)
    ratios = {}
    for k in (H, 10):
        t, spec = best_time(lambda: lyapunov_spectrum(cell, params, X, k=k, dtype=dtype,
                                                      strategy="matrix_free"), repeat=repeat)
        ratios[k] = t / base
        print(f"Lyapunov       GRU-{H}, B={B}, T={T}, k={k}, {str(dtype)[6:]}: {t:.2f} s = "
              f"{t / base:.1f} x fwd+bwd ({base * 1e3:.1f} ms); top exponents "
              f"{spec.mean[:3].round(4).tolist()}", flush=True)
    return ratios


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    print(f"torch {torch.__version__}, {args.threads} thread(s), load average "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    for gain in (1.0, 3.0):
        bench_fixed_points(dtype, args.repeat, gain)
    bench_lyapunov(dtype, args.repeat)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
