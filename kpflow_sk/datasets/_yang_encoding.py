"""Yang et al. 2019 tasks: constants, epoch timing tables, and the ring encoding of stimuli.

The conventions these implement are in the docstring of :mod:`kpflow_sk.datasets._yang`; the
task families built from them are in :mod:`kpflow_sk.datasets._yang_families`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ._base import circular_distance

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
