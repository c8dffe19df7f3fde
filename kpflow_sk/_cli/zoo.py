"""``kpflow-sk zoo list|show|get``: browse the model zoo (:mod:`kpflow_sk.zoo`)."""

from __future__ import annotations

from kpflow_sk._cli.errors import CLIError, UsageError
from kpflow_sk._cli.models import _reason
from kpflow_sk._cli.text import format_table, format_value

__all__ = ["add_parser", "zoo_names", "load_zoo_model"]


def zoo_names(required=True):
    """The zoo's model names; [] (or ``CLIError`` when ``required``) without a zoo."""
    from kpflow_sk import zoo

    try:
        return list(zoo.list())
    except (OSError, ValueError) as exc:  # no zoo folder / a broken root manifest
        if required:
            raise CLIError(f"the model zoo cannot be read: {' '.join(str(exc).split())}"
                           ) from None
        return []


def load_zoo_model(name):
    """A zoo model and its data recipe, or None when ``name`` is not a zoo model.

    The held-out trials are the zoo recipe's test set (its ``n_test`` and ``test_seed``).
    """
    from kpflow_sk import zoo
    from kpflow_sk.datasets import make_recipe

    if name not in zoo_names(required=False):
        return None

    try:
        est = zoo.load(name)
        d = zoo.recipe(name)["dataset"]
    except Exception as exc:  # e.g. ZooIntegrityError: a file altered or missing
        raise CLIError(f"cannot load zoo model {name!r}: {_reason(exc, name)}"
                       ) from None
    recipe = make_recipe(d["tasks"], d["n_train"], d["train_seed"],
                         rule_inputs=d.get("rule_inputs"), task_params=d.get("params"))
    recipe["test_seed"] = d.get("test_seed")
    return est, recipe


def _check_name(name):
    names = zoo_names()
    if name not in names:  # a bad argument: exit 2
        raise UsageError(f"unknown zoo model {name!r}; available: "
                         f"{', '.join(names) or 'none'}")


def _info(name):
    """Recipe and card of a zoo model (both checksum-verified by the zoo)."""
    from kpflow_sk import zoo

    try:
        return zoo.recipe(name), zoo.card(name)
    except Exception as exc:
        raise CLIError(f"cannot read zoo model {name!r}: {' '.join(str(exc).split())}"
                       ) from None


def _list(args, out):
    names = zoo_names()
    if not names:
        print("The model zoo is empty.", file=out)
        return 0
    rows = []
    for name in names:
        recipe, card = _info(name)
        p, m = recipe["estimator"]["params"], card.get("metrics", {})
        rows.append([name, p.get("cell"), p.get("hidden_size"),
                     ", ".join(recipe["dataset"]["tasks"]), m.get("test_score"),
                     m.get("collapse_dim")])
    print(format_table(rows, ["name", "cell", "hidden", "tasks", "test score",
                              "collapse dim"], indent=""), file=out)
    print(f"\n{len(rows)} models. `kpflow-sk zoo show NAME` for a model card.", file=out)
    return 0


def _show(args, out):
    _check_name(args.name)
    recipe, card = _info(args.name)
    est, d, m = recipe["estimator"], recipe["dataset"], card.get("metrics", {})
    params = ", ".join(f"{k}={v!r}" for k, v in sorted(est["params"].items()))
    print(f"{args.name}", file=out)
    if recipe.get("description"):
        print(f"  {recipe['description']}", file=out)
    print(f"  estimator: {est['class']}({params})", file=out)
    print(f"  tasks: {', '.join(d['tasks'])} (rule inputs: {d.get('rule_inputs')}); "
          f"task parameters {d.get('params') or {}}", file=out)
    print(f"  training set: {d['n_train']} trials (seed {d['train_seed']}); test set: "
          f"{d['n_test']} trials (seed {d['test_seed']})", file=out)
    rows = [[k, m[k]] for k in ("test_score", "test_r2", "collapse_dim", "final_loss", "n_iter")
            if k in m]
    rows += [[f"score {t}", s] for t, s in (m.get("task_scores") or {}).items()]
    if rows:
        print("  metrics:", file=out)
        print(format_table(rows, ["quantity", "value"], indent="    "), file=out)
    tr = card.get("training") or {}
    if tr:
        print(f"  trained in {format_value(tr.get('seconds'))} s on {tr.get('threads')} "
              f"thread(s), torch {tr.get('torch')}", file=out)
    if card.get("checkpoints"):
        print(f"  checkpoints at iterations {card['checkpoints'].get('iterations')}",
              file=out)
    return 0


def _get(args, out):
    from kpflow_sk._cli.models import SUFFIX, save_model
    from kpflow_sk._cli.paths import check_output_file

    _check_name(args.name)
    target = args.out or f"{args.name}{SUFFIX}"
    check_output_file(target, force=args.force)
    est, recipe = load_zoo_model(args.name)
    path = save_model(est, target, recipe)
    print(f"Saved zoo model {args.name!r} to {path}; `kpflow-sk analyze {path}` analyses "
          "it", file=out)
    return 0


def add_parser(subparsers):
    p = subparsers.add_parser("zoo", help="browse the model zoo: list, show, get",
                              description="Browse the model zoo of reference models.")
    sub = p.add_subparsers(dest="zoo_command", metavar="{list,show,get}", required=True)
    sub.add_parser("list", help="list the zoo's models").set_defaults(run=_list)
    show = sub.add_parser("show", help="print a model's card")
    show.add_argument("name", help="zoo model name (see `kpflow-sk zoo list`)")
    show.set_defaults(run=_show)
    get = sub.add_parser("get", help="copy a zoo model to a model file")
    get.add_argument("name", help="zoo model name")
    get.add_argument("--out", metavar="PATH",
                     help="model file to write (default: ./NAME.safetensors)")
    get.add_argument("--force", action="store_true",
                     help="overwrite the model file if it exists (default: refuse, exit 2)")
    get.set_defaults(run=_get)
    return p
