"""Deterministic trial sets of Yang et al. 2019: the code's 'test' batches and psychometric sets.

Yang et al.'s code can generate, besides random training batches, a deterministic 'test' batch
per task (a grid of stimulus conditions with fixed epoch durations, used for analysis) and
'psychometric' batches (stimulus values chosen by the caller, fixed timings). Implemented from
the facts of the authors' ``task.py`` (grids and durations below; the encoding, targets, mask and
noise are those of :mod:`kpflow_sk.datasets._yang`).

Test grids (trial ``i`` is the C-order index into the grid shape, the angle varying slowest):

========================== =================== ===========================================
tasks                      grid                epochs (ms)
========================== =================== ===========================================
fdgo, fdanti               20 angles x 2 rings fix1 500, stim1 1000, go1 500
reactgo, reactanti         20 angles x 2 rings fix1 2000, go1 500
delaygo, delayanti         20 angles x 2 rings fix1 500, stim1 500, delay1 1000, go1 500
dm1, dm2                   20 angles x 5 s1    fix1 500, stim1 1500, go1 500
contextdm1/2, multidm      20 x 5 s1 (ring 1)  fix1 500, stim1 1000, go1 500
                           x 5 s1 (ring 2)
delaydm1, delaydm2         20 angles x 5 s1    fix1 500, stim1 500, delay1 1000, stim2 500,
                                               delay2 200, go1 300
contextdelaydm1/2,         20 x 5 x 5          fix1 500, stim1 500, delay1 1000, stim2 500,
multidelaydm                                   delay2 500, go1 500
dmsgo, dmsnogo,            20 angles x 2 rings fix1 500, stim1 500, delay1 1200, go1 500
dmcgo, dmcnogo             (stim1) x 2 rings
                           (stim2)
========================== =================== ===========================================

- Angles ``2 pi a / 20`` (dmc tasks: ``(0.1 + 0.8 j / 10) pi`` for the first ten and ``(1.1 +
  0.8 j / 10) pi`` for the last ten, so each category gets ten). In the decision-making tasks
  the second stimulus is opposite the first (``theta + pi``) and the strengths are
  ``s1 = 0.8 + 0.4 k / 5`` (delaydm: ``0.5 + k / 5``), ``s2 = 2 - s1``, ``k = 0..4``, per ring for
  the context and multisensory tasks.
- Matching tasks: every test trial is a go trial (the code "makes sure the response is go"):
  stim2 equals stim1 for dmsgo / dmcgo and is opposite it (``+ pi``, the other category) for
  dmsnogo / dmcnogo.
"""

from __future__ import annotations

import numpy as np

from ._base import build_bunch, check_generator, get_task, validate_generated
from ._yang import RULES, generate_yang

__all__ = ["TEST_GRIDS", "make_test_batch", "make_psychometric", "psychometric_grid"]

_N_ANGLES = 20
_N_STRENGTHS = 5

_FD = {"fix1_ms": 500.0, "stim1_ms": 1000.0, "go1_ms": 500.0}
_REACT = {"fix1_ms": 2000.0, "go1_ms": 500.0}
_DELAYGO = {"fix1_ms": 500.0, "stim1_ms": 500.0, "delay1_ms": 1000.0, "go1_ms": 500.0}
_DM = {"fix1_ms": 500.0, "stim1_ms": 1500.0, "go1_ms": 500.0}
_CONTEXTDM = {"fix1_ms": 500.0, "stim1_ms": 1000.0, "go1_ms": 500.0}
_DELAYDM = {"fix1_ms": 500.0, "stim1_ms": 500.0, "delay1_ms": 1000.0, "stim2_ms": 500.0,
            "delay2_ms": 200.0, "go1_ms": 300.0}
_CONTEXTDELAYDM = {"fix1_ms": 500.0, "stim1_ms": 500.0, "delay1_ms": 1000.0, "stim2_ms": 500.0,
                   "delay2_ms": 500.0, "go1_ms": 500.0}
_MATCH = {"fix1_ms": 500.0, "stim1_ms": 500.0, "delay1_ms": 1200.0, "go1_ms": 500.0}


