"""Chance levels: the score of an uninformed output, and a summary of each task's conventions.

The chance level of a task is the expected score (with the task's own metric,
:func:`~kpflow_sk.datasets.score_task`) of an output that ignores the inputs and guesses an
answer from the task's prior over answers. :func:`chance_output` builds such an output for a
Bunch; :func:`task_info` states the level (computed exactly from the task parameters, not
sampled) and the task's conventions.

Uninformed outputs, per family:

- ``yang19``: at the last step, fixate with the probability ``p`` of a no-go trial (0, or 1/2 in
  the matching tasks), else respond at a uniformly random angle (a ring ``1 + cos(phi_k -
  phi)``, whose population vector points exactly at ``phi``). Chance ``p^2 + (1 - p)^2 0.2``
  (the tolerance 0.2 pi covers a fifth of the circle): 0.2, matching tasks 0.3.
- ``kpflow``: ``(cos phi, sin phi)`` at a uniformly random ``phi``; chance = the probability that
  both components fall within pi / 10 of the target's, by quadrature over (theta, phi).
- ``context_integration``: a random sign (+-1) over the decision; chance 0.5. (A zero output is
  no decision and scores 0, below chance.)
- ``flipflop``: each (step, channel) guesses a target value from its marginal at that step
  (0 before the first pulse with probability ``(1 - p)^(t + 1)``, else +-1); chance
  ``mean_t [P0(t)^2 + (1 - P0(t))^2 / 2]``.
- ``ready_set_go``: the go step of an interval drawn from the prior; chance = the fraction of
  (drawn, true) interval pairs inside the scoring window.
- ``sine_wave``: the sine of a frequency drawn from the prior; chance = the fraction of
  (drawn, true) frequency pairs within the RMSE tolerance.
"""

from __future__ import annotations

import numpy as np

from ._base import check_generator, get_task

__all__ = ["task_info", "chance_level", "chance_output", "CONVENTIONS"]

#: Per family: loss-mask convention, timing draws and noise rule, as stated in the cards.
CONVENTIONS = {
    "yang19": {
        "mask_convention": "squared (Yang et al.'s loss is mean(((y - y_hat) * c_mask)^2): "
                           "mask weights 1 and 5 act as 1 and 25, the fixation column x2 as x4; "
                           "use mask_convention='squared' with per-channel weights "
                           "mask[:, :, None] * meta['channel_weights'][:, None, :])",
        "timing": "per_trial by default: epoch durations (and the modality where the code "
                  "draws it per batch) are drawn for each trial and trials are padded; "
                  "Yang et al.'s code draws them once per batch (timing='per_batch'). Per-trial "
                  "draws are the default because a data set is generated once and cut into "
                  "mini-batches later, where one timing for the whole set would make every "
                  "trial alike",
        "noise": "input noise sd sqrt(2 / alpha) * sigma_x with alpha = dt / tau here; the "
                 "code uses its network's alpha = 0.2 whatever the dt (the two agree only at "
                 "dt = 20 ms, tau = 100 ms); noise_alpha=0.2 gives the code's rule",
    },
    "kpflow": {
        "mask_convention": "linear (all-ones mask: plain MSE, the same under both conventions)",
        "timing": "fixed epochs (30 steps each)",
        "noise": "sd 0.1 * sqrt(2) per step on every input, independent of dt",
    },
    "flipflop": {
        "mask_convention": "linear (all-ones mask: plain MSE, the same under both conventions)",
        "timing": "pulses drawn per trial, step and channel",
        "noise": "sd 0.03 * sqrt(2) per step on every input",
    },
    "context_integration": {
        "mask_convention": "linear (0/1 mask on the decision: the same under both conventions)",
        "timing": "fixed epochs",
        "noise": "sd 0.1 per step on the sensory inputs",
    },
    "ready_set_go": {
        "mask_convention": "linear (all-ones mask)",
        "timing": "interval drawn per trial; fixed trial length",
        "noise": "none by default",
    },
    "sine_wave": {
        "mask_convention": "linear (all-ones mask)",
        "timing": "frequency drawn per trial; fixed trial length",
        "noise": "none by default",
    },
}

