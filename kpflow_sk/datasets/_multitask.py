"""The multi-task composer: several registered tasks on one shared input/output layout.

Layout of a multi-task Bunch
----------------------------
- Tasks of one family share that family's input and output channels; different families get
  separate blocks, in order of first appearance (so ``X`` is block-structured when families mix).
  Each task's own rule inputs (``TaskSpec.n_rule_inputs`` trailing channels) are dropped and one
  rule channel per task (in the order of ``names``) is appended after all blocks.
- ``rule_inputs="onehot"``: the task's rule channel is 1 on every step of its trial (tonic).
  ``rule_inputs="context"``: ``context_steps`` steps are prepended to every trial (the KPFlow
  encoding); the rule channel is 1 only there, and the family's resting input / target / mask
  (``"rest"`` of the generator's dict, see ``_base``) fill the task channels, with the family's
  input noise. ``rule_inputs=None``: no rule channels.
  Rule channels get the task's resting input noise on every step of the trial.
- Trials shorter than the longest are zero-padded at the end with mask 0 (X and y are 0 there).
- ``periods`` holds the union of period names, shifted into the composed time axis; a trial
  without a period has ``[-1, -1]``. With ``"context"`` a ``"context"`` period is added.
- ``meta`` holds the union of keys: where a key is missing for a task, numeric values become
  float arrays with NaN there, other values object arrays with None.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import Bunch

from ._base import (
    all_finite,
    check_generator,
    check_n_samples,
    check_params,
    check_steps,
    get_task,
    validate_generated,
)

__all__ = ["make_multitask", "RULE_INPUTS"]

#: Valid values of ``rule_inputs``.
RULE_INPUTS = ("onehot", "context", None)


def _check_names(names):
    if isinstance(names, str):
        names = [names]
    names = list(names)
    if not names:
        raise ValueError("names must name at least one task")
    if len(set(names)) != len(names):
        raise ValueError(f"names must not repeat a task; got {names}")
    return names, [get_task(name) for name in names]


def _route_params(specs, params):
    """Split ``**params`` into one dict per task.

    A key equal to a task name carries a dict of that task's parameters; any other key is
    shared and goes to every task that has a parameter of that name.
    """
    by_name = {spec.name: {} for spec in specs}
    accepted = sorted({key for spec in specs for key in spec.defaults})
    for key, value in params.items():
        if key in by_name:
            if not isinstance(value, dict):
                raise ValueError(f"parameter {key!r} names a task, so it must be a dict of "
                                 f"that task's parameters; got {value!r}")
            by_name[key].update(value)
            continue
        takers = [spec.name for spec in specs if key in spec.defaults]
        if not takers:
            raise ValueError(f"unknown parameter {key!r}: no task in {list(by_name)} accepts it; "
                             f"valid parameters: {accepted} (or a task name with a dict)")
        for name in takers:
            by_name[name].setdefault(key, value)
    return {spec.name: check_params(spec, by_name[spec.name]) for spec in specs}


def _balanced_counts(n_samples, k):
    counts = np.full(k, n_samples // k)
    counts[: n_samples % k] += 1
    return counts


def _rest(out, d_in, d_out):
    """Resting input, target, mask value and noise sd of a generated task (see ``_base``)."""
    rest = out.get("rest")
    if rest is None:
        return np.zeros(d_in), None, 0.0, 0.0
    return (np.asarray(rest["X"], dtype=float)[:d_in], np.asarray(rest["y"], dtype=float),
            float(rest.get("mask", 0.0)), float(rest.get("noise", 0.0)))


def _merge_meta(parts, rows, n):
    """Union of per-task meta dicts placed at ``rows`` of an ``n``-trial array."""
    keys = list(dict.fromkeys(key for part in parts for key in part))
    merged = {}
    for key in keys:
        present = [(part[key], r) for part, r in zip(parts, rows) if key in part]
        shapes = {value.shape[1:] for value, _ in present}
        numeric = all(np.issubdtype(value.dtype, np.number) or value.dtype == bool
                      for value, _ in present)
        if len(present) == len(parts) and len(shapes) == 1:
            dtype = np.result_type(*[value.dtype for value, _ in present])
            arr = np.empty((n,) + shapes.pop(), dtype=dtype)
        elif numeric and len(shapes) == 1:
            arr = np.full((n,) + shapes.pop(), np.nan)
        else:
            arr = np.full(n, None, dtype=object)
            for value, r in present:
                for i, j in enumerate(r):
                    arr[j] = value[i]
            merged[key] = arr
            continue
        for value, r in present:
            arr[r] = value
        merged[key] = arr
    return merged


def make_multitask(names, n_samples, *, rule_inputs="onehot", context_steps=30, shuffle=True,
                   random_state=None, **params):
    """Compose several registered tasks into one Bunch with rule inputs.

    Parameters
    ----------
    names : sequence of str
        Registered task names (no repeats); their order fixes ``task_ids`` and the rule
        channels.
    n_samples : int
        Total number of trials, split as evenly as possible (counts differ by at most one,
        earlier tasks get the extra trials). Must be at least ``len(names)``.
    rule_inputs : {"onehot", "context", None}, default="onehot"
        How the task identity is given (see the module docstring). ``"context"`` with the four
        KPFlow tasks is the KPFlow paper's multi-task encoding (T = 120, 7 inputs, 3 outputs).
    context_steps : int, default=30
        Length of the prepended context period (``rule_inputs="context"`` only).
    shuffle : bool, default=True
        Shuffle the trials; otherwise they are grouped by task in the order of ``names``.
    random_state : None, int or numpy.random.Generator, default=None
        Seed; the same seed gives identical arrays.
    **params
        A key that is a task name takes a dict of that task's parameters; any other key is
        passed to every task that has a parameter of that name (an unknown key raises
        ``ValueError``).

    Returns
    -------
    bunch : sklearn.utils.Bunch
        X : ndarray of shape (n_samples, n_timesteps, n_inputs), float32
            Family blocks followed by ``len(names)`` rule channels (none when ``rule_inputs``
            is None).
        y : ndarray of shape (n_samples, n_timesteps, n_outputs), float32
        mask : ndarray of shape (n_samples, n_timesteps), float32
            0 on padding.
        task_ids : ndarray of shape (n_samples,), int64
            Index into ``task_names``.
        task_names : list of str
        periods, meta, params, layout
            As in :func:`make_task`; ``layout[name]`` also has ``"rule"`` (the rule channel
            index, or None) and ``"meta"`` (the meta keys the task has).
        rule_inputs : str or None

    Examples
    --------
    >>> from kpflow_sk.datasets import make_multitask
    >>> names = ["memory_pro", "memory_anti", "delay_pro", "delay_anti"]
    >>> b = make_multitask(names, 8, rule_inputs="context", random_state=0)
    >>> b.X.shape, b.y.shape
    ((8, 120, 7), (8, 120, 3))
    """
    names, specs = _check_names(names)
    n_samples = check_n_samples(n_samples)
    if rule_inputs not in RULE_INPUTS:
        raise ValueError(f"rule_inputs must be one of {list(RULE_INPUTS)}; got {rule_inputs!r}")
    k = len(names)
    if n_samples < k:
        raise ValueError(f"n_samples={n_samples} is smaller than the number of tasks ({k}); "
                         f"every task needs at least one trial")
    offset = 0
    if rule_inputs == "context":
        offset = check_steps("context_steps", context_steps)
    if not isinstance(shuffle, (bool, np.bool_, numbers.Integral)):
        raise ValueError(f"shuffle must be a bool; got {shuffle!r}")
    resolved = _route_params(specs, params)
    counts = _balanced_counts(n_samples, k)
    rng = check_generator(random_state)
    children = rng.spawn(k)

    # Generate every task in its own layout, then strip its rule inputs.
    outs = []
    for spec, count, child in zip(specs, counts, children):
        out = validate_generated(spec.name, spec.generate(int(count), child,
                                                          **resolved[spec.name]), int(count))
        if spec.n_rule_inputs:
            out["X"] = out["X"][:, :, : out["X"].shape[2] - spec.n_rule_inputs]
        outs.append(out)

    # One channel block per family.
    in_blocks, out_blocks = {}, {}
    d_in_total = d_out_total = 0
    for spec, out in zip(specs, outs):
        d_in, d_out = out["X"].shape[2], out["y"].shape[2]
        if spec.family in in_blocks:
            a, b = in_blocks[spec.family]
            c, d = out_blocks[spec.family]
            if (b - a, d - c) != (d_in, d_out):
                raise ValueError(
                    f"task {spec.name!r} has {d_in} inputs / {d_out} outputs but its family "
                    f"{spec.family!r} already uses {b - a} / {d - c}; give its tasks matching "
                    f"parameters"
                )
            continue
        in_blocks[spec.family] = (d_in_total, d_in_total + d_in)
        out_blocks[spec.family] = (d_out_total, d_out_total + d_out)
        d_in_total += d_in
        d_out_total += d_out
    n_rules = k if rule_inputs is not None else 0
    T_total = offset + max(out["X"].shape[1] for out in outs)

    X = np.zeros((n_samples, T_total, d_in_total + n_rules), dtype=np.float32)
    y = np.zeros((n_samples, T_total, d_out_total), dtype=np.float32)
    mask = np.zeros((n_samples, T_total), dtype=np.float32)
    period_names = (["context"] if offset else []) + list(
        dict.fromkeys(p for out in outs for p in out["periods"]))
    periods = {p: np.full((n_samples, 2), -1, dtype=np.int64) for p in period_names}
    layout, rows = {}, []
    starts = np.concatenate([[0], np.cumsum(counts)])

    for i, (spec, out, child) in enumerate(zip(specs, outs, children)):
        r = slice(int(starts[i]), int(starts[i + 1]))
        rows.append(np.arange(r.start, r.stop))
        count, T_k, d_in = out["X"].shape
        a, b = in_blocks[spec.family]
        c, d = out_blocks[spec.family]
        t1 = offset + T_k
        X[r, offset:t1, a:b] = out["X"]
        y[r, offset:t1, c:d] = out["y"]
        mask[r, offset:t1] = out["mask"]
        rest_x, rest_y, rest_mask, noise = _rest(out, d_in, d - c)
        if offset:
            X[r, :offset, a:b] = rest_x
            y[r, :offset, c:d] = out["y"][:, :1] if rest_y is None else rest_y
            mask[r, :offset] = rest_mask
            if noise > 0:
                X[r, :offset, a:b] += noise * child.standard_normal((count, offset, b - a))
            periods["context"][r] = (0, offset)
        rule = None
        if n_rules:
            rule = d_in_total + i
            if rule_inputs == "onehot":
                X[r, :t1, rule] = 1.0
            else:
                X[r, :offset, rule] = 1.0
            if noise > 0:
                X[r, :t1, d_in_total:] += noise * child.standard_normal((count, t1, n_rules))
        for p, value in out["periods"].items():
            periods[p][r] = value + offset
        layout[spec.name] = {"input": (a, b), "output": (c, d), "steps": (offset, t1),
                             "rule": rule, "meta": sorted(out["meta"])}

    meta = _merge_meta([out["meta"] for out in outs], rows, n_samples)
    task_ids = np.repeat(np.arange(k, dtype=np.int64), counts)
    if shuffle:
        order = rng.permutation(n_samples)
        X, y, mask, task_ids = X[order], y[order], mask[order], task_ids[order]
        periods = {p: v[order] for p, v in periods.items()}
        meta = {key: v[order] for key, v in meta.items()}
    for key, arr in (("X", X), ("y", y)):
        if not all_finite(arr):
            raise ValueError(f"composed {key} has non-finite values")
    return Bunch(
        X=X,
        y=y,
        mask=mask,
        task_ids=task_ids,
        task_names=list(names),
        periods=periods,
        meta=meta,
        params=resolved,
        layout=layout,
        rule_inputs=rule_inputs,
    )
