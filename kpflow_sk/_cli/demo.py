"""``kpflow-sk demo``: the main job (:func:`kpflow_sk._demo.run_demo`)."""

from __future__ import annotations

from kpflow_sk._cli.args import positive_int

__all__ = ["add_parser"]


def _run(args, out):
    from kpflow_sk._demo import run_demo

    run_demo(args.out, max_iter=args.max_iter, hidden_size=args.hidden_size, seed=args.seed,
             quick=args.quick, n_threads=args.threads or args.default_threads,
             progress=not args.no_progress, stream=out)
    return 0


def add_parser(subparsers):
    p = subparsers.add_parser(
        "demo", help="fit a GRU on the four KPFlow tasks and write a report (the main job)",
        description="Fit a GRU on Memory/Delay Pro/Anti (the KPFlow paper's multi-task "
                    "setting) with KPFlow tracking on, print the loss, the collapse dim "
                    "over training, the task alignment matrix and the Pro/Anti grouping "
                    "index of the trajectories and of the decomposed updates per snapshot "
                    "with a verdict, and write a report folder (PNG figures, results.json, "
                    "report.html). About one minute of CPU time (one thread).")
    p.add_argument("--out", default="kpflow_report", metavar="DIR",
                   help="report folder (default: ./kpflow_report)")
    p.add_argument("--max-iter", type=positive_int, metavar="N",
                   help="training epochs (default: 30; 3 with --quick)")
    p.add_argument("--hidden-size", type=positive_int, metavar="H",
                   help="GRU units (default: 64; 48 with --quick)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--quick", action="store_true",
                   help="a few epochs on short trials (seconds; for tests)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    # one thread: the demo's small GRU kernels gain little from a second one, and with the
    # cores shared (another job running) two threads made each epoch 10-15x slower
    p.set_defaults(run=_run, default_threads=1)
    return p