_YANG_TOLERANCE_FRACTION = 0.2          # 2 * 0.2 pi / (2 pi)
_MATCHING = ("dmsgo", "dmsnogo", "dmcgo", "dmcnogo")


def _nogo_probability(name):
    return 0.5 if name in _MATCHING else 0.0


# ---------------------------------------------------------------------------------------------
# Exact chance levels


def _chance_yang(name, params):
    p = _nogo_probability(name)
    return p ** 2 + (1 - p) ** 2 * _YANG_TOLERANCE_FRACTION


def _chance_kpflow(name, params, n_grid=2880):
    from ._kpflow import TOLERANCE

    grid = 2 * np.pi * (np.arange(n_grid) + 0.5) / n_grid
    theta, phi = grid[:, None], grid[None, :]
    inside = ((np.abs(np.cos(phi) - np.cos(theta)) < TOLERANCE)
              & (np.abs(np.sin(phi) - np.sin(theta)) < TOLERANCE))
    return float(inside.mean())


def _chance_context(name, params):
    return 0.5


def _chance_flipflop(name, params):
    p, T = float(params["pulse_prob"]), int(params["n_steps"])
    p0 = (1 - p) ** (np.arange(T) + 1)
    return float(np.mean(p0 ** 2 + (1 - p0) ** 2 / 2))


def _chance_rsg(name, params):
    dt, gain = float(params["dt"]), float(params["gain"])
    n_s = np.floor(np.asarray(params["intervals_ms"], float) / dt + 1e-9).astype(np.int64)
    produced = np.round(gain * n_s).astype(np.int64)[:, None]        # guessed (rows)
    target = gain * n_s[None, :] * dt                               # true (columns)
    ok = np.abs(produced * dt - target) <= 0.2 * target + 25.0
    return float(ok.mean())


def _chance_sine(name, params):
    from ._sine import RMSE_TOLERANCE

    k = int(params["n_frequencies"])
    omega = np.linspace(params["omega_min"], params["omega_max"], k)
    time = params["dt"] * np.arange(int(params["n_steps"]))
    waves = np.sin(omega[:, None] * time[None, :])                  # (k, T)
    sq = ((waves[:, None, :] - waves[None, :, :]) ** 2).mean(axis=2)
    return float(np.mean(np.sqrt(sq) < RMSE_TOLERANCE))


_CHANCE = {"yang19": _chance_yang, "kpflow": _chance_kpflow,
           "context_integration": _chance_context, "flipflop": _chance_flipflop,
           "ready_set_go": _chance_rsg, "sine_wave": _chance_sine}


def chance_level(name, **params):
    """The chance level of task ``name`` (at its defaults updated by ``params``).

    Returns
    -------
    chance : float in [0, 1]
        Expected score of :func:`chance_output` (see the module docstring).
    """
    spec = get_task(name)
    if spec.family not in _CHANCE:
        raise ValueError(f"no chance level is defined for the family {spec.family!r}")
    resolved = dict(spec.defaults)
    resolved.update(params)
    return float(_CHANCE[spec.family](name, resolved))


# ---------------------------------------------------------------------------------------------
# Uninformed outputs


def _out_yang(name, b, rng):
    n, T, d = b.y.shape
    m = d - 1
    out = np.zeros((n, T, d))
    last = b.periods["response"][:, 1] - 1
    fixate = rng.random(n) < _nogo_probability(name)
    phi = rng.uniform(0, 2 * np.pi, size=n)
    pref = 2 * np.pi * np.arange(m) / m
    rows = np.arange(n)
    out[rows, last, 0] = np.where(fixate, 1.0, 0.0)
    out[rows, last, 1:] = 1 + np.cos(pref[None, :] - phi[:, None])
    return out


def _out_kpflow(name, b, rng):
    n, T, _ = b.y.shape
    phi = rng.uniform(0, 2 * np.pi, size=n)
    out = np.zeros(b.y.shape)
    out[:, :, 1] = np.cos(phi)[:, None]
    out[:, :, 2] = np.sin(phi)[:, None]
    return out