def _ring_strength(ring, s):
    """(n, 2) strengths: ``s`` on ring ``ring`` (1 or 2), 0 on the other."""
    out = np.zeros((s.shape[0], 2))
    out[:, ring - 1] = s
    return out


def _go_grid(task):
    a, mod = np.unravel_index(np.arange(_N_ANGLES * 2), (_N_ANGLES, 2))
    modality = mod + 1
    return {"stim1_angle": 2 * np.pi * a / _N_ANGLES, "stim1_modality": modality,
            "stim1_strength": np.stack([modality == 1, modality == 2], axis=1).astype(float)}


def _dm_grid(task):
    low, span = (0.5, 1.0) if task in ("delaydm1", "delaydm2") else (0.8, 0.4)
    if task in ("dm1", "dm2", "delaydm1", "delaydm2"):
        a, k = np.unravel_index(np.arange(_N_ANGLES * _N_STRENGTHS), (_N_ANGLES, _N_STRENGTHS))
        s1 = low + span * k / _N_STRENGTHS
        ring = int(task[-1])
        strength1, strength2 = _ring_strength(ring, s1), _ring_strength(ring, 2 - s1)
    else:
        shape = (_N_ANGLES, _N_STRENGTHS, _N_STRENGTHS)
        a, k1, k2 = np.unravel_index(np.arange(int(np.prod(shape))), shape)
        s1 = np.stack([low + span * k1 / _N_STRENGTHS, low + span * k2 / _N_STRENGTHS], axis=1)
        strength1, strength2 = s1, 2 - s1
    theta1 = 2 * np.pi * a / _N_ANGLES
    return {"stim1_angle": theta1, "stim2_angle": np.mod(theta1 + np.pi, 2 * np.pi),
            "stim1_strength": strength1, "stim2_strength": strength2}


def _match_grid(task):
    a, m1, m2 = np.unravel_index(np.arange(_N_ANGLES * 4), (_N_ANGLES, 2, 2))
    if task.startswith("dmc"):
        half = _N_ANGLES // 2
        j = np.arange(half) / half
        grid = np.pi * np.concatenate([0.1 + 0.8 * j, 1.1 + 0.8 * j])
        theta1 = grid[a]
    else:
        theta1 = 2 * np.pi * a / _N_ANGLES
    go_on_match = task.endswith("go") and not task.endswith("nogo")
    theta2 = theta1 if go_on_match else np.mod(theta1 + np.pi, 2 * np.pi)
    return {"stim1_angle": theta1, "stim2_angle": theta2,
            "stim1_modality": m1 + 1, "stim2_modality": m2 + 1}


#: Task -> (grid shape, fixed epoch durations in ms, grid builder).
TEST_GRIDS = {}
for _name in RULES:
    if _name in ("fdgo", "fdanti"):
        TEST_GRIDS[_name] = ((20, 2), _FD, _go_grid)
    elif _name in ("reactgo", "reactanti"):
        TEST_GRIDS[_name] = ((20, 2), _REACT, _go_grid)
    elif _name in ("delaygo", "delayanti"):
        TEST_GRIDS[_name] = ((20, 2), _DELAYGO, _go_grid)
    elif _name in ("dm1", "dm2"):
        TEST_GRIDS[_name] = ((20, 5), _DM, _dm_grid)
    elif _name in ("contextdm1", "contextdm2", "multidm"):
        TEST_GRIDS[_name] = ((20, 5, 5), _CONTEXTDM, _dm_grid)
    elif _name in ("delaydm1", "delaydm2"):
        TEST_GRIDS[_name] = ((20, 5), _DELAYDM, _dm_grid)
    elif _name in ("contextdelaydm1", "contextdelaydm2", "multidelaydm"):
        TEST_GRIDS[_name] = ((20, 5, 5), _CONTEXTDELAYDM, _dm_grid)
    else:
        TEST_GRIDS[_name] = ((20, 2, 2), _MATCH, _match_grid)


def _check_name(name):
    if name not in TEST_GRIDS:
        raise ValueError(f"test and psychometric trials exist for Yang et al.'s tasks only; got "
                         f"{name!r}; valid names: {list(RULES)}")


