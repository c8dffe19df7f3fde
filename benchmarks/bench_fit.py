"""Fit-time benchmarks of the estimators (results in benchmarks/README_fit.md).

1. Throughput (training samples per second) of ``RecurrentRegressor(cell="gru")`` against a
   hand-written PyTorch loop with the same ``nn.GRU`` + ``nn.Linear``, the same optimizer
   (Adam), the same batch size and the same shuffling scheme (one ``randperm`` per epoch,
   data resident on the device). The hand loop is the best case: it accumulates the loss on
   the device and syncs once per epoch. Target: estimator >= 0.9x the loop.
2. Cost of KPFlow tracking: the same GRU fit on Memory-Pro with ``kp_track_every=50``
   against ``kp_track_every=0``. Target: <= 25% extra fit time.

Usage::

    python benchmarks/bench_fit.py                       # defaults below, "auto" device
    python benchmarks/bench_fit.py --device cpu --n-samples 500 --epochs 5 --track-epochs 100

Prints one JSON object per measurement and a summary with the two ratios.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings

import numpy as np
import torch

from kpflow_sk.estimators import RecurrentRegressor


def memory_pro(n, seed):
    """Memory-Pro trials (X (n, 90, 3), y (n, 90, 3)), from kpflow_sk.datasets."""
    from kpflow_sk.datasets import make_task

    b = make_task("memory_pro", n, random_state=seed)
    return np.asarray(b.X, dtype=np.float32), np.asarray(b.y, dtype=np.float32)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def hand_loop(X, y, *, hidden, epochs, batch_size, lr, device, seed):
    """The reference: a plain PyTorch training loop, as a user would write it."""
    torch.manual_seed(seed)
    gru = torch.nn.GRU(X.shape[-1], hidden, batch_first=True).to(device)
    readout = torch.nn.Linear(hidden, y.shape[-1]).to(device)
    opt = torch.optim.Adam(list(gru.parameters()) + list(readout.parameters()), lr=lr)
    sync(device)
    t0 = time.perf_counter()
    Xt = torch.from_numpy(X).to(device)
    yt = torch.from_numpy(y).to(device)
    n = Xt.shape[0]
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen).to(device)
        total = torch.zeros((), device=device)
        for start in range(0, n, batch_size):
            b = perm[start:start + batch_size]
            opt.zero_grad(set_to_none=True)
            Z, _ = gru(Xt[b])
            loss = torch.nn.functional.mse_loss(readout(Z), yt[b])
            loss.backward()
            opt.step()
            total += loss.detach() * len(b)
        losses.append(float(total) / n)
    sync(device)
    return time.perf_counter() - t0, losses


def estimator_fit(X, y, *, hidden, epochs, batch_size, lr, device, seed, track_every=0):
    est = RecurrentRegressor(cell="gru", hidden_size=hidden, batch_size=batch_size,
                             learning_rate=lr, max_iter=epochs, tol=0.0,
                             n_iter_no_change=epochs + 1, device=str(device),
                             random_state=seed, kp_track_every=track_every)
    sync(device)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    sync(device)
    return time.perf_counter() - t0, est


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--n-samples", type=int, default=5000)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--epochs", type=int, default=20, help="epochs per throughput run")
    p.add_argument("--repeats", type=int, default=3, help="throughput runs (median)")
    p.add_argument("--track-epochs", type=int, default=200, help="epochs of the tracking fit")
    p.add_argument("--track-every", type=int, default=50)
    p.add_argument("--skip-tracking", action="store_true")
    p.add_argument("--max-track-s", type=float, default=240.0,
                   help="skip the tracked fit when its snapshots would take longer")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else ("cpu" if args.device == "auto" else args.device))
    X, y = memory_pro(args.n_samples, seed=0)
    kw = dict(hidden=args.hidden, batch_size=args.batch_size, lr=1e-3, device=device)
    env = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else
           platform.processor() or "cpu", "torch": torch.__version__,
           "threads": torch.get_num_threads(), "n_samples": args.n_samples,
           "hidden": args.hidden, "batch_size": args.batch_size, "T": int(X.shape[1])}
    print(json.dumps({"env": env}), flush=True)

    # warm-up (allocator, cuDNN plans, lazy imports)
    hand_loop(X[:args.batch_size], y[:args.batch_size], epochs=2, seed=0, **kw)
    estimator_fit(X[:args.batch_size], y[:args.batch_size], epochs=2, seed=0, **kw)

    # 1. throughput, interleaved so drifts in machine load hit both alike
    t_hand, t_est = [], []
    for r in range(args.repeats):
        t, _ = hand_loop(X, y, epochs=args.epochs, seed=r, **kw)
        t_hand.append(t)
        t, _ = estimator_fit(X, y, epochs=args.epochs, seed=r, **kw)
        t_est.append(t)
    work = args.n_samples * args.epochs
    sps_hand = work / float(np.median(t_hand))
    sps_est = work / float(np.median(t_est))
    print(json.dumps({"throughput": {"hand_loop_samples_per_s": sps_hand,
                                     "estimator_samples_per_s": sps_est,
                                     "hand_loop_s": t_hand, "estimator_s": t_est}}),
          flush=True)
    summary = {"throughput_ratio_estimator_over_loop": sps_est / sps_hand}

    # 2. tracking overhead
    if not args.skip_tracking:
        t_off, est_off = estimator_fit(X, y, epochs=args.track_epochs, seed=0, **kw)
        # one snapshot alone first: what tracking will cost, before paying for it
        sync(device)
        t0 = time.perf_counter()
        est_off.kp_decompose_.history_record()
        sync(device)
        t_snap = time.perf_counter() - t0
        n_snap = 1 + args.track_epochs // args.track_every
        print(json.dumps({"snapshot": {"seconds": t_snap, "fit_s_without": t_off,
                                       "predicted_extra": n_snap * t_snap / t_off}}),
              flush=True)
        if n_snap * t_snap > args.max_track_s:
            print(json.dumps({"tracking": "skipped: predicted over --max-track-s"}))
            print(json.dumps({"summary": summary}), flush=True)
            return
        t_on, est = estimator_fit(X, y, epochs=args.track_epochs, seed=0,
                                  track_every=args.track_every, **kw)
        print(json.dumps({"tracking": {"fit_s_without": t_off, "fit_s_with": t_on,
                                       "snapshots": len(est.kp_history_),
                                       "epochs": args.track_epochs,
                                       "kp_track_every": args.track_every,
                                       "kp_n_trials": est.kp_n_trials}}), flush=True)
        summary["tracking_extra_fit_time"] = t_on / t_off - 1.0
    print(json.dumps({"summary": summary}), flush=True)


if __name__ == "__main__":
    main()
