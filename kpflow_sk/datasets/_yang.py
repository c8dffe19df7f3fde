"""The 20 cognitive tasks of Yang et al. 2019 (Nat. Neurosci. 22:297), in the paper's encoding.

Implemented from the facts in shared/TASKS.md section 1 (durations in ms, steps = floor(ms / dt)).

Channels, with ``m = n_eachring`` (32 by default):

- inputs (``1 + 2 m + 20``): ``[0]`` fixation; ``[1, m]`` ring 1 (modality 1); ``[m+1, 2m]``
  ring 2; ``[2m+1, 2m+20]`` one rule unit per task, in the order of :data:`RULES` (fdgo = 0 ...
  dmcnogo = 19), 1 for the whole trial. A stimulus at angle ``theta`` with strength ``s`` adds
  ``0.8 s exp(-d^2 / 2)`` to the unit preferring ``2 pi k / m``, with ``d`` = circular distance
  / (pi / 8); stimuli on one ring add. Gaussian noise of sd ``sqrt(2 / alpha) sigma_x``
  (``alpha = dt / tau``; ``sigma_x = 0.01`` when ``noise=True``) is added to every input
  channel at every step of a trial.
- targets (``1 + m``): every output 0.05; fixation output 0.8 before the response epoch (the
  whole trial on no-go trials); in the response epoch the ring is ``0.05 + 0.8 exp(-d^2 / 2)``
  centred on the response angle.
- stimuli: strength 1 in the Go/Anti and matching families. fdgo/fdanti: on from stim1 onset
  to the end; reactgo/reactanti: from go onset to the end (fixation input stays on);
  delaygo/delayanti: stim1 only. Decision making: both stimuli in stim1 (dm, contextdm,
  multidm) or one each in stim1 and stim2 (delayed variants), off during the delays and go1.
  Matching: stim1 in stim1, stim2 from go1 onset to the end; fixation input stays on.
- mask (per trial and step): 0 for the first 100 ms, 1 from there to response onset, 0 for a
  100 ms grace period after response onset, 5 from then to the end of the trial. The code's
  cost mask is per (step, trial, channel) with the fixation column doubled; that per-channel
  factor is ``meta["channel_weights"]``, shape (n, 1 + m), ``[2, 1, ..., 1]`` on every row. The
  code's weight of element ``(i, t, c)`` is ``mask[i, t] * channel_weights[i, c]`` (its loss is
  the mean of the squared weighted error).
- periods: the epochs ``fix1, stim1, delay1, stim2, delay2, go1`` a task has, as ``[start,
  stop)`` steps, plus ``response`` (the package convention), equal to ``go1``. In the matching
  tasks the second stimulus starts with ``go1`` and stays on to the end, so it has no period of
  its own.
- meta (per-trial arrays): ``stim1_angle``, ``stim2_angle`` (NaN when the task has no second
  stimulus); ``stim1_strength``, ``stim2_strength`` of shape (n, 2), the strength on ring 1 and
  ring 2 (0 where not shown); ``stim1_modality``, ``stim2_modality`` (1 or 2 = that ring, 0 = both
  rings, -1 = no such stimulus); ``coherence`` (signed ``c g`` of the comparison that decides
  the answer, NaN outside the decision-making family); ``match`` (1.0 / 0.0 in the matching
  family, NaN elsewhere); ``target_angle`` (the response angle in [0, 2 pi); **NaN** where the
  code's label is -1, i.e. the network must keep fixating); ``channel_weights``.

Timing. ``timing="per_trial"`` (the default) draws every epoch duration, and the stimulus
modality where the code draws it per batch, independently for each trial; trials are then
padded to the longest: padded steps have all inputs 0 (no noise), the baseline target (0.05 on
every output) and mask 0. ``timing="per_batch"`` reproduces the code, which draws them once per
batch: all ``n_samples`` trials share them and nothing is padded. Per-trial draws are the
default because one call usually builds a whole data set that is later cut into mini-batches,
and one timing for the whole set would make every trial the same length. A ``<epoch>_ms``
parameter fixes that epoch's duration for every trial.

Score: Yang's performance at each trial's last step (the end of ``response``): the network is
fixating iff ``y_fix > 0.5``; the decoded angle is the population vector ``arg sum_k y_k
exp(i 2 pi k / m)`` of the ring outputs. A trial whose ``target_angle`` is NaN is correct iff
fixating; any other is correct iff not fixating and the circular error is below ``0.2 pi``.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ._base import (
    check_n_samples,
    check_nonnegative,
    check_positive,
    circular_distance,
    ms_to_steps,
)
from ._noise import normal_rows_into
from ._registry import TaskSpec, register_task

__all__ = ["RULES", "generate_yang", "score_yang"]

SOURCE = "Yang et al. 2019, Nat. Neurosci. 22:297"

#: The 20 tasks, in the order of their rule units.
RULES = (
    "fdgo", "reactgo", "delaygo", "fdanti", "reactanti", "delayanti",
    "dm1", "dm2", "contextdm1", "contextdm2", "multidm",
    "delaydm1", "delaydm2", "contextdelaydm1", "contextdelaydm2", "multidelaydm",
    "dmsgo", "dmsnogo", "dmcgo", "dmcnogo",
)

N_RULES = len(RULES)
#: Stimulus and target bump amplitude and the tuning width (radians) of a ring unit.
BUMP_AMPLITUDE = 0.8
BUMP_WIDTH = np.pi / 8
#: Target levels: baseline of every output, fixation output while fixating.
TARGET_BASELINE = 0.05
TARGET_FIXATION = 0.8
#: Cost-mask timing (ms) and weights.
MASK_SKIP_MS = 100.0
GRACE_MS = 100.0
RESPONSE_WEIGHT = 5.0
FIXATION_CHANNEL_WEIGHT = 2.0
#: Scoring: fixation threshold and angular tolerance.
FIXATION_THRESHOLD = 0.5
ANGLE_TOLERANCE = 0.2 * np.pi
#: Default input noise (sigma_x) and the network time constant that scales it.
SIGMA_X = 0.01
TAU_MS = 100.0
#: The largest dt (ms) at which every drawn epoch still lasts at least one step.
MAX_DT = 100.0

DM_COHERENCES = (0.01, 0.02, 0.04, 0.08)
DELAY_DM_COHERENCES = (0.08, 0.16, 0.32)
#: The code's 'easy_task' multiplies the coherence sets by these factors.
EASY_FACTOR_DM = 10.0
EASY_FACTOR_DELAY_DM = 2.0

# Epoch duration distributions (ms): ("uniform", lo, hi), ("choice", values) or ("fixed", v).
_GO = ("fixed", 500.0)
_FD_EPOCHS = (("fix1", ("uniform", 300.0, 700.0)), ("stim1", ("uniform", 500.0, 1500.0)),
              ("go1", _GO))
_REACT_EPOCHS = (("fix1", ("uniform", 500.0, 2500.0)), ("go1", _GO))
_DELAYGO_EPOCHS = (("fix1", ("choice", (300.0, 500.0, 700.0))),
                   ("stim1", ("choice", (200.0, 400.0, 600.0))),
                   ("delay1", ("choice", (200.0, 400.0, 800.0, 1600.0))), ("go1", _GO))
_DM_EPOCHS = (("fix1", ("uniform", 100.0, 400.0)),
              ("stim1", ("choice", (400.0, 800.0, 1600.0))), ("go1", _GO))
_DELAYDM_EPOCHS = (("fix1", ("choice", (200.0, 400.0, 600.0))),
                   ("stim1", ("choice", (200.0, 400.0, 600.0))),
                   ("delay1", ("choice", (200.0, 400.0, 800.0, 1600.0))),
                   ("stim2", ("choice", (200.0, 400.0, 600.0))),
                   ("delay2", ("uniform", 100.0, 300.0)), ("go1", _GO))
_MATCH_HEAD = (("fix1", ("choice", (200.0, 400.0, 600.0))),
               ("stim1", ("choice", (200.0, 400.0, 600.0))),
               ("delay1", ("choice", (200.0, 400.0, 800.0, 1600.0))))
_DMS_EPOCHS = _MATCH_HEAD + (("go1", _GO),)
_DMC_EPOCHS = _MATCH_HEAD + (("go1", ("choice", (200.0, 400.0, 600.0))),)

_COMMON_DEFAULTS = {"dt": 20.0, "n_eachring": 32, "noise": True, "tau": TAU_MS,
                    "noise_alpha": None, "timing": "per_trial"}
#: Yang et al.'s code scales the input noise with its network's alpha, fixed at 0.2.
YANG_ALPHA = 0.2


@dataclass(frozen=True)
class _Config:
    """Resolved parameters shared by every task of the family."""

    dt: float
    n_eachring: int
    sigma: float          # per-step input noise sd, sqrt(2 / alpha) * sigma_x
    per_trial: bool
    easy_task: bool


@dataclass(frozen=True)
class _Trials:
    """What a task family draws: stimuli, fixation input and the answer, per trial.

    ``stimuli`` is a list of ``(start, stop, amplitude)``: steps (n,) and the input added to
    the two rings while the stimulus is on, shape (n, 2 m).
    """

    stimuli: list
    fix_in_stop: np.ndarray
    target_angle: np.ndarray
    meta: dict


@dataclass(frozen=True)
class _YangTask:
    name: str
    epochs: tuple
    build: Callable        # build(rng, n, size, bounds, cfg) -> _Trials
    description: str
    has_coherences: bool = False   # decision-making family: takes easy_task


# ----------------------------------------------------------------------------------------------
# Encoding helpers


def _preferred_angles(n_eachring):
    return 2 * np.pi * np.arange(n_eachring) / n_eachring


def _bump(theta, n_eachring):
    """``exp(-d^2 / 2)`` tuning of each ring unit to angles ``theta`` (n,), shape (n, m)."""
    d = circular_distance(np.asarray(theta)[:, None], _preferred_angles(n_eachring)[None, :])
    return np.exp(-0.5 * (d / BUMP_WIDTH) ** 2)


def _ring_input(theta, strength, n_eachring):
    """Input of one stimulus on both rings, shape (n, 2 m).

    ``strength`` (n, 2) is the strength on ring 1 and ring 2 (0 = not shown on that ring).
    """
    bump = BUMP_AMPLITUDE * _bump(theta, n_eachring)
    return np.concatenate([strength[:, :1] * bump, strength[:, 1:] * bump], axis=1)


def _modality_strength(modality, strength=1.0):
    """Per-ring strength (n, 2) of a stimulus shown on ring ``modality`` (1 or 2)."""
    return np.stack([np.where(modality == 1, strength, 0.0),
                     np.where(modality == 2, strength, 0.0)], axis=1)


def _size(cfg, n):
    """Number of draws of a quantity the code draws once per batch."""
    return n if cfg.per_trial else 1


def _broadcast(values, n):
    return np.broadcast_to(values, (n,)).copy()


def _common_meta(n, **given):
    """Family-independent meta layout; ``given`` overrides the 'not applicable' values."""
    meta = {
        "stim1_angle": np.full(n, np.nan),
        "stim2_angle": np.full(n, np.nan),
        "stim1_strength": np.zeros((n, 2)),
        "stim2_strength": np.zeros((n, 2)),
        "stim1_modality": np.full(n, -1, dtype=np.int64),
        "stim2_modality": np.full(n, -1, dtype=np.int64),
        "coherence": np.full(n, np.nan),
        "match": np.full(n, np.nan),
    }
    meta.update(given)
    return meta


def _given_or(given, key, draw):
    """``given[key]`` when the caller fixed it (test / psychometric trials), else ``draw()``."""
    if given and key in given:
        return given[key]
    return draw()


def _dm_trials(delayed, bounds, cfg, theta1, theta2, strength1, strength2, modality, coh,
               stronger_first):
    """Stimuli, answer and meta of decision-making trials from their drawn (or given) values."""
    start, stop = bounds
    n = theta1.shape[0]
    input1 = _ring_input(theta1, strength1, cfg.n_eachring)
    input2 = _ring_input(theta2, strength2, cfg.n_eachring)
    if delayed:
        stimuli = [(start["stim1"], stop["stim1"], input1),
                   (start["stim2"], stop["stim2"], input2)]
    else:
        stimuli = [(start["stim1"], stop["stim1"], input1 + input2)]
    target = np.where(stronger_first, theta1, theta2)
    meta = _common_meta(n, stim1_angle=theta1, stim2_angle=theta2,
                        stim1_strength=strength1, stim2_strength=strength2,
                        stim1_modality=modality, stim2_modality=modality.copy(),
                        coherence=coh)
    return _Trials(stimuli, start["go1"], target, meta)


def _dm_given(variant, delayed, n, bounds, cfg, given):
    """Decision-making trials with caller-given angles and per-ring strengths (n, 2)."""
    theta1, theta2 = given["stim1_angle"], given["stim2_angle"]
    strength1, strength2 = given["stim1_strength"], given["stim2_strength"]
    if variant in (1, 2):
        modality = np.full(n, variant)
        evidence1, evidence2 = strength1[:, variant - 1], strength2[:, variant - 1]
    else:
        modality = np.zeros(n, dtype=np.int64)
        if variant == "multi":
            evidence1, evidence2 = strength1.sum(axis=1), strength2.sum(axis=1)
        else:
            cued = 0 if variant == "context1" else 1
            evidence1, evidence2 = strength1[:, cued], strength2[:, cued]
    coh = (evidence1 - evidence2) / 2
    return _dm_trials(delayed, bounds, cfg, theta1, theta2, strength1, strength2, modality,
                      coh, evidence1 > evidence2)


# ----------------------------------------------------------------------------------------------
# Task families: each returns the stimuli and the answer of n trials


def _go_family(anti, stimulus):
    """Go / Anti: one stimulus, response at its angle (``anti``: rotated by pi).

    ``stimulus`` says when it is on: ``"to_end"`` (fdgo: from stim1 onset to the end),
    ``"react"`` (reactgo: from go onset to the end; fixation input stays on), ``"stim1"``
    (delaygo: stim1 epoch only).
    """

    def build(rng, n, size, bounds, cfg, given):
        start, stop = bounds
        end = stop["go1"]
        modality = _given_or(given, "stim1_modality",
                             lambda: _broadcast(rng.choice([1, 2], size=size), n))
        theta = _given_or(given, "stim1_angle", lambda: rng.uniform(0.0, 2 * np.pi, size=n))
        strength = _given_or(given, "stim1_strength", lambda: _modality_strength(modality))
        if stimulus == "to_end":
            on = (start["stim1"], end)
        elif stimulus == "react":
            on = (start["go1"], end)
        else:
            on = (start["stim1"], stop["stim1"])
        fix_in_stop = end if stimulus == "react" else start["go1"]
        target = np.mod(theta + np.pi, 2 * np.pi) if anti else theta
        meta = _common_meta(n, stim1_angle=theta, stim1_strength=strength,
                            stim1_modality=modality)
        return _Trials([(on[0], on[1], _ring_input(theta, strength, cfg.n_eachring))],
                       fix_in_stop, target, meta)

    return build


def _dm_strengths(rng, n, coherences):
    """``s1 = mu + c g``, ``s2 = mu - c g`` with mu U(0.8, 1.2), c from ``coherences``, g = +-1."""
    mean = rng.uniform(0.8, 1.2, size=n)
    coh = rng.choice(coherences, size=n) * rng.choice([-1.0, 1.0], size=n)
    return mean + coh, mean - coh, coh


def _dm_family(variant, delayed):
    """Decision making: report the angle of the stronger of two stimuli.

    ``variant``: ``1`` / ``2`` (both stimuli on that ring), ``"context1"`` / ``"context2"``
    (both rings, independent strengths per ring, answer from the cued ring) or ``"multi"``
    (one strength pair split unevenly over the two rings; answer from the sum). ``delayed``:
    stim1 and stim2 are shown one after the other, else together in stim1.
    """

    def build(rng, n, size, bounds, cfg, given):
        if given:
            return _dm_given(variant, delayed, n, bounds, cfg, given)
        start, stop = bounds
        base = DELAY_DM_COHERENCES if delayed else DM_COHERENCES
        factor = (EASY_FACTOR_DELAY_DM if delayed else EASY_FACTOR_DM) if cfg.easy_task else 1.0
        coherences = tuple(factor * c for c in base)

        theta1 = rng.uniform(0.0, 2 * np.pi, size=n)
        offset = rng.uniform(0.5 * np.pi, 1.5 * np.pi, size=n) * rng.choice([-1.0, 1.0], size=n)
        theta2 = np.mod(theta1 + offset, 2 * np.pi)

        if variant in (1, 2):
            s1, s2, coh = _dm_strengths(rng, n, coherences)
            ring = np.full(n, variant)
            strength1, strength2 = _modality_strength(ring, s1), _modality_strength(ring, s2)
            modality = ring
            stronger_first = s1 > s2
        elif variant in ("context1", "context2"):
            s1_m1, s2_m1, coh_m1 = _dm_strengths(rng, n, coherences)
            s1_m2, s2_m2, coh_m2 = _dm_strengths(rng, n, coherences)
            strength1 = np.stack([s1_m1, s1_m2], axis=1)
            strength2 = np.stack([s2_m1, s2_m2], axis=1)
            modality = np.zeros(n, dtype=np.int64)
            cued = 0 if variant == "context1" else 1
            coh = (coh_m1, coh_m2)[cued]
            stronger_first = strength1[:, cued] > strength2[:, cued]
        else:  # multi
            s1, s2, coh = _dm_strengths(rng, n, coherences)
            # Each stimulus is split over the rings as s +- delta / 2, |delta| = s U(0.2, 0.8).
            split1 = s1 * rng.uniform(0.2, 0.8, size=n) * rng.choice([-1.0, 1.0], size=n)
            split2 = s2 * rng.uniform(0.2, 0.8, size=n) * rng.choice([-1.0, 1.0], size=n)
            strength1 = np.stack([s1 + split1 / 2, s1 - split1 / 2], axis=1)
            strength2 = np.stack([s2 + split2 / 2, s2 - split2 / 2], axis=1)
            modality = np.zeros(n, dtype=np.int64)
            stronger_first = s1 > s2

        return _dm_trials(delayed, bounds, cfg, theta1, theta2, strength1, strength2,
                          modality, coh, stronger_first)

    return build


def _match_family(category, go_on_match):
    """Delayed match-to-sample (``category=False``) or -to-category (``category=True``).

    Fixation input stays on; stim1 is shown in stim1, stim2 from the response onset to the end.
    Go trials (match for ``go_on_match``, non-match otherwise) answer at stim2's angle; no-go
    trials keep fixating (``target_angle`` NaN).
    """

    def build(rng, n, size, bounds, cfg, given):
        start, stop = bounds
        end = stop["go1"]
        mod1 = _given_or(given, "stim1_modality",
                         lambda: _broadcast(rng.choice([1, 2], size=size), n))
        mod2 = _given_or(given, "stim2_modality",
                         lambda: _broadcast(rng.choice([1, 2], size=size), n))
        if given:
            theta1, theta2 = given["stim1_angle"], given["stim2_angle"]
            if category:
                match = (theta1 < np.pi) == (theta2 < np.pi)
            else:
                # The code's psychometric rule: a match is within 5 degrees.
                match = circular_distance(theta1, theta2) < np.pi / 36
        elif category:
            grid = np.pi * np.arange(0.1, 2.0, 0.2)      # 0.1 pi, 0.3 pi, ..., 1.9 pi
            theta1 = rng.choice(grid, size=n)
            theta2 = rng.choice(grid, size=n)
            match = (theta1 < np.pi) == (theta2 < np.pi)
        else:
            match = rng.random(n) < 0.5
            theta1 = rng.uniform(0.0, 2 * np.pi, size=n)
            offset = (rng.uniform(np.pi / 9, 17 * np.pi / 9, size=n)
                      * rng.choice([-1.0, 1.0], size=n))
            theta2 = np.where(match, theta1, np.mod(theta1 + offset, 2 * np.pi))
        strength1, strength2 = _modality_strength(mod1), _modality_strength(mod2)
        stimuli = [(start["stim1"], stop["stim1"], _ring_input(theta1, strength1, cfg.n_eachring)),
                   (start["go1"], end, _ring_input(theta2, strength2, cfg.n_eachring))]
        go = match if go_on_match else ~match
        target = np.where(go, theta2, np.nan)
        meta = _common_meta(n, stim1_angle=theta1, stim2_angle=theta2,
                            stim1_strength=strength1, stim2_strength=strength2,
                            stim1_modality=mod1, stim2_modality=mod2,
                            match=match.astype(float))
        return _Trials(stimuli, end, target, meta)

    return build


_SPECS = (
    _YangTask("fdgo", _FD_EPOCHS, _go_family(False, "to_end"),
              "respond at the stimulus angle when fixation goes off (stimulus stays on)"),
    _YangTask("reactgo", _REACT_EPOCHS, _go_family(False, "react"),
              "respond at the stimulus angle as soon as it appears"),
    _YangTask("delaygo", _DELAYGO_EPOCHS, _go_family(False, "stim1"),
              "remember the stimulus angle over a delay, respond when fixation goes off"),
    _YangTask("fdanti", _FD_EPOCHS, _go_family(True, "to_end"),
              "respond opposite the stimulus when fixation goes off (stimulus stays on)"),
    _YangTask("reactanti", _REACT_EPOCHS, _go_family(True, "react"),
              "respond opposite the stimulus as soon as it appears"),
    _YangTask("delayanti", _DELAYGO_EPOCHS, _go_family(True, "stim1"),
              "remember the stimulus, respond opposite it after a delay"),
    _YangTask("dm1", _DM_EPOCHS, _dm_family(1, False),
              "report the stronger of two simultaneous stimuli on ring 1", True),
    _YangTask("dm2", _DM_EPOCHS, _dm_family(2, False),
              "report the stronger of two simultaneous stimuli on ring 2", True),
    _YangTask("contextdm1", _DM_EPOCHS, _dm_family("context1", False),
              "report the stronger stimulus on ring 1, ignoring ring 2", True),
    _YangTask("contextdm2", _DM_EPOCHS, _dm_family("context2", False),
              "report the stronger stimulus on ring 2, ignoring ring 1", True),
    _YangTask("multidm", _DM_EPOCHS, _dm_family("multi", False),
              "report the stimulus stronger summed over both rings", True),
    _YangTask("delaydm1", _DELAYDM_EPOCHS, _dm_family(1, True),
              "report the stronger of two sequential stimuli on ring 1", True),
    _YangTask("delaydm2", _DELAYDM_EPOCHS, _dm_family(2, True),
              "report the stronger of two sequential stimuli on ring 2", True),
    _YangTask("contextdelaydm1", _DELAYDM_EPOCHS, _dm_family("context1", True),
              "report the stronger of two sequential stimuli on ring 1, ignoring ring 2",
              True),
    _YangTask("contextdelaydm2", _DELAYDM_EPOCHS, _dm_family("context2", True),
              "report the stronger of two sequential stimuli on ring 2, ignoring ring 1",
              True),
    _YangTask("multidelaydm", _DELAYDM_EPOCHS, _dm_family("multi", True),
              "report the sequential stimulus stronger summed over both rings",
              True),
    _YangTask("dmsgo", _DMS_EPOCHS, _match_family(False, True),
              "respond at the second stimulus if it matches the first, else keep fixating"),
    _YangTask("dmsnogo", _DMS_EPOCHS, _match_family(False, False),
              "respond at the second stimulus if it differs from the first, else keep fixating"),
    _YangTask("dmcgo", _DMC_EPOCHS, _match_family(True, True),
              "respond at the second stimulus if its category matches the first's"),
    _YangTask("dmcnogo", _DMC_EPOCHS, _match_family(True, False),
              "respond at the second stimulus if its category differs from the first's"),
)
_BY_NAME = {spec.name: spec for spec in _SPECS}
assert tuple(_BY_NAME) == RULES


def _defaults(task):
    defaults = dict(_COMMON_DEFAULTS)
    if task.has_coherences:
        defaults["easy_task"] = False
    defaults.update({f"{epoch}_ms": None for epoch, _ in task.epochs})
    return defaults


# ----------------------------------------------------------------------------------------------
# Generation


def _check_config(task, params):
    unknown = sorted(set(params) - set(_defaults(task)))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for task {task.name!r}; valid "
                         f"parameters: {sorted(_defaults(task))}")
    p = {**_defaults(task), **params}
    dt = check_positive("dt", p["dt"])
    if dt > MAX_DT:
        raise ValueError(f"dt must be <= {MAX_DT:g} ms (the shortest epochs and the 100 ms "
                         f"grace period need a step); got {dt!r}")
    m = p["n_eachring"]
    if not isinstance(m, numbers.Integral) or isinstance(m, bool) or m < 3:
        raise ValueError(f"n_eachring must be an integer >= 3 (a population vector needs three "
                         f"directions); got {m!r}")
    noise = p["noise"]
    if noise is None or isinstance(noise, bool):
        sigma_x = SIGMA_X if noise else 0.0
    else:
        sigma_x = check_nonnegative("noise", noise)
    tau = check_positive("tau", p["tau"])
    alpha = dt / tau
    if p["noise_alpha"] is not None:
        alpha = check_positive("noise_alpha", p["noise_alpha"])
    if p["timing"] not in ("per_trial", "per_batch"):
        raise ValueError(f"timing must be 'per_trial' or 'per_batch'; got {p['timing']!r}")
    easy = p.get("easy_task", False)
    if not isinstance(easy, (bool, np.bool_)):
        raise ValueError(f"easy_task must be True or False; got {easy!r}")
    fixed = {}
    grace = int(np.floor(GRACE_MS / dt + 1e-9))
    for epoch, _ in task.epochs:
        ms = p[f"{epoch}_ms"]
        if ms is not None:
            # The response must outlast the grace period, or no step would be scored.
            minimum = grace + 1 if epoch == "go1" else 1
            fixed[epoch] = ms_to_steps(f"{epoch}_ms", ms, dt, minimum=minimum)
    cfg = _Config(dt=dt, n_eachring=int(m), sigma=float(np.sqrt(2.0 / alpha) * sigma_x),
                  per_trial=p["timing"] == "per_trial", easy_task=bool(easy))
    return cfg, fixed


def _draw_steps(dist, rng, size, dt):
    kind = dist[0]
    if kind == "uniform":
        ms = rng.uniform(dist[1], dist[2], size=size)
    elif kind == "choice":
        ms = rng.choice(dist[1], size=size)
    else:
        ms = np.full(size, dist[1])
    return np.floor(np.asarray(ms) / dt + 1e-9).astype(np.int64)


def _add_on_steps(arr, start, stop, values):
    """``arr[i, start[i]:stop[i], ...] += values[i]`` for every trial ``i``, in place.

    One broadcast add per trial on its own contiguous block of steps (hand-written: fancy
    indexing would build (n_on_steps, channels) temporaries, larger than the data here).
    """
    values = np.asarray(values, dtype=arr.dtype)
    rows = np.flatnonzero(stop > start)
    # Python ints: indexing with numpy scalars costs more than the add on ~20 steps.
    for i, a, b in zip(rows.tolist(), start[rows].tolist(), stop[rows].tolist()):
        arr[i, a:b] += values[i]


def generate_yang(name, n_samples, rng, *, given=None, **params):
    """Generate ``n_samples`` trials of the Yang et al. 2019 task ``name``.

    Parameters
    ----------
    name : str
        One of :data:`RULES`.
    n_samples : int
        Number of trials, >= 1.
    rng : numpy.random.Generator
    dt : float, default 20
        Step in ms, at most 100.
    n_eachring : int, default 32
        Units per ring (input rings and the response ring), >= 3.
    noise : bool, float or None, default True
        ``sigma_x`` of the input noise: True = 0.01 (the paper), False or None = none, a float
        >= 0 = that value. The per-step sd is ``sqrt(2 / alpha) sigma_x`` with ``alpha = dt / tau``
        (or ``noise_alpha``).
    tau : float, default 100
        Network time constant (ms), only used to scale the noise.
    timing : {"per_trial", "per_batch"}, default "per_trial"
        Draw epoch durations (and per-batch modalities) for each trial, or once for all trials
        as the authors' code does (see the module docstring).
    easy_task : bool, default False
        Decision-making tasks only: multiply the coherences by 10 (dm) or 2 (delayed dm).
    noise_alpha : float or None, default None
        The ``alpha`` of the noise scale: None = ``dt / tau`` (this package), a float = that
        value. Yang et al.'s code uses its network's ``alpha`` (0.2, :data:`YANG_ALPHA`) whatever
        the ``dt`` of the task, so the two rules agree only at ``dt = 20`` ms (with ``tau =
        100``); pass ``noise_alpha=0.2`` for the code's rule at another ``dt``.
    <epoch>_ms : float or None, default None
        Fix that epoch's duration (ms) for every trial; one per epoch of the task (``fix1_ms``,
        ``stim1_ms``, ``delay1_ms``, ``stim2_ms``, ``delay2_ms``, ``go1_ms``).
    given : dict or None, default None
        Per-trial stimulus values that replace the random draws (used by the test and
        psychometric modes, see :mod:`kpflow_sk.datasets._yang_modes`): ``stim1_angle``,
        ``stim2_angle`` (n,), ``stim1_strength``, ``stim2_strength`` (n, 2), ``stim1_modality``,
        ``stim2_modality`` (n,), as in ``meta``.

    Returns
    -------
    out : dict
        ``X`` (n, T, 1 + 2 m + 20) float32, ``y`` (n, T, 1 + m) float32, ``mask`` (n, T)
        float32, ``periods`` (epoch -> int64 (n, 2)), ``meta`` and ``rest``, as described in
        the module docstring.
    """
    task = _BY_NAME[name]
    n = check_n_samples(n_samples)
    cfg, fixed = _check_config(task, params)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator; got {rng!r}")
    size = _size(cfg, n)
    m = cfg.n_eachring

    # Epoch boundaries, in steps.
    start, stop = {}, {}
    t0 = np.zeros(n, dtype=np.int64)
    for epoch, dist in task.epochs:
        steps = (np.full(n, fixed[epoch], dtype=np.int64) if epoch in fixed
                 else _broadcast(_draw_steps(dist, rng, size, cfg.dt), n))
        start[epoch], stop[epoch] = t0, t0 + steps
        t0 = stop[epoch]
    end, resp_on = stop["go1"], start["go1"]
    T = int(end.max())
    trials = task.build(rng, n, size, (start, stop), cfg, given)

    t = np.arange(T)[None, :]
    valid = t < end[:, None]
    d_in, d_out = 1 + 2 * m + N_RULES, 1 + m

    # Inputs: noise first (only on the steps of a trial), then the signals. Everything is
    # written in float32 straight into X, and only on the steps a signal occupies, so padded
    # steps are never touched (their pages stay unmapped zeros until read).
    X = np.zeros((n, T, d_in), dtype=np.float32)
    if cfg.sigma > 0:
        normal_rows_into(X.reshape(n, T * d_in), end * d_in, rng, cfg.sigma)
    one = np.float32(1.0)
    np.add(X[:, :, 0], one, out=X[:, :, 0], where=t < trials.fix_in_stop[:, None])
    rule = 1 + 2 * m + RULES.index(name)
    np.add(X[:, :, rule], one, out=X[:, :, rule], where=valid)
    for on_start, on_stop, amplitude in trials.stimuli:
        _add_on_steps(X[:, :, 1:1 + 2 * m], on_start, on_stop, amplitude)

    # Targets: baseline everywhere (padding included), fixation output, response bump.
    go = ~np.isnan(trials.target_angle)
    y = np.full((n, T, d_out), TARGET_BASELINE, dtype=np.float32)
    fix_out_stop = np.where(go, resp_on, end)
    np.copyto(y[:, :, 0], np.float32(TARGET_FIXATION), where=t < fix_out_stop[:, None])
    bump = BUMP_AMPLITUDE * _bump(np.where(go, trials.target_angle, 0.0), m)
    _add_on_steps(y[:, :, 1:], fix_out_stop, end, bump)

    # Cost mask: skip the first 100 ms and a 100 ms grace period after response onset.
    skip = int(np.floor(MASK_SKIP_MS / cfg.dt + 1e-9))
    grace = int(np.floor(GRACE_MS / cfg.dt + 1e-9))
    mask = np.zeros((n, T), dtype=np.float32)
    mask[(t >= skip) & (t < resp_on[:, None])] = 1.0
    mask[(t >= resp_on[:, None] + grace) & valid] = RESPONSE_WEIGHT
    # X, y and mask are finite when the stimulus and target amplitudes are (the noise is
    # bounded by construction), so make_task need not scan the ~1 GB of a 10,000-trial set.
    finite = all(bool(np.isfinite(a).all()) for *_, a in trials.stimuli) and bool(
        np.isfinite(bump).all())

    periods = {epoch: np.stack([start[epoch], stop[epoch]], axis=1) for epoch, _ in task.epochs}
    periods["response"] = periods["go1"].copy()
    channel_weights = np.ones((n, d_out), dtype=np.float32)
    channel_weights[:, 0] = FIXATION_CHANNEL_WEIGHT
    meta = dict(trials.meta, target_angle=trials.target_angle, channel_weights=channel_weights)
    rest_y = np.full(d_out, TARGET_BASELINE)
    return {
        "X": X,
        "y": y,
        "mask": mask,
        "periods": periods,
        "meta": meta,
        # Outside a trial (padding) inputs are exactly zero and nothing is scored; within a
        # trial every input channel (rule units included) carries noise of sd sigma.
        "rest": {"X": np.zeros(d_in), "y": rest_y, "mask": 0.0, "noise": 0.0,
                 "input_noise": cfg.sigma},
        "lengths": end,
        "finite": finite,
    }


# ----------------------------------------------------------------------------------------------
# Score


def score_yang(y_pred, bunch):
    """Yang et al.'s performance: fraction of trials correct at their last step.

    Parameters
    ----------
    y_pred : array-like of shape (n, T, 1 + m)
        Network outputs: fixation unit, then the response ring.
    bunch : Bunch or dict
        Single-task view with ``y`` (n, T, 1 + m), ``periods["response"]`` (its stop is one
        past each trial's last step) and ``meta["target_angle"]`` (NaN = must fixate).

    Returns
    -------
    accuracy : float in [0, 1]

    Notes
    -----
    The decoded angle is ``arg sum_k y_k exp(i phi_k)``. The code divides that sum by
    ``sum_k y_k`` first, which rotates the angle by pi when the ring sums to a negative value
    (impossible with its sigmoid outputs) and gives NaN (an error) when it sums to 0; here a
    population vector of length <= 1e-9 times ``sum_k |y_k|`` (no direction, e.g. an all-zero
    or constant ring) counts as an error.
    """
    y_pred = np.asarray(y_pred, dtype=float)
    y = bunch["y"]
    if y_pred.shape != y.shape:
        raise ValueError(f"y_pred must have the shape of the task's y {y.shape}; got "
                         f"{y_pred.shape}")
    n = y.shape[0]
    last = np.asarray(bunch["periods"]["response"])[:, 1] - 1
    out = y_pred[np.arange(n), last]                       # (n, 1 + m)
    fixating = out[:, 0] > FIXATION_THRESHOLD
    ring = out[:, 1:]
    pref = _preferred_angles(ring.shape[1])
    vec = ring @ np.exp(1j * pref)
    has_direction = np.abs(vec) > 1e-9 * np.abs(ring).sum(axis=1)
    decoded = np.mod(np.angle(vec), 2 * np.pi)
    target = np.asarray(bunch["meta"]["target_angle"], dtype=float)
    must_fixate = np.isnan(target)
    close = circular_distance(decoded, np.where(must_fixate, 0.0, target)) < ANGLE_TOLERANCE
    correct = np.where(must_fixate, fixating, ~fixating & has_direction & close)
    return float(np.mean(correct))


# ----------------------------------------------------------------------------------------------
# Registration


def _make_generator(name):
    def generate(n_samples, rng, **params):
        return generate_yang(name, n_samples, rng, **params)

    generate.__name__ = f"generate_{name}"
    generate.__doc__ = f"Generate trials of Yang et al.'s {name!r} task; see ``generate_yang``."
    return generate


for _task in _SPECS:
    register_task(TaskSpec(
        name=_task.name,
        family="yang19",
        generate=_make_generator(_task.name),
        score=score_yang,
        n_rule_inputs=N_RULES,
        rule_index=RULES.index(_task.name),
        description=_task.description,
        source=SOURCE,
        defaults=_defaults(_task),
    ))
