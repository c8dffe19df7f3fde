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

import numpy as np

from ._base import (
    check_n_samples,
    check_nonnegative,
    check_positive,
    circular_distance,
    ms_to_steps,
)
from ._noise import fault_in_rows, normal_rows_into
from ._registry import TaskSpec, register_task
from ._yang_encoding import (
    ANGLE_TOLERANCE,
    BUMP_AMPLITUDE,
    FIXATION_CHANNEL_WEIGHT,
    FIXATION_THRESHOLD,
    GRACE_MS,
    MASK_SKIP_MS,
    MAX_DT,
    N_RULES,
    RESPONSE_WEIGHT,
    RULES,
    SIGMA_X,
    SOURCE,
    TARGET_BASELINE,
    TARGET_FIXATION,
    YANG_ALPHA,  # noqa: F401  (documented here: generate_yang's noise_alpha)
    _broadcast,
    _bump,
    _Config,
    _preferred_angles,
    _size,
)
from ._yang_families import _BY_NAME, _SPECS, _defaults

__all__ = ["RULES", "generate_yang", "score_yang"]



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


#: Elements of one gathered block in :func:`_add_on_steps` (1 MiB of float32: stays in L2).
_ADD_BLOCK = 1 << 18


def _add_on_steps(arr, start, stop, values):
    """``arr[i, start[i]:stop[i], ...] += values[i]`` for every trial ``i``, in place.

    ``arr`` is (n, T, C) (a strided view is fine), ``values`` (n, C). Trials are grouped by
    their number of on-steps ``L``; for each ``L`` a sliding-window view ``W[i, s] = arr[i,
    s:s + L]`` (no copy) turns the group into one fancy-indexed add ``W[g, start[g]] +=
    values[g]`` on blocks of at most :data:`_ADD_BLOCK` elements. Hand-written because numpy
    has no "add to these row segments" call: a Python loop over trials costs ~2 us a trial in
    call overhead (2x slower for the ~20-step stimuli of the delayed tasks), and one fancy
    index over all on-steps at once would build temporaries larger than the data.
    """
    values = np.asarray(values, dtype=arr.dtype)
    n, T, C = arr.shape
    length = stop - start
    order = np.argsort(length, kind="stable")
    sorted_length = length[order]
    cuts = np.flatnonzero(np.diff(sorted_length)) + 1
    s0, s1, s2 = arr.strides
    for group in np.split(order, cuts):
        L = int(length[group[0]])
        if L <= 0:
            continue
        window = np.lib.stride_tricks.as_strided(arr, (n, T - L + 1, L, C), (s0, s1, s1, s2),
                                                 writeable=True)
        step = max(1, _ADD_BLOCK // (L * C))
        for lo in range(0, group.size, step):
            g = group[lo:lo + step]
            window[g, start[g]] += values[g][:, None, :]


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

    # The ~1 GB of X and y is taken from the OS first, in one quick pass (y's fill and one
    # store per page of X's trial steps), so the page faults do not interleave with the work
    # below. On a VM with free-page reporting this also keeps the window short in which the
    # memory a previous call released can be handed back to the host (re-faulting it from the
    # host costs ~3 ms per MiB, several times the rest of the generator).
    X = np.zeros((n, T, d_in), dtype=np.float32)
    y = np.full((n, T, d_out), TARGET_BASELINE, dtype=np.float32)
    fault_in_rows(X.reshape(n, T * d_in), end * d_in)

    # Inputs: noise first (only on the steps of a trial), then the signals. Everything is
    # written in float32 straight into X, and only on the steps a signal occupies, so padded
    # steps are never written.
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
