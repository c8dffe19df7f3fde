"""Sine-wave generation from a static frequency cue (Sussillo & Barak 2013 style).

Encoding (shared/TASKS.md section 5; the cue values are corroborated only by a third-party
reproduction, **unverified** in the paper):

- a trial draws ``j`` uniformly from ``1 .. n_frequencies``;
- input (1): the tonic cue ``u_j = j / n_frequencies + 0.25`` at every step (plus Gaussian noise
  of sd ``noise``, 0 by default);
- target (1): ``sin(omega_j * t)`` with ``t = step * dt`` (time in units of the network time
  constant) and ``omega_j`` linearly spaced from ``omega_min`` to ``omega_max`` rad per unit;
- mask: all ones; periods: ``response [0, T)``;
- score: the paper reports no accuracy, so (our choice, documented in the dataset card) a trial
  is correct iff its RMSE over the masked response steps is below ``RMSE_TOLERANCE = 0.1``
  (10% of the target amplitude).
"""

from __future__ import annotations

import numpy as np

from ._base import (
    add_noise,
    check_nonnegative,
    check_positive,
    check_steps,
    constant_period,
    period_mask,
)
from ._registry import TaskSpec, register_task

DEFAULTS = {
    "n_frequencies": 51,
    "omega_min": 0.1,
    "omega_max": 0.6,
    "dt": 1.0,
    "n_steps": 100,
    "noise": 0.0,
}

#: Per-trial RMSE below which a generated sine counts as correct (our choice).
RMSE_TOLERANCE = 0.1


def generate(n_samples, rng, *, n_frequencies, omega_min, omega_max, dt, n_steps, noise):
    k = check_steps("n_frequencies", n_frequencies)
    omega_min = check_positive("omega_min", omega_min)
    omega_max = check_positive("omega_max", omega_max)
    if omega_max < omega_min:
        raise ValueError(f"omega_max ({omega_max}) must be >= omega_min ({omega_min})")
    dt = check_positive("dt", dt)
    T = check_steps("n_steps", n_steps)
    noise = check_nonnegative("noise", noise)
    n = n_samples

    j = rng.integers(1, k + 1, size=n)
    cue = j / k + 0.25
    omegas = np.linspace(omega_min, omega_max, k)
    omega = omegas[j - 1]

    X = np.repeat(cue[:, None, None], T, axis=1).astype(np.float32)
    if noise > 0:
        add_noise(X, rng, noise)
    time = dt * np.arange(T)
    y = np.sin(omega[:, None] * time[None, :])[:, :, None].astype(np.float32)

    return {
        "X": X,
        "y": y,
        "mask": np.ones((n, T), dtype=np.float32),
        "periods": {"response": constant_period(n, 0, T)},
        "meta": {"frequency_index": j, "cue": cue, "omega": omega},
        "rest": {"X": np.zeros(1), "y": np.zeros(1), "mask": 0.0, "noise": noise},
    }


def score(y_pred, bunch):
    """Fraction of trials whose RMSE over masked response steps is below ``RMSE_TOLERANCE``.

    Parameters
    ----------
    y_pred : ndarray of shape (n, T, 1)
    bunch : Bunch

    Returns
    -------
    accuracy : float in [0, 1]
    """
    weight = (period_mask(bunch.periods["response"], bunch.y.shape[1])
              & (bunch.mask > 0)).astype(float)
    sq = ((np.asarray(y_pred, dtype=float) - bunch.y) ** 2).mean(axis=2)
    rmse = np.sqrt((sq * weight).sum(axis=1) / weight.sum(axis=1))
    return float(np.mean(rmse < RMSE_TOLERANCE))


register_task(TaskSpec(
    name="sine_wave",
    family="sine_wave",
    generate=generate,
    score=score,
    n_rule_inputs=0,
    description="generate a sine wave whose frequency is set by a static input level",
    source="Sussillo & Barak 2013 (Neural Comput.), static-cue sine-wave generator",
    defaults=dict(DEFAULTS),
))
