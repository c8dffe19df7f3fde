"""``kpflow-sk fit`` (task, cell, hyperparameters -> model file and report) and
``kpflow-sk analyze`` (model file or zoo name -> report)."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np

from kpflow_sk._cli.args import key_value, nonnegative_int, positive_int, seed, task_names
from kpflow_sk._cli.errors import CLIError, UsageError
from kpflow_sk._cli.options import add_estimator_arguments, estimator_params

__all__ = ["add_parsers", "add_data_arguments", "build_estimator"]


# ====================================================================== shared arguments
def add_data_arguments(p, *, n_samples=256):
    g = p.add_argument_group("data")
    g.add_argument("--n-samples", type=positive_int, default=n_samples, metavar="N",
                   help=f"training trials (default: {n_samples})")
    g.add_argument("--task-param", type=key_value, action="append", default=[],
                   metavar="KEY=VALUE",
                   help="task generator parameter, e.g. --task-param memory_steps=10 "
                        "(repeatable; see `kpflow-sk tasks show NAME`)")
    g.add_argument("--seed", type=seed, default=0,
                   help="seeds the data, the weights and the analysis (default: 0)")
    return g


def build_estimator(args, *, cell=None, verbose=0, **overrides):
    """A ``RecurrentRegressor`` from the parsed options; bad values -> ``UsageError``."""
    from sklearn.utils._param_validation import InvalidParameterError

    from kpflow_sk.estimators import RecurrentRegressor

    est = RecurrentRegressor(**estimator_params(
        args, cell=cell or args.cell, random_state=args.seed, verbose=verbose,
        n_threads=args.threads, **overrides))
    try:
        est._validate_params()  # scikit-learn's check, before any data is generated
    except InvalidParameterError as exc:
        raise UsageError(str(exc)) from None
    return est


def _fit_estimator(est, bunch):
    from sklearn.exceptions import ConvergenceWarning

    fit_kw = {"mask": bunch.mask}
    if len(bunch.task_names) > 1:
        fit_kw["task_ids"] = bunch.task_ids
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        # running all max_iter epochs is what the user asked for, not a problem
        warnings.filterwarnings("ignore", message="Maximum iterations",
                                category=ConvergenceWarning)
        est.fit(bunch.X, bunch.y, **fit_kw)
    return time.perf_counter() - t0


#: files of a report folder that an existing folder must not hold (unless --force)
REPORT_FILES = ("results.json", "report.html")


def add_force_argument(p, what):
    p.add_argument("--force", action="store_true",
                   help=f"overwrite {what} if it exists (default: refuse, exit 2)")


# ====================================================================== fit
def _check_fit_outputs(args):
    """Before training: --out / --model must be writable and not hold earlier results."""
    from kpflow_sk._cli.models import SUFFIX
    from kpflow_sk._cli.paths import check_output_dir, check_output_file

    files = [] if args.no_report else list(REPORT_FILES)
    if args.model:
        check_output_file(args.model, force=args.force, option="--model")
    else:
        files.append(f"model{SUFFIX}")
    if files:
        check_output_dir(args.out, files, force=args.force)


def _fit(args, out):
    from kpflow_sk._cli.models import SUFFIX, save_model
    from kpflow_sk._cli.report import render_text
    from kpflow_sk.datasets import dataset_from_recipe, make_recipe
    from kpflow_sk.plotting import report_measures, write_model_report

    if args.rule_inputs and len(args.task) == 1:
        raise UsageError("--rule-inputs needs several tasks (--task a,b,...)")
    est = build_estimator(args, verbose=0 if args.quiet else 1)
    recipe = make_recipe(args.task, args.n_samples, args.seed, rule_inputs=args.rule_inputs,
                         task_params=dict(args.task_param))
    recipe["test_seed"] = args.seed + 1
    try:
        train = dataset_from_recipe(recipe)
        test = dataset_from_recipe(recipe, n_samples=args.n_test,
                                   random_state=recipe["test_seed"])
    except ValueError as exc:  # e.g. an unknown --task-param
        raise UsageError(str(exc)) from None
    _check_fit_outputs(args)
    n, T, d_in = train.X.shape
    print(f"Fitting {args.cell} ({args.hidden_size} units) on {n} trials of "
          f"{', '.join(args.task)} (T={T}, {d_in} inputs, {train.y.shape[2]} outputs), "
          f"up to {args.max_iter} epochs", file=out, flush=True)
    fit_s = _fit_estimator(est, train)
    # fit keeps the last epoch's weights on Ctrl-C; the command stops there, writing nothing
    args.interrupted.check("training")
    model_path = Path(args.model) if args.model else Path(args.out) / f"model{SUFFIX}"
    save_model(est, model_path, recipe)
    m = report_measures(est, est.kp_decompose_, test, history=est.kp_history_,
                        spectra_k=0 if args.no_report else args.spectra_k)
    print(render_text(m, header=f"{est.n_iter_} epochs in {fit_s:.1f} s, final training "
                                f"loss {est.loss_curve_[-1]:.4g}"), file=out)
    print(f"\nModel: {model_path}", file=out)
    if not args.no_report:
        path, n_fig = write_model_report(
            args.out, title=f"kpflow-sk fit: {args.cell} on {', '.join(args.task)}",
            est=est, D=est.kp_decompose_, test=test, m=m, recipe=recipe,
            extra={"fit_seconds": fit_s, "model_file": str(model_path)})
        print(f"Report: {path} (+ results.json, {n_fig} PNG figures)", file=out)
    return 0


# ====================================================================== analyze
def _load(name):
    from kpflow_sk._cli.models import load_model
    from kpflow_sk._cli.zoo import load_zoo_model

    path = Path(name)
    if path.exists() or path.suffix or "/" in name or "\\" in name:
        return load_model(path)
    zoo = load_zoo_model(name)
    if zoo is None:
        raise CLIError(f"{name!r} is neither a model file nor a zoo model "
                       "(see `kpflow-sk zoo list`)")
    return zoo


def _analyze(args, out):
    from kpflow_sk._cli.paths import check_output_dir
    from kpflow_sk._cli.report import render_text
    from kpflow_sk.analysis import select_analysis_trials
    from kpflow_sk.datasets import dataset_from_recipe, make_recipe, shared_task_params
    from kpflow_sk.plotting import report_measures, write_model_report

    est, recipe = _load(args.model)
    check_output_dir(args.out, REPORT_FILES, force=args.force)
    if args.task:
        recipe = make_recipe(args.task, args.n_samples, (recipe or {}).get("random_state"),
                             task_params=shared_task_params(
                                 (recipe or {}).get("task_params"), args.task))
    if recipe is None:
        raise UsageError(f"cannot tell which task(s) {args.model!r} was trained on; "
                         "pass --task")
    seed = args.seed
    if seed is None:  # the held-out trials fit scored the model on
        seed = recipe.get("test_seed", (recipe.get("random_state") or 0) + 1)
    try:
        test = dataset_from_recipe(recipe, n_samples=args.n_samples, random_state=seed)
    except ValueError as exc:
        raise CLIError(f"cannot generate trials of {', '.join(recipe['tasks'])}: {exc}"
                       ) from None
    n_trials = args.kp_n_trials or getattr(est, "kp_n_trials", 16)
    task_ids = test.task_ids if len(test.task_names) > 1 else None
    # the estimator's analysis-batch rule (stratified by task), seeded by the held-out seed
    idx = select_analysis_trials(len(test.X), n_trials, task_ids,
                                 np.random.RandomState(seed))
    try:
        D = est.decompose(test.X[idx], test.y[idx],
                          None if task_ids is None else task_ids[idx], mask=test.mask[idx])
    except ValueError as exc:
        raise CLIError(f"the model does not fit the data of {', '.join(recipe['tasks'])}: "
                       f"{exc}") from None
    m = report_measures(est, D, test, history=getattr(est, "kp_history_", None),
                        spectra_k=args.spectra_k, reuse_history=False)
    cell = getattr(est, "cell", "?")
    print(render_text(m, header=f"{args.model}: {cell} ({est.hidden_size} units), "
                                f"{getattr(est, 'n_iter_', '?')} training epochs; analysed "
                                f"on {len(idx)} held-out trials",
                      analysis=f"KPFlow on {len(idx)} held-out trials"), file=out)
    path, n_fig = write_model_report(
        args.out, title=f"kpflow-sk analyze: {args.model}", est=est, D=D, test=test, m=m,
        recipe=recipe, extra={"model_file": str(args.model)})
    print(f"\nReport: {path} (+ results.json, {n_fig} PNG figures)", file=out)
    return 0


# ====================================================================== parsers
def add_parsers(subparsers):
    p = subparsers.add_parser(
        "fit", help="fit a model on a task: model file + report",
        description="Fit a RecurrentRegressor on one task (or several, composed with rule "
                    "inputs), save it and write a report folder.")
    p.add_argument("--task", type=task_names, required=True, metavar="NAME[,NAME...]",
                   help="task(s) to train on; several are composed by make_multitask")
    p.add_argument("--rule-inputs", choices=["onehot", "context"],
                   help="task identity encoding of a multi-task fit (default: context for "
                        "the KPFlow family, else onehot)")
    add_data_arguments(p)
    p.add_argument("--n-test", type=positive_int, default=200, metavar="N",
                   help="held-out trials for the scores (default: 200)")
    add_estimator_arguments(p)
    o = p.add_argument_group("output")
    o.add_argument("--out", default="kpflow_fit", metavar="DIR",
                   help="report folder (default: ./kpflow_fit)")
    o.add_argument("--model", metavar="PATH",
                   help="model file to write (default: OUT/model.safetensors)")
    o.add_argument("--no-report", action="store_true", help="save the model only")
    o.add_argument("--spectra-k", type=nonnegative_int, default=20, metavar="K",
                   help="leading eigenvalues per operator in the report (default: 20)")
    o.add_argument("--quiet", action="store_true", help="no progress bar")
    add_force_argument(o, "the model file and the report's results.json / report.html")
    p.set_defaults(run=_fit)

    a = subparsers.add_parser(
        "analyze", help="KPFlow report of a saved model or a zoo model",
        description="Analyse a model file written by `kpflow-sk fit` (or a zoo model) on "
                    "fresh held-out trials of its task(s) and write a report folder. Model "
                    "files are read without unpickling.")
    a.add_argument("model", help="model file, or a zoo model name")
    a.add_argument("--task", type=task_names, metavar="NAME[,NAME...]",
                   help="analyse on these task(s) instead of the training ones")
    a.add_argument("--n-samples", type=positive_int, default=200, metavar="N",
                   help="held-out trials for the scores (default: 200)")
    a.add_argument("--kp-n-trials", type=positive_int, metavar="N",
                   help="trials in the analysis batch (default: the model's kp_n_trials)")
    a.add_argument("--seed", type=seed,
                   help="seed of the held-out trials (default: the training seed + 1)")
    a.add_argument("--spectra-k", type=nonnegative_int, default=20, metavar="K",
                   help="leading eigenvalues per operator (default: 20)")
    a.add_argument("--out", default="kpflow_analysis", metavar="DIR",
                   help="report folder (default: ./kpflow_analysis)")
    add_force_argument(a, "the report's results.json / report.html")
    a.set_defaults(run=_analyze)
    return p, a

