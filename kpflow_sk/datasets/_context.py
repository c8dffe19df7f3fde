"""Context-dependent integration (Mante et al. 2013), in the Dubreuil et al. 2022 encoding.

Encoding (shared/TASKS.md section 4; durations in ms, steps = floor(ms / dt)):

- epochs: ``fixation`` 100, ``cue`` 350 (context cue only), ``stimulus`` 800, ``delay`` 300,
  ``response`` 20 (the decision; one step at dt = 20, 78 steps in all).
- inputs (4): two sensory channels carrying ``noise * N(0, 1)`` at every step plus
  ``coherence_scale * coh`` during the stimulus, ``coh`` drawn independently per channel from
  ``{±c for c in coherences}``; two one-hot context channels, on from the end of fixation to the
  start of the response (context k selects sensory channel k).
- target (1): ``sign(coh of the cued channel)`` (±1) in the response period, 0 elsewhere.
- mask: 1 in the response period only.
- score: a trial is correct iff the sign of the mean output over the masked response steps
  equals the target's sign.
"""

from __future__ import annotations

import numpy as np

from ._base import add_noise, check_nonnegative, check_positive, constant_period, ms_to_steps
from ._registry import TaskSpec, register_task

EPOCHS = ("fixation", "cue", "stimulus", "delay", "response")

DEFAULTS = {
    "dt": 20.0,
    "fixation_ms": 100.0,
    "cue_ms": 350.0,
    "stimulus_ms": 800.0,
    "delay_ms": 300.0,
    "response_ms": 20.0,
    "coherences": (1.0, 2.0, 4.0, 8.0, 16.0),
    "coherence_scale": 0.1,
    "noise": 0.1,
    "context": None,
}


def generate(n_samples, rng, *, dt, fixation_ms, cue_ms, stimulus_ms, delay_ms,
             response_ms, coherences, coherence_scale, noise, context):
    dt = check_positive("dt", dt)
    noise = check_nonnegative("noise", noise)
    coherence_scale = check_nonnegative("coherence_scale", coherence_scale)
    coherences = np.asarray(coherences, dtype=float)
    if coherences.ndim != 1 or coherences.size == 0 or np.any(coherences <= 0):
        raise ValueError(f"coherences must be a non-empty sequence of positive numbers; got "
                         f"{coherences!r}")
    # Fixation and delay may be empty; the cue, stimulus and decision need a step each.
    lengths = {
        "fixation": ms_to_steps("fixation_ms", fixation_ms, dt, minimum=0),
        "cue": ms_to_steps("cue_ms", cue_ms, dt, minimum=0),
        "stimulus": ms_to_steps("stimulus_ms", stimulus_ms, dt),
        "delay": ms_to_steps("delay_ms", delay_ms, dt, minimum=0),
        "response": ms_to_steps("response_ms", response_ms, dt),
    }
    n = n_samples
    bounds = np.cumsum([0] + [lengths[e] for e in EPOCHS])
    T = int(bounds[-1])
    start = dict(zip(EPOCHS, bounds[:-1]))
    stop = dict(zip(EPOCHS, bounds[1:]))

    if context is None:
        cue = rng.integers(0, 2, size=n)
    elif context in (0, 1):
        cue = np.full(n, int(context))
    else:
        raise ValueError(f"context must be None, 0 or 1; got {context!r}")
    magnitude = rng.choice(coherences, size=(n, 2))
    coh = magnitude * np.where(rng.random((n, 2)) < 0.5, -1.0, 1.0)
    choice = np.sign(coh[np.arange(n), cue])

    t = np.arange(T)
    stim_on = ((t >= start["stimulus"]) & (t < stop["stimulus"])).astype(np.float32)
    cue_on = ((t >= stop["fixation"]) & (t < start["response"])).astype(np.float32)
    response = ((t >= start["response"]) & (t < stop["response"])).astype(np.float32)

    X = np.zeros((n, T, 4), dtype=np.float32)
    X[:, :, :2] = coherence_scale * coh[:, None, :] * stim_on[None, :, None]
    if noise > 0:
        add_noise(X[:, :, :2], rng, noise)
    X[np.arange(n), :, 2 + cue] = cue_on

    y = (choice[:, None] * response[None, :])[:, :, None].astype(np.float32)

    return {
        "X": X,
        "y": y,
        "mask": np.tile(response, (n, 1)),
        "periods": {e: constant_period(n, start[e], stop[e]) for e in EPOCHS},
        "meta": {"coherence": coh, "context": cue, "choice": choice},
        "rest": {"X": np.zeros(4), "y": np.zeros(1), "mask": 0.0, "noise": noise},
    }


def score(y_pred, bunch):
    """Fraction of trials whose mean masked response output has the target's sign.

    Parameters
    ----------
    y_pred : ndarray of shape (n, T, 1)
    bunch : Bunch

    Returns
    -------
    accuracy : float in [0, 1]
    """
    T = bunch.y.shape[1]
    t = np.arange(T)[None, :]
    resp = bunch.periods["response"]
    weight = ((t >= resp[:, :1]) & (t < resp[:, 1:2]) & (bunch.mask > 0)).astype(float)
    count = weight.sum(axis=1)
    decision = (np.asarray(y_pred)[:, :, 0] * weight).sum(axis=1) / count
    target = (bunch.y[:, :, 0] * weight).sum(axis=1) / count
    return float(np.mean(np.sign(decision) == np.sign(target)))


register_task(TaskSpec(
    name="context_integration",
    family="context_integration",
    generate=generate,
    score=score,
    n_rule_inputs=0,
    description="report the sign of the sensory input selected by a context cue",
    source="Mante, Sussillo, Shenoy & Newsome 2013 (Nature); encoding of Dubreuil et al. 2022 "
           "(Nat. Neurosci.)",
    defaults=dict(DEFAULTS),
))
