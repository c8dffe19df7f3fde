"""Argument checks shared by the linalg routines (one place, one wording)."""

from __future__ import annotations

import numbers

__all__ = ["check_choice", "check_int", "EXACT_MAX_DIM"]

# Dimension up to which `effective_rank` / `spectrum` with ``exact=None`` build the dense matrix
# (one probe per basis vector) instead of estimating.
EXACT_MAX_DIM = 4096


def check_choice(name, value, choices):
    """Return ``value`` if it is one of ``choices``, else raise a ValueError listing them."""
    if isinstance(value, str) and value in choices:
        return value
    raise ValueError(f"unknown {name} {value!r}; valid choices are {sorted(choices)}")


def check_int(name, value, minimum=1, allow_none=False):
    """Return ``value`` as an int >= ``minimum`` (or None if allowed), else raise ValueError."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_exact(value):
    """``exact`` is None (decide by cost), True or False."""
    if value is None or isinstance(value, bool):
        return value
    raise ValueError(f"exact must be None, True or False, got {value!r}")
