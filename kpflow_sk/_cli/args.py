"""Argument types shared by the commands: each raises ``argparse.ArgumentTypeError`` (exit 2)."""

from __future__ import annotations

import argparse
import ast

__all__ = ["positive_int", "nonnegative_int", "nonzero_int", "positive_float", "comma_list",
           "task_names", "task_name", "family_name", "cell_name", "cell_names", "key_value", "seed",
           "n_folds", "scheduler_address", "MAX_SEED"]

#: largest seed: numpy's ``RandomState`` takes 0 .. 2**32 - 1 and the held-out trials use
#: ``seed + 1``
MAX_SEED = 2**32 - 2


def _integer(text, ok, expected, refused=None):
    """``int(text)`` if ``ok(value)``; else ``ArgumentTypeError`` "expected ..., got ...".

    ``refused`` replaces "expected ``expected``" when the text is an int that ``ok`` refuses.
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"{refused or 'expected ' + expected}, got {text!r}")
    return value


def positive_int(text):
    """An int >= 1."""
    return _integer(text, lambda v: v >= 1, "an integer >= 1")


def nonnegative_int(text):
    """An int >= 0."""
    return _integer(text, lambda v: v >= 0, "an integer >= 0")


def nonzero_int(text):
    """An int other than 0 (joblib's ``n_jobs``: -1 is every core)."""
    return _integer(text, lambda v: v != 0, "a nonzero integer (-1: all cores)")


def seed(text):
    """A random seed: an int in 0 .. ``MAX_SEED``."""
    return _integer(text, lambda v: 0 <= v <= MAX_SEED, "an integer seed >= 0",
                    refused=f"expected an integer seed in 0 .. {MAX_SEED}")


def n_folds(text):
    """Cross-validation folds: an int >= 2."""
    return _integer(text, lambda v: v >= 2, "an integer >= 2",
                    refused="cross-validation needs at least 2 folds")


def scheduler_address(text):
    """``local``, or a Dask scheduler address ``[PROTOCOL://]HOST:PORT`` (checked for form only,
    by :func:`kpflow_sk.model_selection.check_scheduler_address`: a string that cannot be an
    address fails here, at once, rather than after the connection timeout)."""
    from kpflow_sk.model_selection import check_scheduler_address

    try:
        return check_scheduler_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_float(text):
    """A finite float > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def comma_list(text):
    """``"a,b, c"`` -> ``["a", "b", "c"]`` (empty items dropped)."""
    items = [s.strip() for s in text.split(",") if s.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
    return items


def task_names(text):
    """One or more registered task names, comma-separated."""
    from kpflow_sk.datasets import list_tasks

    names = comma_list(text)
    known = list_tasks()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown task(s) {', '.join(unknown)}; see `kpflow-sk tasks list` "
            f"(e.g. {', '.join(known[:4])})")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"a task is repeated in {text!r}")
    return names


def task_name(text):
    """One registered task name."""
    names = task_names(text)
    if len(names) != 1:
        raise argparse.ArgumentTypeError(f"expected one task name, got {text!r}")
    return names[0]


def family_name(text):
    """A task family name (``kpflow``, ``yang19``, ...)."""
    from kpflow_sk.datasets import TASKS

    families = sorted({spec.family for spec in TASKS.values()})
    if text not in families:
        raise argparse.ArgumentTypeError(
            f"unknown task family {text!r}; choose from {', '.join(families)}")
    return text


def cell_name(text):
    """A registered cell name (``kpflow_sk.cells.CELLS``)."""
    from kpflow_sk.cells import CELLS

    if text not in CELLS:
        raise argparse.ArgumentTypeError(
            f"unknown cell {text!r}; choose from {', '.join(sorted(CELLS))}")
    return text


def cell_names(text):
    """One or more cell names, comma-separated."""
    names = comma_list(text)
    for name in names:
        cell_name(name)
    return names


def key_value(text):
    """``KEY=VALUE`` with VALUE read as a Python literal (number, bool, None, string)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    raw = raw.strip()
    lowered = {"true": True, "false": False, "none": None, "null": None}
    if raw.lower() in lowered:
        return key, lowered[raw.lower()]
    try:
        return key, ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return key, raw
