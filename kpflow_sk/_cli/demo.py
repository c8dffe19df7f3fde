"""``kpflow-sk demo``: the main job, a GRU on the KPFlow paper's four tasks, tracked.

Fits a :class:`~kpflow_sk.RecurrentRegressor` GRU on Memory/Delay Pro/Anti composed with the
paper's context encoding (T = 120 steps, 7 inputs, 3 outputs). Every ``snapshot_every``
epochs a callback measures, on a fixed noise-free probe batch (the same ``n_angles``
stimulus angles in every task), the held-out accuracy and the Pro/Anti **grouping index** of
the hidden trajectories and of the decomposed updates ``dz_j = - P K P* err_j``
(:mod:`kpflow_sk.analysis`: ``trajectory_grouping``, ``grouping_index``). The command prints
the numbers per snapshot and the verdict :func:`kpflow_sk.analysis.grouping_verdict`
computes from them (whatever they say), then writes the report folder (PNG figures,
``results.json``, a self-contained ``report.html``) with
:func:`kpflow_sk.plotting.write_model_report`.

``DEMO`` is sized to finish within about 3 minutes on a 2-core CPU; ``QUICK`` is a few
seconds, for tests.
"""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from kpflow_sk._cli.args import positive_int
from kpflow_sk._cli.text import format_table

__all__ = ["DemoConfig", "DEMO", "QUICK", "run_demo", "render_grouping", "add_parser"]


@dataclass(frozen=True)
class DemoConfig:
    """Sizes of the demo fit (see ``RecurrentRegressor`` for the estimator parameters)."""

    hidden_size: int = 64
    max_iter: int = 30
    snapshot_every: int = 3       # epochs between grouping snapshots (and KPFlow ones)
    n_samples: int = 512          # training trials (128 per task)
    n_test: int = 200             # held-out trials for the accuracies
    n_angles: int = 8             # probe batch: these angles in every task, noise-free
    batch_size: int = 32
    learning_rate: float = 1e-2
    kp_n_trials: int = 16         # analysis batch: 4 trials per task
    # Hutch++ budget of the whole-space ranks; with over 4096 cell parameters (H >= 40)
    # they are estimated, not diagonalised densely
    kp_probes: int = 64
    spectra_k: int = 20
    task_params: dict = field(default_factory=dict)


#: The demo as `make demo` runs it.
DEMO = DemoConfig()
#: A few epochs on short trials (T = 40), for tests.
QUICK = DemoConfig(hidden_size=48, max_iter=3, snapshot_every=1, n_samples=32, n_test=16,
                   n_angles=4, batch_size=16, kp_n_trials=8, kp_probes=24, spectra_k=6,
                   task_params=dict(stimulus_steps=10, memory_steps=10, response_steps=10,
                                    context_steps=10))


def _probe_batch(cfg, seed):
    """The same ``n_angles`` evenly spaced angles in each task, no noise, grouped by task."""
    from kpflow_sk.analysis import GROUPING_TASKS as TASKS
    from kpflow_sk.datasets import make_dataset

    return make_dataset(TASKS, len(TASKS) * cfg.n_angles, rule_inputs="context", noise=0.0,
                        shuffle=False, random_state=seed, **cfg.task_params)


def _grouping_record(est, probe, test, epoch, loss):
    """One snapshot: held-out accuracies and the grouping of Z and dz on the probe batch."""
    from kpflow_sk.analysis import grouping_index, trajectory_grouping
    from kpflow_sk.datasets import score_task

    rec = {"epoch": epoch, "loss": loss}
    pred = est.predict(test.X)
    rec["accuracy"] = {t: score_task(t, pred, test) for t in test.task_names}
    rec["min_accuracy"] = min(rec["accuracy"].values())
    rec.update(trajectory_grouping(est.transform(probe.X), probe.task_ids))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        C_dz = est.decompose(probe.X, probe.y, task_ids=probe.task_ids,
                             mask=probe.mask).task_alignment()
    rec.update(grouping_dz=grouping_index(C_dz), cos_dz=np.asarray(C_dz))
    return rec


