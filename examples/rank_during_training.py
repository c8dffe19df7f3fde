"""Effective ranks of K and P along training (Memory-Pro, rnn and gru checkpoints of the zoo).

Paper finding (KPFlow; poster Fig. 4, "effective rank over GD"): the Parameter Operator K is
low-rank and stays below the Linearized Flow Propagator P throughout training; P's time-axis
effective rank collapses as the network learns the memory. The poster's values (reference
code, "figure" convention, GRU-256 on Memory-Pro; docs/conventions.md s. 3): time-axis rank of
K about 0.95 throughout; of P P* 36 -> 40 early, collapsing to about 1 and settling at 2-3
when the loss falls.

This example loads the checkpoint trajectories of ``rnn_memory_pro`` and ``gru_memory_pro``
from the zoo and, at every snapshot, builds the KPFlow decomposition on one fixed batch of 8
noise-free Memory-Pro trials (evenly spaced angles) and measures, under two conventions
(``convention=`` of :meth:`KPDecomposition.effective_rank`, docs/conventions.md section 3.1):

- ``"figure"`` (the paper's figure): time axis, Gram K^2 / P P* / Theta^2 compressed with
  ``reduce="mean"``, var95 of the squared eigenvalues over the top ``ncomp`` (20 for K and
  Theta, 60 for P, as in the authors' over-training script);
- ``"default"`` (this package): time axis, ``reduce="mean"``, var95 and participation ratio
  of K and P P* themselves; and the whole trajectory space, participation ratio of K and
  P P* (randomized estimates).

It prints one verdict per claim (lines starting with ``FOUND``) with the poster's value
beside the measured one. Run from the repository root:
``python examples/rank_during_training.py``.
"""

import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from kpflow_sk import zoo
from kpflow_sk.datasets import make_task
from kpflow_sk.linalg import format_estimate

MODELS = ["rnn_memory_pro", "gru_memory_pro"]
MEASURES = {  # label -> (operator, axis, reduce, method, convention)
    "K time fig": ("K", "time", None, None, "figure"),
    "P time fig": ("P", "time", None, None, "figure"),
    "Theta time fig": ("Theta", "time", None, None, "figure"),
    "K time var95": ("K", "time", "mean", "var95", "default"),
    "P time var95": ("P", "time", "mean", "var95", "default"),
    "K time pr": ("K", "time", "mean", "pr", "default"),
    "P time pr": ("P", "time", "mean", "pr", "default"),
    "K whole pr": ("K", None, "trace", "pr", "default"),
    "P whole pr": ("P", None, "trace", "pr", "default"),
}
#: The poster's values (docs/conventions.md section 3.1), "figure" convention.
POSTER = {"K": 0.95, "P early": (36, 40), "P collapse": 1.0, "P settle": (2, 3)}


def measure(est, batch):
    """Rank results by label (float() gives the value; format_estimate its uncertainty)."""
    D = est.decompose(batch.X, batch.y)
    out = {}
    for label, (op, axis, reduce, method, convention) in MEASURES.items():
        # exact=False: randomized whole-space estimate (a dense K costs ~3500 applications),
        # to the default 2% relative tolerance
        kw = {"exact": False} if axis is None else {}
        out[label] = D.effective_rank(op, axis=axis, reduce=reduce, method=method,
                                      convention=convention, return_result=True, **kw)
    return out


