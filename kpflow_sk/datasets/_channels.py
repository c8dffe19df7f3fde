"""Names of the input and output channels of a task Bunch (for plots and tables).

The names follow each family's encoding (see the task modules' docstrings); a multi-task Bunch
names each task's block from its family and its rule channels ``rule: <task>``.
"""

from __future__ import annotations

__all__ = ["channel_names"]


def _kpflow(d_in, d_out):
    base = ["fixation", "cos θ", "sin θ"]
    return base[:d_in], base[:d_out]


def _yang(d_in, d_out):
    from ._yang import RULES

    m = (d_out - 1)
    ins = ["fixation"] + [f"ring 1 · {k}" for k in range(m)] + [f"ring 2 · {k}"
                                                              for k in range(m)]
    ins += [f"rule: {r}" for r in RULES][:max(0, d_in - len(ins))]
    return ins[:d_in], ["fixation"] + [f"ring · {k}" for k in range(m)]


def _flipflop(d_in, d_out):
    ins = [f"bit {k}" for k in range(d_out)] + (["anti"] if d_in > d_out else [])
    return ins[:d_in], [f"bit {k}" for k in range(d_out)]


def _context(d_in, d_out):
    return (["sensory 1", "sensory 2", "context 1", "context 2"][:d_in],
            ["choice"][:d_out])


def _rsg(d_in, d_out):
    return ["fixation", "ready", "set"][:d_in], ["output"][:d_out]


def _sine(d_in, d_out):
    return ["frequency cue"][:d_in], ["output"][:d_out]


_FAMILIES = {"kpflow": _kpflow, "yang19": _yang, "flipflop": _flipflop,
             "context_integration": _context, "ready_set_go": _rsg, "sine_wave": _sine}


def _family_names(name, d_in, d_out):
    from ._registry import TASKS

    spec = TASKS.get(name)
    fn = _FAMILIES.get(spec.family) if spec is not None else None
    ins, outs = fn(d_in, d_out) if fn else ([], [])
    ins = list(ins) + [f"in {k}" for k in range(len(ins), d_in)]
    outs = list(outs) + [f"out {k}" for k in range(len(outs), d_out)]
    return ins, outs


def channel_names(bunch):
    """Input and output channel names of a task Bunch.

    Parameters
    ----------
    bunch : sklearn.utils.Bunch
        From ``make_task``, ``make_multitask`` or ``load_frozen``.

    Returns
    -------
    inputs : list of str of length ``bunch.X.shape[2]``
    outputs : list of str of length ``bunch.y.shape[2]``
        E.g. ``["fixation", "cos θ", "sin θ", "rule: memory_pro", ...]`` and
        ``["fixation", "cos θ", "sin θ"]`` for the KPFlow four-task family. Channels nothing
        is known about are ``in k`` / ``out k``.
    """
    d_in, d_out = bunch.X.shape[2], bunch.y.shape[2]
    ins = [f"in {k}" for k in range(d_in)]
    outs = [f"out {k}" for k in range(d_out)]
    layout = bunch.get("layout") or {}
    for name in bunch.task_names:
        lay = layout.get(name)
        if lay is None:
            (a, b), (c, d) = (0, d_in), (0, d_out)
        else:
            (a, b), (c, d) = lay["input"], lay["output"]
        tin, tout = _family_names(name, b - a, d - c)
        for k, v in enumerate(tin):
            if ins[a + k].startswith("in "):
                ins[a + k] = v
        for k, v in enumerate(tout):
            if outs[c + k].startswith("out "):
                outs[c + k] = v
        if lay is not None and lay.get("rule") is not None and 0 <= lay["rule"] < d_in:
            ins[lay["rule"]] = f"rule: {name}"
    return ins, outs
