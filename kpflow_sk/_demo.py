"""The main job (``kpflow-sk demo``): a GRU on the KPFlow paper's four tasks, tracked.

Fits a :class:`~kpflow_sk.RecurrentRegressor` GRU on Memory/Delay Pro/Anti composed with the
paper's context encoding (T = 120 steps, 7 inputs, 3 outputs), with a KPFlow snapshot every
few epochs; prints the loss, the collapse dim over training and the task alignment matrix;
writes a report folder (PNG figures, ``results.json``, a self-contained ``report.html``).

The defaults are sized to finish in about a minute and a half on a 2-core CPU (see
``DEMO``); ``QUICK`` is a few seconds, for tests.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field, replace

__all__ = ["DemoConfig", "DEMO", "QUICK", "TASKS", "run_demo"]

TASKS = ("memory_pro", "memory_anti", "delay_pro", "delay_anti")


@dataclass(frozen=True)
class DemoConfig:
    """Sizes of the demo fit (see ``RecurrentRegressor`` for the estimator parameters)."""

    hidden_size: int = 64
    max_iter: int = 40
    n_samples: int = 256          # training trials (64 per task)
    n_test: int = 200             # held-out trials for the accuracies
    batch_size: int = 32
    learning_rate: float = 1e-2
    kp_track_every: int = 4
    kp_n_trials: int = 16         # analysis batch: 4 trials per task
    # Hutch++ budget of the whole-space ranks; with over 4096 cell parameters (H >= 40)
    # they are estimated, not diagonalised densely
    kp_probes: int = 64
    spectra_k: int = 20
    task_params: dict = field(default_factory=dict)


#: The demo as `make demo` runs it.
DEMO = DemoConfig()
#: A few epochs on short trials (T = 40), for tests.
QUICK = DemoConfig(hidden_size=48, max_iter=3, n_samples=32, n_test=16, batch_size=16,
                   kp_track_every=1, kp_n_trials=8, kp_probes=24, spectra_k=6,
                   task_params=dict(stimulus_steps=10, memory_steps=10, response_steps=10,
                                    context_steps=10))


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
        ``collapse_dim``, ``task_alignment``, ``task_names``, ``scores``, ``seconds``.
    """
    from kpflow_sk._cli.data import make_data, make_recipe
    from kpflow_sk._cli.fit import _fit_estimator
    from kpflow_sk._cli.report import measure, render_text, write_model_report
    from kpflow_sk.estimators import RecurrentRegressor

    stream = sys.stdout if stream is None else stream
    t0 = time.perf_counter()
    cfg = QUICK if quick else DEMO
    cfg = replace(cfg, **{k: v for k, v in dict(max_iter=max_iter,
                                                hidden_size=hidden_size).items()
                          if v is not None})
    recipe = make_recipe(TASKS, cfg.n_samples, seed, rule_inputs="context",
                         task_params=cfg.task_params)
    recipe["test_seed"] = seed + 1
    train = make_data(recipe)
    test = make_data(recipe, n_samples=cfg.n_test, random_state=recipe["test_seed"])
    n, T, d_in = train.X.shape
    est = RecurrentRegressor(
        cell="gru", hidden_size=cfg.hidden_size, max_iter=cfg.max_iter,
        learning_rate=cfg.learning_rate, batch_size=cfg.batch_size,
        n_iter_no_change=cfg.max_iter,  # run every epoch: the plateau is part of the story
        random_state=seed, verbose=int(progress), n_threads=n_threads,
        kp_track_every=cfg.kp_track_every, kp_n_trials=cfg.kp_n_trials,
        kp_probes=cfg.kp_probes)
    print(f"kpflow-sk demo: GRU ({cfg.hidden_size} units) on {', '.join(TASKS)}\n"
          f"  {n} training trials (T={T} steps, {d_in} inputs, {train.y.shape[2]} outputs), "
          f"{cfg.max_iter} epochs, KPFlow snapshot every {cfg.kp_track_every} epoch(s) on "
          f"{cfg.kp_n_trials} trials", file=stream, flush=True)
    fit_s = _fit_estimator(est, train)
    D = est.kp_decompose_
    m = measure(est, D, test, history=est.kp_history_, spectra_k=cfg.spectra_k)
    header = (f"\nTrained {est.n_iter_} epochs in {fit_s:.1f} s: training loss "
              f"{est.loss_curve_[0]:.4g} (epoch 1) -> {est.loss_curve_[-1]:.4g} "
              f"(epoch {est.n_iter_})")
    print(render_text(m, header=header), file=stream, flush=True)
    path, n_fig = write_model_report(
        out, title="kpflow-sk demo: a GRU on Memory/Delay Pro/Anti", est=est, D=D,
        test=test, m=m, recipe=recipe,
        extra={"demo_config": asdict(cfg), "fit_seconds": fit_s,
               "total_seconds": time.perf_counter() - t0})
    seconds = time.perf_counter() - t0
    print(f"\nReport: {path} (+ results.json, {n_fig} PNG figures)\n"
          f"Done in {seconds:.0f} s.", file=stream)
    return {"report": path, "n_figures": n_fig, "final_loss": est.loss_curve_[-1],
            "loss_curve": list(est.loss_curve_), "collapse_dim": m["summary"]["collapse_dim"],
            "task_alignment": m["task_alignment"], "task_names": m["alignment_names"],
            "scores": m["scores"], "seconds": seconds}