def _explicit_bunch(name, given, random_state, params, extra):
    n = int(np.asarray(next(iter(given.values()))).shape[0])
    for key, value in given.items():
        value = np.asarray(value, dtype=float if "angle" in key or "strength" in key else None)
        expected = (n, 2) if "strength" in key else (n,)
        if value.shape != expected:
            raise ValueError(f"{key} must have shape {expected}; got {value.shape}")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{key} must be finite")
        if "modality" in key:
            if not np.all(np.isin(value, (1, 2))):
                raise ValueError(f"{key} must hold 1 or 2 (ring 1 or ring 2)")
            value = value.astype(np.int64)
        if "angle" in key:
            value = np.mod(value, 2 * np.pi)
        given[key] = value
    rng = check_generator(random_state)
    out = validate_generated(name, generate_yang(name, n, rng, given=given, **params), n)
    resolved = dict(get_task(name).defaults)
    resolved.update(params)
    bunch = build_bunch(name, out, resolved)
    bunch.update(extra)
    return bunch


def make_test_batch(name, *, random_state=None, **params):
    """Yang et al.'s deterministic 'test' batch of one task (the grid in the module docstring).

    Parameters
    ----------
    name : str
        One of the 20 Yang et al. tasks.
    random_state : None, int or numpy.random.Generator, default=None
        Seeds the input noise only (everything else is deterministic).
    **params
        Task parameters of :func:`make_task` (``dt``, ``n_eachring``, ``noise``, ``tau``,
        ``noise_alpha``); the epoch durations are the test mode's (an ``<epoch>_ms`` given here
        overrides one).

    Returns
    -------
    bunch : sklearn.utils.Bunch
        As :func:`make_task` returns, with ``n = prod(grid_shape)`` trials (40, 100, 500 or 80)
        and ``grid_shape``.

    Examples
    --------
    >>> from kpflow_sk.datasets import make_test_batch
    >>> b = make_test_batch("fdgo", noise=False)
    >>> b.X.shape, b.grid_shape
    ((40, 100, 85), (20, 2))
    """
    _check_name(name)
    shape, timings, grid = TEST_GRIDS[name]
    params = {**timings, **params}
    return _explicit_bunch(name, grid(name), random_state, params, {"grid_shape": shape})


def make_psychometric(name, *, stim1_angle, stim2_angle=None, stim1_strength=None,
                      stim2_strength=None, stim1_modality=None, stim2_modality=None,
                      random_state=None, **params):
    """Trials with caller-chosen stimuli and fixed timings (the code's 'psychometric' mode).

    Parameters
    ----------
    name : str
        One of the 20 Yang et al. tasks.
    stim1_angle, stim2_angle : array-like of shape (n,)
        Stimulus angles (radians). ``stim2_angle`` is required by the decision-making and
        matching tasks. In the dms tasks a match is ``|stim1 - stim2| < pi / 36`` (the code's
        psychometric rule), in the dmc tasks the same category (``theta < pi``).
    stim1_strength, stim2_strength : array-like of shape (n, 2), optional
        Strength on ring 1 and ring 2 (decision-making tasks: required; the answer is the
        stimulus with the larger strength on the task's ring, the cued ring, or summed).
        Go/Anti tasks: default strength 1 on ``stim1_modality``.
    stim1_modality, stim2_modality : array-like of shape (n,) of 1 or 2, optional
        Ring of the stimulus (Go/Anti and matching tasks; default ring 1, as the code's
        psychometric mode).
    random_state : None, int or numpy.random.Generator
        Seeds the input noise only.
    **params
        Task parameters as in :func:`make_task`; epoch durations default to the test mode's
        (:data:`TEST_GRIDS`).

    Returns
    -------
    bunch : sklearn.utils.Bunch
        As :func:`make_task`.
    """
    _check_name(name)
    _, timings, _ = TEST_GRIDS[name]
    n = np.asarray(stim1_angle).shape[0] if np.ndim(stim1_angle) == 1 else None
    if n is None or n < 1:
        raise ValueError(f"stim1_angle must be a non-empty 1-D array; got {stim1_angle!r}")
    given = {"stim1_angle": stim1_angle}
    family = TEST_GRIDS[name][2]
    if family is _go_grid:
        modality = np.ones(n, np.int64) if stim1_modality is None else stim1_modality
        given["stim1_modality"] = modality
        if stim1_strength is None:
            m = np.asarray(modality)
            stim1_strength = np.stack([m == 1, m == 2], axis=1).astype(float)
        given["stim1_strength"] = stim1_strength
    elif family is _dm_grid:
        for key, value in (("stim2_angle", stim2_angle), ("stim1_strength", stim1_strength),
                           ("stim2_strength", stim2_strength)):
            if value is None:
                raise ValueError(f"{key} is required for the decision-making task {name!r}")
            given[key] = value
    else:
        if stim2_angle is None:
            raise ValueError(f"stim2_angle is required for the matching task {name!r}")
        given["stim2_angle"] = stim2_angle
        given["stim1_modality"] = np.ones(n, np.int64) if stim1_modality is None \
            else stim1_modality
        given["stim2_modality"] = np.ones(n, np.int64) if stim2_modality is None \
            else stim2_modality
    params = {**timings, **params}
    return _explicit_bunch(name, given, random_state, params, {})


