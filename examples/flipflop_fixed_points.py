"""Fixed points of a 3-bit flip-flop GRU (Sussillo & Barak 2013) and of Memory-Pro checkpoints.

Part 1 -- ``gru_flipflop`` (zoo): search for fixed points of the trained GRU under zero input
from 256 of its own hidden states (noise-free trials), count the stable points and saddles
(Sussillo & Barak report 8 stable points, one per memory state, with saddles between them),
read each point out through the network's readout to see which memory state it holds, and
measure the speed ``q`` on the states where the network holds each of the 8 +-1 memory states.

Part 2 -- ``gru_memory_pro`` checkpoints (zoo): at every snapshot, P's time-axis effective rank
(``reduce="mean"``, var95, docs/conventions.md s. 3), the fixed points under the memory-period input
``x = (fixation 1, stimulus 0, 0)``, and the leading Lyapunov exponents along the noise-free
trials, to see how the fixed-point structure and the top exponents change as P's rank
collapses.

Run from the repository root: ``python examples/flipflop_fixed_points.py``.
"""

import itertools
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from kpflow_sk import zoo
from kpflow_sk.datasets import make_task
from kpflow_sk.dynamics import CellSystem
from kpflow_sk.plotting import plot_eigenvalues, plot_exponents_over_training, plot_fixed_points

N_INITS = 256


def readout(est, states):
    W = est.module_.readout.weight.detach().double().numpy()
    b = est.module_.readout.bias.detach().double().numpy()
    return states @ W.T + b