def _out_context(name, b, rng):
    sign = np.where(rng.random(b.y.shape[0]) < 0.5, -1.0, 1.0)
    return np.broadcast_to(sign[:, None, None], b.y.shape).copy()


def _out_flipflop(name, b, rng):
    n, T, k = b.y.shape
    p = float(b.params["flipflop"]["pulse_prob"])
    p0 = (1 - p) ** (np.arange(T) + 1)
    zero = rng.random((n, T, k)) < p0[None, :, None]
    sign = np.where(rng.random((n, T, k)) < 0.5, -1.0, 1.0)
    return np.where(zero, 0.0, sign)


def _out_rsg(name, b, rng):
    n, T, _ = b.y.shape
    guess = rng.choice(np.unique(b.params["ready_set_go"]["intervals_ms"]), size=n)
    dt = b.meta["dt"]
    n_s = np.floor(guess / dt + 1e-9).astype(np.int64)
    go = b.periods["response"][:, 0] + np.round(b.meta["gain"] * n_s).astype(np.int64)
    return (np.arange(T)[None, :] >= go[:, None]).astype(float)[:, :, None]


def _out_sine(name, b, rng):
    p = b.params["sine_wave"]
    n, T, _ = b.y.shape
    k = int(p["n_frequencies"])
    omega = np.linspace(p["omega_min"], p["omega_max"], k)[rng.integers(0, k, size=n)]
    return np.sin(omega[:, None] * p["dt"] * np.arange(T)[None, :])[:, :, None]


_OUTPUT = {"yang19": _out_yang, "kpflow": _out_kpflow, "context_integration": _out_context,
           "flipflop": _out_flipflop, "ready_set_go": _out_rsg, "sine_wave": _out_sine}


def chance_output(name, bunch, random_state=None):
    """An uninformed output for the trials of a single-task Bunch (see the module docstring).

    Parameters
    ----------
    name : str
        The task of ``bunch`` (from :func:`make_task`).
    bunch : sklearn.utils.Bunch
    random_state : None, int or numpy.random.Generator

    Returns
    -------
    y_pred : ndarray of shape bunch.y.shape
        Scores :func:`chance_level` in expectation under :func:`score_task`.
    """
    spec = get_task(name)
    if list(bunch.task_names) != [name]:
        raise ValueError(f"bunch must be a single-task Bunch of {name!r}; its tasks are "
                         f"{list(bunch.task_names)} (use select_task first)")
    return _OUTPUT[spec.family](name, bunch, check_generator(random_state))


def task_info(name, **params):
    """What the package states about a task: source, defaults, chance level, conventions.

    Parameters
    ----------
    name : str
        Registered task name.
    **params
        Task parameters the chance level depends on (defaults otherwise).

    Returns
    -------
    info : dict
        ``name``, ``family``, ``description``, ``source``, ``defaults``, ``chance`` (float,
        see the module docstring), ``chance_output`` (how the uninformed output guesses),
        ``mask_convention``, ``timing`` and ``noise`` (one-line statements, also on the
        task's dataset card).

    Examples
    --------
    >>> from kpflow_sk.datasets import task_info
    >>> task_info("context_integration")["chance"]
    0.5
    >>> round(task_info("fdgo")["chance"], 3)
    0.2
    """
    spec = get_task(name)
    conventions = CONVENTIONS.get(spec.family, {})
    guesses = {
        "yang19": "fixate with the no-go probability, else a uniformly random angle",
        "kpflow": "(cos phi, sin phi) at a uniformly random phi",
        "context_integration": "a random sign",
        "flipflop": "each value drawn from the step's marginal target distribution",
        "ready_set_go": "the go step of an interval drawn from the prior",
        "sine_wave": "the sine of a frequency drawn from the prior",
    }
    return {
        "name": spec.name,
        "family": spec.family,
        "description": spec.description,
        "source": spec.source,
        "defaults": dict(spec.defaults),
        "chance": chance_level(name, **params) if spec.family in _CHANCE else None,
        "chance_output": guesses.get(spec.family),
        "mask_convention": conventions.get("mask_convention"),
        "timing": conventions.get("timing"),
        "noise": conventions.get("noise"),
    }