def verdicts(name, R, losses, its):
    """One FOUND line per claim, the poster's value beside the measured one."""
    K, P = R["K time fig"], R["P time fig"]
    ok = bool(np.all(np.abs(K - POSTER["K"]) <= 0.05))
    print(f"FOUND ({name}) [figure] K time-axis rank about 0.95 throughout (poster 0.95): "
          f"{K.min():.3f}-{K.max():.3f} -> {'reproduced' if ok else 'not reproduced'}.")
    lo, hi = POSTER["P early"]
    rises = bool(P[1] > P[0])
    print(f"FOUND ({name}) [figure] P P* early: poster {lo} -> {hi} (rising); here "
          f"{P[0]:.1f} -> {P[1]:.1f} -> {P[2]:.1f} at iterations {its[0]}, {its[1]}, {its[2]} "
          f"-> {'reproduced' if rises and lo - 5 <= P[0] <= hi + 5 else 'not reproduced'} "
          f"({'rises' if rises else 'falls'} from the first snapshot, starts "
          f"{'inside' if lo - 5 <= P[0] <= hi + 5 else 'outside'} 31-45; the first "
          f"checkpoint is iteration {its[0]}, and the poster's network is a GRU-256).")
    i_min = int(np.argmin(P))
    collapsed = bool(P.min() <= 2.0)
    print(f"FOUND ({name}) [figure] P P* collapses to about 1 (poster ~1): minimum "
          f"{P.min():.2f} at iteration {its[i_min]} -> "
          f"{'reproduced' if collapsed else 'not reproduced'}; from {P[0]:.1f} to "
          f"{P[-1]:.2f} ({P[-1] / P[0]:.3f}x) while the loss falls {losses[0]:.4f} -> "
          f"{losses[-1]:.4f}.")
    a, b = POSTER["P settle"]
    tail = P[-3:]
    inside = bool(np.all((tail >= a - 0.5) & (tail <= b + 0.5)))
    print(f"FOUND ({name}) [figure] P P* settles at 2-3 (poster): last three snapshots "
          + ", ".join(f"{v:.2f}" for v in tail)
          + f" -> {'reproduced' if inside else 'not reproduced'} (tolerance 0.5)"
          + ("" if inside else f" (settles {'below' if tail.mean() < a else 'above'} 2-3)")
          + ".")
    above = bool(np.all(P > K))
    print(f"FOUND ({name}) [figure] P above K at every snapshot (time axis): {above} "
          f"(smallest gap {np.min(P - K):.3f}).")
    above_d = bool(np.all(R["P time var95"] > R["K time var95"]))
    above_w = bool(np.all(R["P whole pr"] > R["K whole pr"]))
    pv = R["P time var95"]
    print(f"FOUND ({name}) [default] P above K at every snapshot on the time axis (var95): "
          f"{above_d}; on the whole space (pr, randomized): {above_w} (final whole-space pr: "
          f"K {R['K whole pr'][-1]:.1f}, P {R['P whole pr'][-1]:.1f}).")
    print(f"FOUND ({name}) [default] P time-axis var95 rank {pv[0]:.1f} -> {pv[-1]:.1f} "
          f"({pv[-1] / pv[0]:.2f}x; minimum {pv.min():.1f}); participation ratio "
          f"{R['P time pr'][0]:.1f} -> {R['P time pr'][-1]:.2f}; K time var95 "
          f"{R['K time var95'][0]:.2f} -> {R['K time var95'][-1]:.2f}. The package's own "
          f"var95 of P P*'s eigenvalues (not squared, all 90) is not the figure's number.")


def main():
    # small networks: one thread is fastest (and kind to a shared machine)
    torch.set_num_threads(1)
    start = time.perf_counter()
    batch = make_task("memory_pro", 8, noise=0.0, random_state=0)
    fig, axes = plt.subplots(3, 2, figsize=(10, 9), sharex="col")
    for col, name in enumerate(MODELS):
        snaps = zoo.load(name, checkpoints=True)
        its = np.array([s.iteration for s in snaps])
        losses = np.array([s.loss for s in snaps])
        rows = []
        print(f"\n{name}: {len(snaps)} snapshots (fig = convention 'figure'; var95, pr = "
              "convention 'default')")
        print("iteration    loss  " + "  ".join(f"{k:>14}" for k in MEASURES))
        for s in snaps:
            res = measure(s.estimator, batch)
            r = {k: float(v) for k, v in res.items()}
            rows.append(r)
            flags = [k for k, v in res.items() if v.bound or v.hit_cap]
            print(f"{s.iteration:9d} {s.loss:7.4f}  "
                  + "  ".join(f"{r[k]:14.2f}" for k in MEASURES)
                  + (f"  (bound / hit cap: {', '.join(flags)})" if flags else ""), flush=True)
        R = {k: np.array([r[k] for r in rows]) for k in MEASURES}
        print(f"final whole-space estimates: K {format_estimate(res['K whole pr'])}; "
              f"P P* {format_estimate(res['P whole pr'])}")
        verdicts(name, R, losses, its)
        ax = axes[0, col]
        for label, style in (("P time fig", "o-"), ("K time fig", "s-"),
                             ("Theta time fig", "^-")):
            ax.semilogy(its, R[label], style, label=label)
        ax.axhspan(*POSTER["P settle"], color="0.85", label="poster: P settles (2-3)")
        ax.axhline(POSTER["K"], color="0.5", ls=":", label="poster: K (0.95)")
        ax.set(title=f"{name}: convention 'figure' (paper)", ylabel="effective rank")
        ax.legend(fontsize=7)
        ax = axes[1, col]
        for label, style in (("P time var95", "o-"), ("K time var95", "s-"),
                             ("P whole pr", "o:"), ("K whole pr", "s:")):
            ax.semilogy(its, R[label], style, label=label)
        ax.set(title=f"{name}: convention 'default' (this package)", ylabel="effective rank")
        ax.legend(fontsize=7)
        axes[2, col].semilogy(its, losses, "k.-")
        axes[2, col].set(xlabel="iteration (epoch)", ylabel="training loss")
    fig.tight_layout()
    fig.savefig("examples/figures/rank_during_training.png", dpi=120)
    print(f"\nsaved examples/figures/rank_during_training.png "
          f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
