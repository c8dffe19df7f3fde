"""Memory/Delay Pro/Anti: the four angle tasks of the KPFlow paper (after Driscoll et al. 2024).

Encoding (steps, not ms; shared/TASKS.md section 2). With ``s, m, r`` the stimulus, memory and
response lengths (default 30 each, ``T = s + m + r``):

- inputs (3): ``[fixation, A cos(theta), A sin(theta)]``; fixation is 1 for steps ``< s + m``
  and 0 in the response period; the stimulus channels are on for steps ``< s`` (memory tasks)
  or for the whole trial (delay tasks). Gaussian noise of sd ``noise`` is added to every input
  channel at every step.
- targets (3): fixation target = noise-free fixation input; ``(cos, sin)`` of the answer angle
  in the response period, 0 before. Pro: answer = ``theta``; anti: ``theta + pi``.
- mask: all ones (the paper trains with plain MSE over all steps and channels).
- periods: ``stimulus [0, s)``, ``memory [s, s+m)`` (for delay tasks the stimulus stays on),
  ``response [s+m, T)``.
- score: at the last response step, a trial is correct iff both ``|yhat_cos - y_cos|`` and
  ``|yhat_sin - y_sin|`` are below ``pi / 10`` (fixation is not scored).

KPFlow "memory" is Driscoll's MemoryPro (Yang's delaygo); KPFlow "delay" is Driscoll's DelayPro
(Yang's fdgo), with fixed 30-step epochs, no ring code and no initial fixation epoch.
"""

from __future__ import annotations

import numpy as np

from ._base import (
    add_noise,
    check_nonnegative,
    check_steps,
    constant_period,
    evenly_spaced_or_uniform,
)
from ._registry import TaskSpec, register_task

SOURCE = ("Hazelden et al. 2025, KPFlow (arXiv 2507.06381), after Driscoll, Shenoy & Sussillo "
          "2024 (Nat. Neurosci.)")

DEFAULTS = {
    "stimulus_steps": 30,
    "memory_steps": 30,
    "response_steps": 30,
    "amplitude": 1.0,
    "noise": 0.1 * np.sqrt(2.0),
}

#: Component-wise tolerance of the KPFlow accuracy.
TOLERANCE = np.pi / 10


def _generate(n_samples, rng, *, anti, stimulus_always_on, stimulus_steps, memory_steps,
              response_steps, amplitude, noise):
    s = check_steps("stimulus_steps", stimulus_steps)
    m = check_steps("memory_steps", memory_steps, minimum=0)
    r = check_steps("response_steps", response_steps)
    noise = check_nonnegative("noise", noise)
    amplitude = check_nonnegative("amplitude", amplitude)
    T = s + m + r
    n = n_samples

    # The KPFlow code uses evenly spaced angles for its noise-free (analysis) sets.
    theta = evenly_spaced_or_uniform(n, rng, evenly=noise == 0)
    answer = np.mod(theta + np.pi, 2 * np.pi) if anti else theta

    t = np.arange(T)
    fixation = (t < s + m).astype(np.float32)                       # (T,)
    stim_on = np.ones(T, np.float32) if stimulus_always_on else (t < s).astype(np.float32)
    response = (t >= s + m).astype(np.float32)

    X = np.empty((n, T, 3), dtype=np.float32)
    X[:, :, 0] = fixation
    X[:, :, 1] = amplitude * np.cos(theta)[:, None] * stim_on
    X[:, :, 2] = amplitude * np.sin(theta)[:, None] * stim_on
    if noise > 0:
        add_noise(X, rng, noise)

    y = np.empty((n, T, 3), dtype=np.float32)
    y[:, :, 0] = fixation
    y[:, :, 1] = np.cos(answer)[:, None] * response
    y[:, :, 2] = np.sin(answer)[:, None] * response

    return {
        "X": X,
        "y": y,
        "mask": np.ones((n, T), dtype=np.float32),
        "periods": {
            "stimulus": constant_period(n, 0, s),
            "memory": constant_period(n, s, s + m),
            "response": constant_period(n, s + m, T),
        },
        "meta": {
            "theta": theta,
            "response_angle": answer,
            "anti": np.full(n, anti),
        },
        "rest": {"X": np.array([1.0, 0.0, 0.0]), "y": np.array([1.0, 0.0, 0.0]),
                 "mask": 1.0, "noise": noise},
    }


def score(y_pred, bunch):
    """KPFlow accuracy: both answer components within pi/10 at the last response step.

    Parameters
    ----------
    y_pred : ndarray of shape (n, T, 3)
    bunch : Bunch
        Single-task view with ``y`` (n, T, 3) and ``periods["response"]``.

    Returns
    -------
    accuracy : float in [0, 1]
    """
    last = bunch.periods["response"][:, 1] - 1
    rows = np.arange(len(last))
    err = np.abs(np.asarray(y_pred)[rows, last, 1:3] - bunch.y[rows, last, 1:3])
    return float(np.mean(np.all(err < TOLERANCE, axis=1)))


def _make_generator(anti, stimulus_always_on):
    def generate(n_samples, rng, **params):
        return _generate(n_samples, rng, anti=anti, stimulus_always_on=stimulus_always_on,
                         **params)
    return generate


for _name, _anti, _always, _desc in [
    ("memory_pro", False, False, "report the stimulus angle after it disappears"),
    ("memory_anti", True, False, "report the opposite of the stimulus angle after a memory "
                                 "period"),
    ("delay_pro", False, True, "report the stimulus angle (stimulus stays on) at the go cue"),
    ("delay_anti", True, True, "report the opposite of the stimulus angle (stimulus stays on) "
                               "at the go cue"),
]:
    register_task(TaskSpec(
        name=_name,
        family="kpflow",
        generate=_make_generator(_anti, _always),
        score=score,
        n_rule_inputs=0,
        description=_desc,
        source=SOURCE,
        defaults=dict(DEFAULTS),
    ))