def psychometric_grid(name, *, n_angles=8, coherences=(-0.08, -0.04, -0.02, -0.01, 0.01, 0.02,
                                                        0.04, 0.08), mean_strength=1.0):
    """Stimulus values of a psychometric grid, to pass to :func:`make_psychometric`.

    Decision-making tasks: ``n_angles`` angles ``theta1`` (evenly spaced), ``theta2 = theta1 +
    pi``, times the signed ``coherences`` ``c``: ``s1 = mean + c``, ``s2 = mean - c`` on the
    task's ring; for the context and multisensory tasks a grid of (ring-1 coherence, ring-2
    coherence) pairs. Matching tasks: every pair of ``n_angles`` evenly spaced angles for stim1
    and stim2 (both on ring 1). Go/Anti tasks: ``n_angles`` evenly spaced angles.

    Returns
    -------
    grid : dict
        Keyword arguments of :func:`make_psychometric` (arrays with one entry per trial) and
        ``"shape"``, the grid shape (pop it before passing the rest).
    """
    _check_name(name)
    coh = np.asarray(coherences, dtype=float)
    if coh.ndim != 1 or coh.size == 0 or np.any(np.abs(coh) >= mean_strength):
        raise ValueError("coherences must be a non-empty 1-D sequence with |c| < mean_strength")
    if not (isinstance(n_angles, (int, np.integer)) and n_angles >= 1):
        raise ValueError(f"n_angles must be an integer >= 1; got {n_angles!r}")
    angles = 2 * np.pi * np.arange(n_angles) / n_angles
    family = TEST_GRIDS[name][2]
    if family is _go_grid:
        return {"stim1_angle": angles, "shape": (n_angles,)}
    if family is _match_grid:
        a1, a2 = np.unravel_index(np.arange(n_angles ** 2), (n_angles, n_angles))
        return {"stim1_angle": angles[a1], "stim2_angle": angles[a2],
                "shape": (n_angles, n_angles)}
    if name in ("dm1", "dm2", "delaydm1", "delaydm2"):
        a, k = np.unravel_index(np.arange(n_angles * coh.size), (n_angles, coh.size))
        ring = int(name[-1])
        s1 = mean_strength + coh[k]
        strength1, strength2 = _ring_strength(ring, s1), _ring_strength(ring, 2 * mean_strength
                                                                        - s1)
        shape = (n_angles, coh.size)
    else:
        shape = (n_angles, coh.size, coh.size)
        a, k1, k2 = np.unravel_index(np.arange(int(np.prod(shape))), shape)
        strength1 = mean_strength + np.stack([coh[k1], coh[k2]], axis=1)
        strength2 = 2 * mean_strength - strength1
    return {"stim1_angle": angles[a], "stim2_angle": np.mod(angles[a] + np.pi, 2 * np.pi),
            "stim1_strength": strength1, "stim2_strength": strength2, "shape": shape}
