"""Ready-Set-Go interval reproduction (Jazayeri & Shadlen 2015).

Our default encoding (shared/TASKS.md section 6; close to neurogym's ReadySetGo, with the
paper's interval prior). Durations in ms, steps = floor(ms / dt):

- the sample interval ``t_s`` is drawn uniformly from ``intervals_ms`` (default: the paper's 10
  values, 529 to 1059 ms); ``n_s = floor(t_s / dt)`` steps from Ready onset to Set onset;
- inputs (3): ``[fixation, ready, set]``; fixation is 1 until Set onset; Ready and Set are pulses
  of ``pulse_ms``;
- target (1): a go response, 0 until the go step ``set_onset + round(gain * n_s)`` and 1 from
  then to the end of the trial (the produced interval is timed from Set onset);
- mask: all ones; the trial lasts ``fixation + max(n_s) + ceil(production_factor * gain *
  max(n_s))`` steps so every go step fits;
- periods: ``fixation``, ``ready`` (pulse), ``interval`` (Ready onset to Set onset), ``set``
  (pulse), ``response`` (Set onset to the end: the production epoch);
- score: the produced interval is the first masked step at which the output reaches 0.5, minus
  Set onset; a trial is correct iff that happens at or after Set onset and
  ``|t_p - gain * t_s| <= 0.2 * gain * t_s + 25 ms`` (neurogym's window, which scales with the
  interval like the paper's reward window; the paper's exact window is **unverified**).
  ``t_s`` here is the discretised ``n_s * dt``.

**Unverified / our choices**: flash durations (80 ms), the fixation epoch (100 ms), dt 20 ms, a
step (not ramp) go target, no input noise by default.
"""

from __future__ import annotations

import numpy as np

from ._base import add_noise, check_nonnegative, check_positive, constant_period, ms_to_steps
from ._registry import TaskSpec, register_task

DEFAULTS = {
    "dt": 20.0,
    "fixation_ms": 100.0,
    "pulse_ms": 80.0,
    "intervals_ms": tuple(np.round(np.linspace(529.0, 1059.0, 10), 1)),
    "gain": 1.0,
    "production_factor": 2.0,
    "noise": 0.0,
}

#: Output level that counts as the go response.
GO_THRESHOLD = 0.5


def generate(n_samples, rng, *, dt, fixation_ms, pulse_ms, intervals_ms, gain,
             production_factor, noise):
    dt = check_positive("dt", dt)
    gain = check_positive("gain", gain)
    noise = check_nonnegative("noise", noise)
    production_factor = check_positive("production_factor", production_factor)
    f = ms_to_steps("fixation_ms", fixation_ms, dt, minimum=0)
    p = ms_to_steps("pulse_ms", pulse_ms, dt)
    intervals_ms = np.asarray(intervals_ms, dtype=float)
    if intervals_ms.ndim != 1 or intervals_ms.size == 0:
        raise ValueError(f"intervals_ms must be a non-empty 1-D sequence; got {intervals_ms!r}")
    interval_steps = np.floor(intervals_ms / dt + 1e-9).astype(np.int64)
    if np.any(interval_steps < p):
        raise ValueError(
            f"intervals_ms must all be at least pulse_ms={pulse_ms:g} ms so the Ready pulse ends "
            f"before Set; got min(intervals_ms)={intervals_ms.min():g}"
        )
    max_ns = int(interval_steps.max())
    production = int(np.ceil(production_factor * gain * max_ns))
    if production <= int(np.round(gain * max_ns)) or production < p:
        raise ValueError(
            f"production_factor={production_factor:g} leaves no room after the latest go step; "
            f"it must be > 1"
        )
    T = f + max_ns + production
    n = n_samples

    pick = rng.integers(0, intervals_ms.size, size=n)
    n_s = interval_steps[pick]
    n_p = np.round(gain * n_s).astype(np.int64)
    set_on = f + n_s
    go = set_on + n_p

    t = np.arange(T)[None, :]
    X = np.zeros((n, T, 3), dtype=np.float32)
    X[:, :, 0] = t < set_on[:, None]
    X[:, f:f + p, 1] = 1.0
    X[:, :, 2] = (t >= set_on[:, None]) & (t < set_on[:, None] + p)
    if noise > 0:
        add_noise(X, rng, noise)
    y = (t >= go[:, None]).astype(np.float32)[:, :, None]

    stop = np.full(n, T)
    return {
        "X": X,
        "y": y,
        "mask": np.ones((n, T), dtype=np.float32),
        "periods": {
            "fixation": constant_period(n, 0, f),
            "ready": constant_period(n, f, f + p),
            "interval": np.stack([np.full(n, f), set_on], axis=1),
            "set": np.stack([set_on, set_on + p], axis=1),
            "response": np.stack([set_on, stop], axis=1),
        },
        "meta": {
            "interval_ms": intervals_ms[pick],
            "interval_steps": n_s,
            "production_steps": n_p,
            "go_step": go,
            "gain": np.full(n, gain),
            "dt": np.full(n, dt),
        },
        "rest": {"X": np.zeros(3), "y": np.zeros(1), "mask": 0.0, "noise": noise},
    }


def produced_steps(y_pred, bunch):
    """Produced interval in steps from Set onset (``-1`` where the output never reaches 0.5).

    Parameters
    ----------
    y_pred : ndarray of shape (n, T, 1)
    bunch : Bunch

    Returns
    -------
    t_p : ndarray of shape (n,), int64
        First masked step with output >= ``GO_THRESHOLD`` minus Set onset (negative when the
        response came before Set); ``-T - 1`` marks "never".
    """
    T = bunch.y.shape[1]
    crossed = (np.asarray(y_pred)[:, :, 0] >= GO_THRESHOLD) & (bunch.mask > 0)
    first = np.where(crossed.any(axis=1), crossed.argmax(axis=1), -1)
    set_on = bunch.periods["response"][:, 0]
    return np.where(first >= 0, first - set_on, -T - 1)


def score(y_pred, bunch):
    """Fraction of trials whose produced interval falls in the scaling window.

    Parameters
    ----------
    y_pred : ndarray of shape (n, T, 1)
    bunch : Bunch

    Returns
    -------
    accuracy : float in [0, 1]
    """
    dt = bunch.meta["dt"]
    t_p = produced_steps(y_pred, bunch)
    target_ms = bunch.meta["gain"] * bunch.meta["interval_steps"] * dt
    ok = (t_p >= 0) & (np.abs(t_p * dt - target_ms) <= 0.2 * target_ms + 25.0)
    return float(np.mean(ok))


register_task(TaskSpec(
    name="ready_set_go",
    family="ready_set_go",
    generate=generate,
    score=score,
    n_rule_inputs=0,
    description="reproduce the Ready-Set interval after the Set cue",
    source="Jazayeri & Shadlen 2015 (Curr. Biol.); encoding after neurogym's ReadySetGo",
    defaults=dict(DEFAULTS),
))