class _GroupingSnapshots:
    """Callback: the grouping record after every ``every``-th epoch (and the progress bar)."""

    def __init__(self, probe, test, every, pbar=None):
        self.probe, self.test, self.every, self.pbar = probe, test, every, pbar
        self.records = []

    def on_epoch_end(self, est, record):
        epoch = int(record["epoch"])
        if epoch % self.every == 0:
            self.records.append(_grouping_record(est, self.probe, self.test, epoch,
                                                 float(record["loss"])))
        if self.pbar is not None:
            self.pbar.update(1)
            post = {"loss": f"{record['loss']:.4g}"}
            if self.records:
                post["min_acc"] = f"{self.records[-1]['min_accuracy']:.2f}"
            self.pbar.set_postfix(post)
        return False


def render_grouping(records):
    """The per-snapshot grouping table (text)."""
    rows = [[r["epoch"], r["loss"], r["min_accuracy"], r["grouping_Z"],
             r["grouping_Z_centred"], r["grouping_dz"]] for r in records]
    return format_table(rows, ["epoch", "train loss", "min acc (held out)", "grouping Z",
                               "grouping Z (shared removed)", "grouping dz"])


def run_demo(out="kpflow_report", *, max_iter=None, hidden_size=None, seed=0, quick=False,
             n_threads=None, progress=True, stream=None):
    """Fit, print the results tables and write the report folder.

    Parameters
    ----------
    out : str or path-like, default="kpflow_report"
        Report folder.
    max_iter, hidden_size : int, optional
        Override the configuration's.
    seed : int, default=0
        Seeds the data (held-out trials: ``seed + 1``), the weights and the analysis.
    quick : bool, default=False
        Use ``QUICK`` instead of ``DEMO``.
    n_threads : int or None
        Torch threads during the fit (None: torch's setting).
    progress : bool, default=True
        tqdm progress bar over the epochs (on stderr).
    stream : file, optional
        Where the tables go (default: ``sys.stdout``).

    Returns
    -------
    results : dict
        ``report`` (path of report.html), ``n_figures``, ``final_loss``, ``loss_curve``,
        ``collapse_dim``, ``task_alignment``, ``task_names``, ``scores``, ``grouping``
        (one record per snapshot), ``verdict``, ``seconds``.
    """
    from sklearn.exceptions import ConvergenceWarning

    from kpflow_sk._cli.report import render_text
    from kpflow_sk.analysis import GROUPING_TASKS as TASKS
    from kpflow_sk.analysis import grouping_verdict
    from kpflow_sk.datasets import dataset_from_recipe, make_recipe
    from kpflow_sk.estimators import RecurrentRegressor
    from kpflow_sk.plotting import plot_grouping, report_measures, write_model_report

    stream = sys.stdout if stream is None else stream
    t0 = time.perf_counter()
    cfg = QUICK if quick else DEMO
    cfg = replace(cfg, **{k: v for k, v in dict(max_iter=max_iter,
                                                hidden_size=hidden_size).items()
                          if v is not None})
    every = max(1, min(cfg.snapshot_every, cfg.max_iter))
    recipe = make_recipe(TASKS, cfg.n_samples, seed, rule_inputs="context",
                         task_params=cfg.task_params)
    recipe["test_seed"] = seed + 1
    train = dataset_from_recipe(recipe)
    test = dataset_from_recipe(recipe, n_samples=cfg.n_test, random_state=recipe["test_seed"])
    probe = _probe_batch(cfg, seed + 2)
    n, T, d_in = train.X.shape
    pbar = None
    if progress:
        from tqdm.auto import tqdm

        pbar = tqdm(total=cfg.max_iter, desc="RecurrentRegressor (demo)", unit="epoch",
                    file=sys.stderr)
    snapshots = _GroupingSnapshots(probe, test, every, pbar)
    est = RecurrentRegressor(
        cell="gru", hidden_size=cfg.hidden_size, max_iter=cfg.max_iter,
        learning_rate=cfg.learning_rate, batch_size=cfg.batch_size,
        n_iter_no_change=cfg.max_iter,  # run every epoch: the plateau is part of the story
        random_state=seed, n_threads=n_threads, callbacks=[snapshots],
        kp_track_every=every, kp_n_trials=cfg.kp_n_trials, kp_probes=cfg.kp_probes)
    print(f"kpflow-sk demo: GRU ({cfg.hidden_size} units) on {', '.join(TASKS)}\n"
          f"  {n} training trials (T={T} steps, {d_in} inputs, {train.y.shape[2]} outputs), "
          f"{cfg.max_iter} epochs; every {every} epoch(s): a KPFlow snapshot on "
          f"{cfg.kp_n_trials} training trials and the Pro/Anti grouping on a noise-free "
          f"probe batch ({cfg.n_angles} angles per task)", file=stream, flush=True)
    ts = time.perf_counter()
    try:
        with warnings.catch_warnings():
            # all max_iter epochs run on purpose (n_iter_no_change = max_iter)
            warnings.filterwarnings("ignore", message="Maximum iterations",
                                    category=ConvergenceWarning)
            est.fit(train.X, train.y, task_ids=train.task_ids, mask=train.mask)
    finally:
        if pbar is not None:
            pbar.close()
    fit_s = time.perf_counter() - ts
    records = snapshots.records
    D = est.kp_decompose_
    m = report_measures(est, D, test, history=est.kp_history_, spectra_k=cfg.spectra_k,
                        progress=progress)
    header = (f"\nTrained {est.n_iter_} epochs in {fit_s:.1f} s (with the KPFlow and "
              f"grouping snapshots): training loss {est.loss_curve_[0]:.4g} (epoch 1) -> "
              f"{est.loss_curve_[-1]:.4g} (epoch {est.n_iter_})")
    print(render_text(m, header=header), file=stream, flush=True)
    text, onsets = grouping_verdict(records)
    print("\nPro/Anti grouping over training (index = mean cosine within same-rule pairs - "
          "mean across Pro/Anti pairs; trajectories Z on the probe batch, updates dz = "
          "-P K P* err_j)", file=stream)
    print(render_grouping(records), file=stream)
    print(f"\nVerdict: {text}", file=stream, flush=True)

    grouping_rows = [{"epoch": r["epoch"], "train loss": r["loss"],
                      "min accuracy (held out)": r["min_accuracy"],
                      "grouping Z": r["grouping_Z"],
                      "grouping Z (shared removed)": r["grouping_Z_centred"],
                      "grouping dz": r["grouping_dz"]} for r in records]
    path, n_fig = write_model_report(
        out, title="kpflow-sk demo: a GRU on Memory/Delay Pro/Anti", est=est, D=D,
        test=test, m=m, recipe=recipe,
        extra={"demo_config": asdict(cfg), "fit_seconds": fit_s,
               "grouping": records, "grouping_verdict": text, **onsets,
               "total_seconds": time.perf_counter() - t0},
        findings=[("Pro/Anti grouping (the paper's four-task finding)", text)],
        extra_figures=[("grouping", plot_grouping(records, TASKS),
                        "Left: the grouping index every few epochs of training; above the "
                        "dashed line a measure counts as grouped. Compare when the updates "
                        "dz (circles) and the trajectories Z (squares) cross it. Middle and "
                        "right: the final cosine matrices (rows and columns in task order); "
                        "Pro/Pro and Anti/Anti entries should be the high ones.")],
        extra_tables={"Pro/Anti grouping per snapshot": grouping_rows})
    seconds = time.perf_counter() - t0
    print(f"\nReport: {path} (+ results.json, {n_fig} PNG figures)\n"
          f"Done in {seconds:.0f} s.", file=stream)
    return {"report": path, "n_figures": n_fig, "final_loss": est.loss_curve_[-1],
            "loss_curve": list(est.loss_curve_), "collapse_dim": m["summary"]["collapse_dim"],
            "task_alignment": m["task_alignment"], "task_names": m["alignment_names"],
            "scores": m["scores"], "grouping": records, "verdict": text,
            "seconds": seconds}


def _run(args, out):
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
