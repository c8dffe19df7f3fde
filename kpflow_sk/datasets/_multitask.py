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
- ``rule_layout="compact"``: one rule channel per task in ``names``, in that order.
  ``rule_layout="global"``: a family with a fixed rule set (Yang et al.'s 20 tasks) keeps its
  whole block of rule channels in the family's own order, so ``["fdgo", "dmcnogo"]`` uses
  channels 65 and 84 of an 85-input layout, as :func:`make_task` and the 20-task mix do, and a
  model trained on a subset can be evaluated on the full layout. Tasks without a rule set get
  one channel each, as in the compact layout.
- Rule channels carry, on every step of the trial (and not on padding), Gaussian noise of the
  sd the task adds to its other inputs (``rest["input_noise"]``; Yang et al. add input noise
  to every input unit, rule units included), and the family's resting noise in a context
  period. The rule input is 0 on the padded steps after a trial ends (also inside a task
  whose own trials have different lengths, see ``lengths`` in ``_base``).
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

__all__ = ["make_multitask", "RULE_INPUTS", "RULE_LAYOUTS"]

#: Valid values of ``rule_inputs`` and ``rule_layout``.
RULE_INPUTS = ("onehot", "context", None)
RULE_LAYOUTS = ("compact", "global")


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
    """Resting input, target, mask value, resting noise sd and in-trial input noise sd of a
    generated task (see ``_base``)."""
    rest = out.get("rest")
    if rest is None:
        return np.zeros(d_in), None, 0.0, 0.0, 0.0
    noise = float(rest.get("noise", 0.0))
    return (np.asarray(rest["X"], dtype=float)[:d_in], np.asarray(rest["y"], dtype=float),
            float(rest.get("mask", 0.0)), noise, float(rest.get("input_noise", noise)))


def _rule_channels(specs, rule_inputs, rule_layout):
    """Rule channel of each task (offsets after the family blocks) and their count."""
    if rule_inputs is None:
        return [None] * len(specs), 0
    channels, blocks, n_rules = [], {}, 0
    for spec in specs:
        if rule_layout == "global" and spec.rule_index is not None and spec.n_rule_inputs:
            if spec.family not in blocks:
                blocks[spec.family] = n_rules
                n_rules += spec.n_rule_inputs
            channels.append(blocks[spec.family] + spec.rule_index)
        else:
            channels.append(n_rules)
            n_rules += 1
    return channels, n_rules


def _rule_block(count, t1, n_rules, offset, lengths, rule, rule_inputs, rest_noise, trial_noise,
                rng):
    """Rule inputs of one task's trials, (count, t1, n_rules) float32.

    The task's channel is 1 on the trial's own steps (``"onehot"``) or on the context steps;
    every rule channel carries noise of sd ``rest_noise`` on context steps and ``trial_noise``
    on the trial's steps; padded steps are 0.
    """
    t = np.arange(t1)[None, :]
    inside = t < offset + lengths[:, None]                        # context + trial steps
    on = (inside & (t >= offset)) if rule_inputs == "onehot" else np.broadcast_to(t < offset,
                                                                                  inside.shape)
    if rest_noise > 0 or trial_noise > 0:
        # float64 draws of one task's rule block (n_rules channels, not the whole X); with one
        # noise level and no per-trial padding this is the composer's earlier draw bit for bit.
        sd = np.where(inside, np.where(t < offset, rest_noise, trial_noise), 0.0)
        block = sd[:, :, None] * rng.standard_normal((count, t1, n_rules))
        block[:, :, rule] += on
        return block.astype(np.float32)
    block = np.zeros((count, t1, n_rules), dtype=np.float32)
    block[:, :, rule] = on
    return block


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


def make_multitask(names, n_samples, *, rule_inputs="onehot", rule_layout="compact",
                   context_steps=30, shuffle=True, random_state=None, **params):
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
    rule_layout : {"compact", "global"}, default="compact"
        One rule channel per task of ``names`` (compact), or each family's own fixed rule
        layout where it has one (global: Yang et al.'s 20 rule units, so that a subset keeps
        the channels of the 20-task layout). See the module docstring.
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
    if rule_layout not in RULE_LAYOUTS:
        raise ValueError(f"rule_layout must be one of {list(RULE_LAYOUTS)}; got "
                         f"{rule_layout!r}")
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
    rule_of, n_rules = _rule_channels(specs, rule_inputs, rule_layout)
    T_total = offset + max(out["X"].shape[1] for out in outs)

    # Rows are written straight to their shuffled positions (one copy of each task's arrays).
    order = rng.permutation(n_samples) if shuffle else np.arange(n_samples)
    position = np.empty(n_samples, dtype=np.int64)
    position[order] = np.arange(n_samples)

    X = np.zeros((n_samples, T_total, d_in_total + n_rules), dtype=np.float32)
    y = np.zeros((n_samples, T_total, d_out_total), dtype=np.float32)
    mask = np.zeros((n_samples, T_total), dtype=np.float32)
    period_names = (["context"] if offset else []) + list(
        dict.fromkeys(p for out in outs for p in out["periods"]))
    periods = {p: np.full((n_samples, 2), -1, dtype=np.int64) for p in period_names}
    layout, rows = {}, []
    starts = np.concatenate([[0], np.cumsum(counts)])

    for i, (spec, out, child) in enumerate(zip(specs, outs, children)):
        grouped = np.arange(int(starts[i]), int(starts[i + 1]))
        r = position[grouped]
        rows.append(r)
        count, T_k, d_in = out["X"].shape
        a, b = in_blocks[spec.family]
        c, d = out_blocks[spec.family]
        t1 = offset + T_k
        X[r, offset:t1, a:b] = out["X"]
        y[r, offset:t1, c:d] = out["y"]
        mask[r, offset:t1] = out["mask"]
        rest_x, rest_y, rest_mask, noise, trial_noise = _rest(out, d_in, d - c)
        if offset:
            ctx = np.broadcast_to(rest_x.astype(np.float32), (count, offset, b - a)).copy()
            if noise > 0:
                ctx += noise * child.standard_normal((count, offset, b - a))
            X[r, :offset, a:b] = ctx
            y[r, :offset, c:d] = out["y"][:, :1] if rest_y is None else rest_y
            mask[r, :offset] = rest_mask
            periods["context"][r] = (0, offset)
        rule = None
        if n_rules:
            rule = d_in_total + rule_of[i]
            X[r, :t1, d_in_total:] = _rule_block(count, t1, n_rules, offset, out["lengths"],
                                                 rule_of[i], rule_inputs, noise, trial_noise,
                                                 child)
        for p, value in out["periods"].items():
            periods[p][r] = value + offset
        layout[spec.name] = {"input": (a, b), "output": (c, d), "steps": (offset, t1),
                             "rule": rule, "meta": sorted(out["meta"])}

    meta = _merge_meta([out["meta"] for out in outs], rows, n_samples)
    task_ids = np.empty(n_samples, dtype=np.int64)
    for i, r in enumerate(rows):
        task_ids[r] = i
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
