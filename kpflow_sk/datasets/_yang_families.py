"""Yang et al. 2019: the three task families (Go/Anti, decision making, matching) and the
table of the 20 tasks (epochs, trial builder, description), in rule order.

Each family returns a builder ``build(rng, n, size, bounds, cfg, given) -> _Trials``: the
stimuli, the fixation-input offset, the response angle and the meta of ``n`` trials, drawn
(or taken from ``given``) as described in :mod:`kpflow_sk.datasets._yang`.
"""

from __future__ import annotations

import numpy as np

from ._base import circular_distance
from ._yang_encoding import (
    _COMMON_DEFAULTS,
    _DELAYDM_EPOCHS,
    _DELAYGO_EPOCHS,
    _DM_EPOCHS,
    _DMC_EPOCHS,
    _DMS_EPOCHS,
    _FD_EPOCHS,
    _REACT_EPOCHS,
    DELAY_DM_COHERENCES,
    DM_COHERENCES,
    EASY_FACTOR_DELAY_DM,
    EASY_FACTOR_DM,
    RULES,
    _broadcast,
    _common_meta,
    _given_or,
    _modality_strength,
    _ring_input,
    _Trials,
    _YangTask,
)


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
