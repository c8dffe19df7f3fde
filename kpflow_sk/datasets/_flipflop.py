"""N-bit flip-flop (Sussillo & Barak 2013), with the KPFlow paper's defaults.

Encoding (shared/TASKS.md section 3):

- inputs (``n_bits``, plus one if ``anti``): at every step and channel a pulse of sign ±1 occurs
  with probability ``pulse_prob``, else 0; Gaussian noise of sd ``noise`` on every input.
  With ``anti`` an extra input holds a per-trial sign ±1 for the whole trial.
- targets (``n_bits``): each channel holds the sign of its most recent pulse, taking effect on
  the pulse step, and is 0 before the channel's first pulse (times the anti sign, if any).
- mask: all ones. periods: ``response [0, T)`` (the output is scored at every step).
- score: fraction of all (trial, step, channel) entries, among steps with mask > 0, whose
  absolute error is below 0.5 (the KPFlow code's measure).
"""

from __future__ import annotations

import numpy as np

from ._base import add_noise, check_nonnegative, check_steps, constant_period, period_mask
from ._registry import TaskSpec, register_task

DEFAULTS = {
    "n_bits": 3,
    "n_steps": 90,
    "pulse_prob": 0.05,
    "noise": 0.03 * np.sqrt(2.0),
    "anti": False,
}


def last_pulse_sign(pulses):
    """Sign of the most recent nonzero entry along axis 1, 0 before the first one.

    Parameters
    ----------
    pulses : ndarray of shape (n, T, k)

    Returns
    -------
    held : ndarray of shape (n, T, k), same dtype
    """
    n, T, _ = pulses.shape
    steps = np.arange(T)[None, :, None]
    # Index of the latest pulse so far (-1 before any), carried forward by a running max.
    last = np.maximum.accumulate(np.where(pulses != 0, steps, -1), axis=1)
    held = np.take_along_axis(pulses, np.maximum(last, 0), axis=1)
    return np.where(last >= 0, held, 0).astype(pulses.dtype)


def generate(n_samples, rng, *, n_bits, n_steps, pulse_prob, noise, anti):
    n_bits = check_steps("n_bits", n_bits)
    T = check_steps("n_steps", n_steps)
    noise = check_nonnegative("noise", noise)
    if not 0 <= pulse_prob <= 1:
        raise ValueError(f"pulse_prob must be in [0, 1]; got {pulse_prob!r}")
    n = n_samples

    fire = rng.random((n, T, n_bits)) < pulse_prob
    sign = np.where(rng.random((n, T, n_bits)) < 0.5, -1, 1).astype(np.int8)
    pulses = np.where(fire, sign, 0).astype(np.int8)
    target = last_pulse_sign(pulses).astype(np.float32)

    anti_sign = np.ones(n, dtype=np.int8)
    if anti:
        anti_sign = np.where(rng.random(n) < 0.5, -1, 1).astype(np.int8)
        target *= anti_sign[:, None, None]
    d_in = n_bits + int(bool(anti))

    X = np.empty((n, T, d_in), dtype=np.float32)
    X[:, :, :n_bits] = pulses
    if anti:
        X[:, :, n_bits] = anti_sign[:, None]
    if noise > 0:
        add_noise(X, rng, noise)

    return {
        "X": X,
        "y": target,
        "mask": np.ones((n, T), dtype=np.float32),
        "periods": {"response": constant_period(n, 0, T)},
        "meta": {
            "pulses": pulses,
            "n_pulses": np.count_nonzero(pulses, axis=1),
            "anti_sign": anti_sign,
        },
        "rest": {"X": np.zeros(d_in), "y": np.zeros(n_bits), "mask": 1.0, "noise": noise},
    }


def score(y_pred, bunch):
    """Fraction of (trial, step, channel) entries with absolute error < 0.5 (mask > 0 steps).

    Parameters
    ----------
    y_pred : ndarray of shape (n, T, n_bits)
    bunch : Bunch

    Returns
    -------
    accuracy : float in [0, 1]
    """
    inside = period_mask(bunch.periods["response"], bunch.y.shape[1]) & (bunch.mask > 0)
    close = np.abs(np.asarray(y_pred) - bunch.y) < 0.5               # (n, T, k)
    return float(close[inside].mean())


register_task(TaskSpec(
    name="flipflop",
    family="flipflop",
    generate=generate,
    score=score,
    n_rule_inputs=0,
    description="hold the sign of the last pulse on each of N channels",
    source="Sussillo & Barak 2013 (Neural Comput.); defaults of the KPFlow paper's code",
    defaults=dict(DEFAULTS),
))