def flipflop(fig_axes):
    est = zoo.load("gru_flipflop")
    batch = make_task("flipflop", 64, noise=0.0, random_state=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        fps = est.fixed_points(np.zeros(3), X=batch.X, n_inits=N_INITS, random_state=0,
                               slow_tol=1e-6)
    for w in caught:
        print("warning:", w.message)
    c = fps.counts()
    fixed = fps.select(fps.labels != "slow")
    print(f"\ngru_flipflop: {fps}")
    print(" label   unstable modes   q        max|lambda|   readout (3 bits)")
    for lab, n, q, ev, out in zip(fixed.labels, fixed.n_unstable, fixed.q, fixed.eigenvalues,
                                  readout(est, fixed.states)):
        print(f" {lab:<8}{n:>6}        {q:9.1e}   {abs(ev[0]):.4f}        "
              f"{np.round(out, 2).tolist()}")
    held = {tuple(int(v) for v in np.sign(np.round(o))) for o, lab in
            zip(readout(est, fixed.states), fixed.labels) if lab == "stable"}
    corners = list(itertools.product([-1, 1], repeat=3))
    print(f"FOUND: gru_flipflop has {c['stable']} stable fixed points and {c['saddle']} saddles "
          f"(unstable modes: {sorted(fixed.n_unstable[fixed.labels == 'saddle'].tolist())}) "
          f"under zero input; {fps.n_converged}/{N_INITS} searches reached q <= {fps.tol:g} "
          f"and {c['slow']} distinct slow points have {fps.tol:g} < q <= 1e-6. Sussillo & "
          f"Barak report 8 stable points (one per memory state).")
    print(f"FOUND: stable points' readouts (rounded): {sorted(held)}; of the 8 +-1 memory "
          f"states, {sum(cn in held for cn in corners)} have a stable fixed point.")
    slow = fps.select(fps.labels == "slow")
    pattern = [tuple(int(v) for v in np.clip(np.round(o), -1, 1))
               for o in readout(est, slow.states)]
    print(" memory state   slow points   smallest q   unstable modes there")
    covered = 0
    for cn in corners:
        sel = np.array([pt == cn for pt in pattern], dtype=bool)
        if sel.any():
            covered += 1
            i = np.argmin(np.where(sel, slow.q, np.inf))
            print(f" {str(cn):<14}{int(sel.sum()):>8}      {slow.q[i]:9.1e}   "
                  f"{int(slow.n_unstable[i])} (max|lambda| {abs(slow.eigenvalues[i][0]):.4f})")
    print(f"FOUND: slow points (q <= 1e-6) read out as {covered} of the 8 +-1 memory states.")

    # the speed where the network actually holds each memory state (last 10 steps of a hold)
    Z = est.transform(batch.X)
    params = {k: v.detach().double() for k, v in est.module_.cell_params().items()}
    system = CellSystem(est.module_.cell, params, np.zeros(3))
    pulses = np.abs(batch.X).sum(-1) > 0.5
    quiet = np.ones_like(pulses)
    for lag in range(10):
        quiet[:, lag:] &= ~pulses[:, :pulses.shape[1] - lag]
    speeds = []
    for cn in corners:
        sel = np.all(batch.y == np.array(cn), -1) & quiet
        if sel.any():
            with torch.no_grad():
                q = system.q(torch.as_tensor(Z[sel]))
            speeds.append((cn, int(sel.sum()), float(q.median())))
    print(" memory state   held states   median q there")
    for cn, n, q in speeds:
        print(f" {str(cn):<14}{n:>8}      {q:9.2e}")
    qs = np.array([q for _, _, q in speeds])
    print(f"FOUND: on the states where the network holds a +-1 memory state (10+ steps after "
          f"the last pulse), the median speed q is {qs.min():.1e} to {qs.max():.1e} across the "
          f"{len(speeds)} states seen, i.e. |F(z) - z| <= {np.sqrt(2 * qs.max()):.1e} per step.")

    ax0, ax1 = fig_axes
    plot_fixed_points(Z[:24], fps, ax=ax0, marker_size=40)
    ax0.set_title("gru_flipflop: trajectories and fixed points")
    plot_eigenvalues(fixed, ax=ax1)
    return fps


def memory_pro(fig_axes):
    snaps = zoo.load("gru_memory_pro", checkpoints=True)
    batch = make_task("memory_pro", 8, noise=0.0, random_state=0)
    x_memory = np.array([1.0, 0.0, 0.0])       # fixation on, stimulus off
    rows = []
    print("\ngru_memory_pro checkpoints (memory-period input x = (1, 0, 0)):")
    print(" iteration   loss    P time var95   stable saddle slow   lambda_1   lambda_2   "
          "lambda_3")
    for s in snaps:
        est = s.estimator
        D = est.decompose(batch.X, batch.y)
        rank = D.effective_rank("P", axis="time", reduce="mean", method="var95")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fps = est.fixed_points(x_memory, X=batch.X, n_inits=128, random_state=0,
                                   slow_tol=1e-6)
        spec = est.lyapunov_spectrum(batch.X, k=3)
        c = fps.counts()
        rows.append((s.iteration, s.loss, rank, c["stable"], c["saddle"], c["slow"],
                     *spec.mean))
        print(f" {s.iteration:9d} {s.loss:7.4f}  {rank:10.1f}    {c['stable']:6d} "
              f"{c['saddle']:6d} {c['slow']:4d}   {spec.mean[0]:8.4f}   {spec.mean[1]:8.4f}   "
              f"{spec.mean[2]:8.4f}", flush=True)
    R = np.array(rows)
    first, last = R[0], R[-1]
    print(f"FOUND: gru_memory_pro, iteration {int(first[0])} -> {int(last[0])}: P time-axis var95 "
          f"rank {first[2]:.1f} -> {last[2]:.1f}; under the memory-period input stable / saddle / "
          f"slow points {int(first[3])}/{int(first[4])}/{int(first[5])} -> "
          f"{int(last[3])}/{int(last[4])}/{int(last[5])}; top Lyapunov exponent along the trials "
          f"{first[6]:.4f} -> {last[6]:.4f} per step (lambda_2 {first[7]:.4f} -> {last[7]:.4f}).")
    ax0, ax1 = fig_axes
    plot_exponents_over_training(R[:, 0], R[:, 6:9], k=3, loss=R[:, 1], ax=ax0)
    ax0.set_title("gru_memory_pro: leading exponents")
    ax1.plot(R[:, 0], R[:, 2], "o-", label="P time var95")
    ax1.set(xlabel="iteration", ylabel="effective rank", title="P's time-axis rank")
    tw = ax1.twinx()
    tw.plot(R[:, 0], R[:, 3], "ks--", label="stable points")
    tw.plot(R[:, 0], R[:, 4], "o--", mfc="none", color="C3", label="saddles")
    tw.plot(R[:, 0], R[:, 5], "x:", color="C7", label="slow points")
    tw.set_ylabel("fixed points (memory input)")
    ax1.legend(loc="upper right", fontsize=8)
    tw.legend(loc="center right", fontsize=8)
    return R


def main():
    torch.set_num_threads(1)
    start = time.perf_counter()
    fig, axes = plt.subplots(2, 2, figsize=(11, 9))
    flipflop(axes[0])
    memory_pro(axes[1])
    fig.tight_layout()
    fig.savefig("examples/figures/flipflop_fixed_points.png", dpi=110)
    print(f"\nsaved examples/figures/flipflop_fixed_points.png "
          f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
