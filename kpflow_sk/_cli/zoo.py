"""``kpflow-sk zoo list|show|get``: browse the model zoo (:mod:`kpflow_sk.zoo`)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from kpflow_sk._cli.errors import CLIError
from kpflow_sk._cli.text import format_table

__all__ = ["add_parser", "zoo_module", "zoo_names", "zoo_card"]

_LIST_COLUMNS = ("name", "cell", "tasks", "hidden_size", "description")


def zoo_module(required=True):
    """``kpflow_sk.zoo`` if it provides ``list`` and ``load``; else None or ``CLIError``."""
    try:
        from kpflow_sk import zoo
    except ImportError as exc:
        if required:
            raise CLIError(f"the model zoo cannot be imported: {exc}") from None
        return None
    if not (callable(getattr(zoo, "list", None)) and callable(getattr(zoo, "load", None))):
        if required:
            raise CLIError("the model zoo (kpflow_sk.zoo) is not available in this "
                           "installation")
        return None
    return zoo


def _records(zoo):
    """``zoo.list()`` as a list of dicts with at least ``name``."""
    out = []
    for item in zoo.list():
        if isinstance(item, str):
            out.append({"name": item})
        elif isinstance(item, Mapping):
            out.append(dict(item))
        else:
            rec = {k: getattr(item, k) for k in _LIST_COLUMNS if hasattr(item, k)}
            rec.setdefault("name", str(item))
            out.append(rec)
    return out


def zoo_names(zoo):
    return [r["name"] for r in _records(zoo)]


def zoo_card(zoo, name):
    """The model card of ``name`` as a dict (``{"card": text}`` for a text card)."""
    for attr in ("card", "model_card", "info", "show"):
        fn = getattr(zoo, attr, None)
        if callable(fn):
            card = fn(name)
            break
    else:
        card = next((r for r in _records(zoo) if r["name"] == name), {})
    if isinstance(card, str):
        return {"card": card}
    if isinstance(card, Mapping):
        return dict(card)
    if hasattr(card, "__dict__"):
        return dict(vars(card))
    return {"card": str(card)}


def _check_name(zoo, name):
    names = zoo_names(zoo)
    if name not in names:
        raise CLIError(f"unknown zoo model {name!r}; available: {', '.join(names) or 'none'}")


def _list(args, out):
    zoo = zoo_module()
    recs = _records(zoo)
    if not recs:
        print("The model zoo is empty.", file=out)
        return 0
    cols = [c for c in _LIST_COLUMNS if any(c in r for r in recs)]
    rows = [[", ".join(v) if isinstance(v := r.get(c), (list, tuple)) else v for c in cols]
            for r in recs]
    print(format_table(rows, cols, indent=""), file=out)
    return 0


def _show(args, out):
    zoo = zoo_module()
    _check_name(zoo, args.name)
    card = zoo_card(zoo, args.name)
    if set(card) == {"card"}:
        print(card["card"], file=out)
        return 0
    print(f"{args.name}", file=out)
    for key, value in card.items():
        if isinstance(value, (dict, list)):
            value = json.dumps(value, default=str)
        print(f"  {key}: {value}", file=out)
    return 0


def _get(args, out):
    from kpflow_sk._cli.models import load_zoo_model, save_model

    zoo = zoo_module()
    _check_name(zoo, args.name)
    est, recipe = load_zoo_model(args.name)
    path = args.out or f"{args.name}.joblib"
    save_model(est, path, recipe)
    print(f"Saved zoo model {args.name!r} to {path} (analyze it with "
          f"`kpflow-sk analyze {path}`)", file=out)
    return 0


def add_parser(subparsers):
    p = subparsers.add_parser("zoo", help="browse the model zoo: list, show, get",
                              description="Browse the model zoo of reference models.")
    sub = p.add_subparsers(dest="zoo_command", metavar="{list,show,get}", required=True)
    sub.add_parser("list", help="list the zoo's models").set_defaults(run=_list)
    show = sub.add_parser("show", help="print a model's card")
    show.add_argument("name", help="zoo model name (see `kpflow-sk zoo list`)")
    show.set_defaults(run=_show)
    get = sub.add_parser("get", help="load a zoo model and save it as a model file")
    get.add_argument("name", help="zoo model name")
    get.add_argument("--out", metavar="PATH",
                     help="model file to write (default: ./NAME.joblib)")
    get.set_defaults(run=_get)
    return p
