"""``kpflow-sk compare``: cross-validated cells x tasks (:func:`kpflow_sk.model_selection.compare`,
printed by :func:`kpflow_sk.model_selection.summarize`)."""

from __future__ import annotations

import argparse
import csv
import json
import warnings
from pathlib import Path

from kpflow_sk._cli.args import (
    cell_names,
    comma_list,
    key_value,
    n_folds,
    nonzero_int,
    positive_int,
    scheduler_address,
    seed,
    task_names,
)
from kpflow_sk._cli.errors import UsageError
from kpflow_sk._cli.options import add_estimator_arguments, estimator_params
from kpflow_sk._cli.text import format_mean_sd, format_table

__all__ = ["add_parser"]


def _tasks(text):
    """``"a,b+c"`` -> ``["a", ("b", "c")]``: ``+`` composes a multi-task data set."""
    out = []
    for item in comma_list(text):
        names = task_names(item.replace("+", ","))
        if len(names) == 1 and "+" not in item:
            out.append(names[0])
        elif len(names) < 2:
            raise argparse.ArgumentTypeError(f"a composition needs two tasks, got {item!r}")
        else:
            out.append(tuple(names))
    return out


def _write_records(path, records):
    from kpflow_sk._cli.paths import replace_atomically

    def write(tmp):
        if Path(path).suffix.lower() == ".csv":
            fields = list(dict.fromkeys(k for r in records for k in r))
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=fields)
                writer.writeheader()
                writer.writerows(records)
        else:
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(records, fh, indent=2, default=str)
                fh.write("\n")

    return replace_atomically(path, write)


def _run(args, out):
    from sklearn.utils._param_validation import InvalidParameterError

    from kpflow_sk import model_selection

    params = estimator_params(args)
    if args.out:  # before the first fold: an unwritable --out would lose every record
        from kpflow_sk._cli.paths import check_output_file

        check_output_file(args.out, force=args.force)
    tparams = dict(args.task_param)
    tasks = {t: dict(tparams) for t in args.tasks}
    where = (f"Dask scheduler {args.scheduler}" if args.scheduler else
             f"{args.n_jobs} parallel jobs" if args.n_jobs not in (None, 1) else "serially")
    print(f"Comparing {', '.join(args.cells)} on "
          f"{', '.join('+'.join(t) if isinstance(t, tuple) else t for t in args.tasks)}: "
          f"{args.cv}-fold cross-validation, {args.n_samples} trials per task, {where}",
          file=out, flush=True)
    try:
        with warnings.catch_warnings():
            # every fold runs the max_iter epochs asked for: not worth a warning each
            warnings.filterwarnings("ignore", message="Maximum iterations")
            records = model_selection.compare(
                args.cells, tasks, cv=args.cv, n_jobs=args.n_jobs, scheduler=args.scheduler,
                random_state=args.seed, estimator_params=params, n_samples=args.n_samples)
    except InvalidParameterError as exc:  # compare() checks every argument before a fold
        raise UsageError(str(exc)) from None
    args.interrupted.check("the comparison")
    rows = [[s["cell"], s["task"], s["n_folds"],
             format_mean_sd(s.get("score_mean"), s.get("score_sd"), s["n_folds"]),
             format_mean_sd(s.get("collapse_dim_mean"), s.get("collapse_dim_sd"),
                            s["n_folds"]),
             format_mean_sd(s.get("fit_time_mean"), s.get("fit_time_sd"), s["n_folds"],
                            decimals=2)]
            for s in model_selection.summarize(records)]
    print("\nHeld-out R^2 and collapse dim (mean +- sd over folds)", file=out)
    print(format_table(rows, ["cell", "task", "folds", "score (R^2)", "collapse dim",
                              "fit time (s)"]), file=out)
    if args.out:
        path = _write_records(args.out, records)
        print(f"\nRecords (one per cell x task x fold): {path}", file=out)
    return 0


def add_parser(subparsers):
    p = subparsers.add_parser(
        "compare", help="cross-validate cells x tasks: scores and collapse dims",
        description="Cross-validate a RecurrentRegressor for every cell on every task and "
                    "print the held-out R^2 and the collapse dim, mean +- sd over folds.")
    p.add_argument("--cells", type=cell_names, default=["rnn", "gru"],
                   metavar="CELL[,CELL...]", help="cells to compare (default: rnn,gru)")
    p.add_argument("--tasks", type=_tasks, required=True, metavar="TASK[,TASK...]",
                   help="tasks, each cross-validated on its own; a+b is one multi-task "
                        "data set")
    p.add_argument("--cv", type=n_folds, default=3, help="folds, >= 2 (default: 3)")
    p.add_argument("--n-samples", type=positive_int, default=256, metavar="N",
                   help="trials generated per task (default: 256)")
    p.add_argument("--task-param", type=key_value, action="append", default=[],
                   metavar="KEY=VALUE", help="task generator parameter (repeatable)")
    p.add_argument("--seed", type=seed, default=0,
                   help="seeds data, folds and weights (default: 0)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--n-jobs", type=nonzero_int, metavar="N",
                       help="parallel local jobs (joblib; -1: all cores)")
    where.add_argument("--scheduler", type=scheduler_address, metavar="ADDRESS",
                       help="run on a Dask cluster: tcp://HOST:PORT, or 'local' for a "
                            "local cluster")
    add_estimator_arguments(p, cell=False, tracking=False)
    p.add_argument("--out", metavar="FILE",
                   help="write the per-fold records to FILE (.json or .csv)")
    p.add_argument("--force", action="store_true",
                   help="overwrite --out FILE if it exists (default: refuse, exit 2)")
    p.set_defaults(run=_run)
    return p
