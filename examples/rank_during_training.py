"""Effective ranks of K and P along training (Memory-Pro, rnn and gru checkpoints of the zoo).

Paper finding (KPFlow): the Parameter Operator K is low-rank and stays below the Linearized
Flow Propagator P throughout training, for vanilla RNNs and GRUs; and P's time-axis effective
rank (``reduce="mean"``, var95) falls sharply as the network learns the memory.

This example loads the checkpoint trajectories of ``rnn_memory_pro`` and ``gru_memory_pro``
from the zoo and, at every snapshot, builds the KPFlow decomposition on one fixed batch of 8
noise-free Memory-Pro trials (evenly spaced angles) and measures

- time axis, ``reduce="mean"`` (the paper's figures): var95 and participation ratio of K and P
  (P measured through P P*, DESIGN.md section 3);
- whole trajectory space: participation ratio of K and of P P* (randomized estimates).

Run from the repository root: ``python examples/rank_during_training.py``.
"""

import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from kpflow_sk import zoo
from kpflow_sk.datasets import make_task

MODELS = ["rnn_memory_pro", "gru_memory_pro"]
MEASURES = {  # label -> (operator, axis, reduce, method)
    "K time var95": ("K", "time", "mean", "var95"),
    "P time var95": ("P", "time", "mean", "var95"),
    "K time pr": ("K", "time", "mean", "pr"),
    "P time pr": ("P", "time", "mean", "pr"),
    "K whole pr": ("K", None, "trace", "pr"),
    "P whole pr": ("P", None, "trace", "pr"),
}


def measure(est, batch):
    D = est.decompose(batch.X, batch.y)
    out = {}
    for label, (op, axis, reduce, method) in MEASURES.items():
        # exact=False: randomized whole-space estimate (a dense K costs ~3500 applications)
        kw = {"exact": False} if axis is None else {}
        out[label] = D.effective_rank(op, axis=axis, reduce=reduce, method=method, **kw)
    return out


def main():
    # small networks: one thread is fastest (and kind to a shared machine)
    torch.set_num_threads(1)
    start = time.perf_counter()
    batch = make_task("memory_pro", 8, noise=0.0, random_state=0)
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5), sharex="col")
    for col, name in enumerate(MODELS):
        snaps = zoo.load(name, checkpoints=True)
        its = np.array([s.iteration for s in snaps])
        losses = np.array([s.loss for s in snaps])
        rows = []
        print(f"\n{name}: {len(snaps)} snapshots")
        print("iteration    loss  " + "  ".join(f"{k:>12}" for k in MEASURES))
        for s in snaps:
            r = measure(s.estimator, batch)
            rows.append(r)
            print(f"{s.iteration:9d} {s.loss:7.4f}  "
                  + "  ".join(f"{r[k]:12.2f}" for k in MEASURES), flush=True)
        R = {k: np.array([r[k] for r in rows]) for k in MEASURES}
        above_time = np.all(R["P time var95"] > R["K time var95"])
        above_time_pr = np.all(R["P time pr"] > R["K time pr"])
        above_whole = np.all(R["P whole pr"] > R["K whole pr"])
        first, last = R["P time var95"][0], R["P time var95"][-1]
        print(f"FOUND ({name}): P above K at every snapshot on the time axis (var95): "
              f"{above_time}; (pr): {above_time_pr}; on the whole space (pr): {above_whole} "
              f"(final whole-space pr: K {R['K whole pr'][-1]:.1f}, P {R['P whole pr'][-1]:.1f}).")
        print(f"FOUND ({name}): P time-axis var95 rank {first:.1f} at iteration {its[0]} -> "
              f"{last:.1f} at iteration {its[-1]} ({last / first:.2f}x; minimum "
              f"{R['P time var95'].min():.1f}); K time-axis var95 {R['K time var95'][0]:.2f} -> "
              f"{R['K time var95'][-1]:.2f}; loss {losses[0]:.4f} -> {losses[-1]:.4f}.")
        ax = axes[0, col]
        for label, style in (("P time var95", "o-"), ("K time var95", "s-"),
                             ("P whole pr", "o:"), ("K whole pr", "s:")):
            ax.semilogy(its, R[label], style, label=label)
        ax.set(title=name, ylabel="effective rank")
        ax.legend(fontsize=7)
        axes[1, col].semilogy(its, losses, "k.-")
        axes[1, col].set(xlabel="iteration (epoch)", ylabel="training loss")
    fig.tight_layout()
    fig.savefig("examples/figures/rank_during_training.png", dpi=120)
    print(f"\nsaved examples/figures/rank_during_training.png "
          f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
