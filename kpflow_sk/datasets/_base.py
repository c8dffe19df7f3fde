"""Shared machinery of the task zoo: `make_task`, argument checks, Bunch assembly, helpers.

Every task generator returns a plain dict (see :class:`~kpflow_sk.datasets._registry.TaskSpec`);
this module turns it into the public :class:`sklearn.utils.Bunch`, checking it on the way.

Conventions every task follows
------------------------------
- ``periods[name]`` is an int64 array of shape (n_samples, 2) holding ``[start, stop)`` steps.
  Every task has a ``"response"`` period (the steps its paper scores or reads the answer from);
  in a multi-task Bunch a period a trial does not have is ``[-1, -1]``.
- The optional key ``"rest"`` of a generator's dict describes the family's resting state, used by
  :func:`~kpflow_sk.datasets.make_multitask` to fill a prepended context period: ``{"X": (d_in,),
  "y": (d_out,), "mask": float, "noise": float}`` (input, target, mask value and input noise sd
  while no trial is running; optionally ``"input_noise"``, the sd of the noise the task adds to
  its inputs during a trial, given to the composer's rule channels, default ``"noise"``).
  Without it the composer uses zero input, the trial's first target, mask 0 and no noise.
- The optional key ``"lengths"`` (n,) holds each trial's own number of steps when trials are
  padded to a common length (default: all ``T``).
- The optional key ``"finite"``: ``True`` when the generator has itself established that ``X``,
  ``y`` and ``mask`` are finite (e.g. from finite stimulus amplitudes and bounded noise);
  :func:`validate_generated` then skips its scan of the arrays. Default: scan.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import Bunch

from ._noise import add_noise  # noqa: F401  (re-exported: the small tasks import it from here)
from ._registry import TASKS

__all__ = [
    "list_tasks",
    "get_task",
    "make_task",
    "check_generator",
    "check_n_samples",
    "check_params",
    "check_steps",
    "check_nonnegative",
    "check_positive",
    "all_finite",
    "add_noise",
    "ms_to_steps",
    "circular_distance",
    "period_mask",
    "constant_period",
    "evenly_spaced_or_uniform",
    "validate_generated",
    "build_bunch",
]


def check_generator(random_state):
    """Turn ``random_state`` into a :class:`numpy.random.Generator`.

    Parameters
    ----------
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState
        ``None`` draws fresh OS entropy; an int seeds a new generator; a Generator is used as
        is; a RandomState seeds a new generator from one draw of it.

    Returns
    -------
    rng : numpy.random.Generator
    """
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return np.random.default_rng(int(random_state))
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    raise ValueError(
        f"random_state must be None, an int, a numpy Generator or RandomState; got "
        f"{random_state!r}"
    )


def check_n_samples(n_samples, name="n_samples"):
    """Return ``n_samples`` as an int >= 1 or raise ``ValueError`` naming it."""
    if (not isinstance(n_samples, numbers.Integral) or isinstance(n_samples, bool)
            or n_samples < 1):
        raise ValueError(f"{name} must be an integer >= 1; got {n_samples!r}")
    return int(n_samples)


def check_params(spec, params):
    """Merge user ``params`` into ``spec.defaults``, rejecting unknown names.

    Parameters
    ----------
    spec : TaskSpec
    params : dict

    Returns
    -------
    merged : dict
        ``spec.defaults`` updated with ``params``.
    """
    unknown = sorted(set(params) - set(spec.defaults))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {unknown} for task {spec.name!r}; valid parameters: "
            f"{sorted(spec.defaults)}"
        )
    merged = dict(spec.defaults)
    merged.update(params)
    return merged


def check_steps(name, value, minimum=1):
    """Return ``value`` as an int >= ``minimum`` or raise ``ValueError`` naming ``name``."""
    if (not isinstance(value, numbers.Integral) or isinstance(value, bool)
            or value < minimum):
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def check_nonnegative(name, value):
    """Return ``value`` as a float >= 0 or raise ``ValueError`` naming ``name``."""
    if not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    return float(value)


def check_positive(name, value):
    """Return ``value`` as a float > 0 or raise ``ValueError`` naming ``name``."""
    if not isinstance(value, numbers.Real) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}")
    return float(value)


def ms_to_steps(name, ms, dt, minimum=1):
    """Convert a duration in ms to steps, ``floor(ms / dt)``, requiring at least ``minimum``.

    Raises ``ValueError`` naming the period when it does not fit in ``minimum`` steps.
    """
    ms = check_nonnegative(name, ms)
    steps = int(np.floor(ms / dt + 1e-9))
    if steps < minimum:
        raise ValueError(
            f"{name}={ms:g} ms gives {steps} steps at dt={dt:g} ms; it needs at least "
            f"{minimum} step(s)"
        )
    return steps


def circular_distance(a, b):
    """Absolute circular distance between angles, in [0, pi].

    Parameters
    ----------
    a, b : array-like
        Angles in radians; broadcast against each other.

    Returns
    -------
    d : ndarray
        ``|a - b|`` wrapped onto the circle.
    """
    d = np.mod(np.asarray(a) - np.asarray(b), 2 * np.pi)
    return np.minimum(d, 2 * np.pi - d)


def period_mask(period, n_steps):
    """Boolean indicator of a period.

    Parameters
    ----------
    period : array-like of shape (n_samples, 2)
        ``[start, stop)`` steps per trial (``[-1, -1]`` = absent).
    n_steps : int

    Returns
    -------
    inside : ndarray of shape (n_samples, n_steps), bool
    """
    period = np.asarray(period)
    t = np.arange(n_steps)[None, :]
    return (t >= period[:, :1]) & (t < period[:, 1:2])


def constant_period(n_samples, start, stop):
    """``[start, stop)`` repeated for every trial, shape (n_samples, 2), int64."""
    return np.tile(np.array([[start, stop]], dtype=np.int64), (n_samples, 1))


def evenly_spaced_or_uniform(n_samples, rng, evenly):
    """Angles in [0, 2 pi): evenly spaced ``2 pi k / n`` when ``evenly``, else uniform.

    Returns
    -------
    theta : ndarray of shape (n_samples,)
    """
    if evenly:
        return 2 * np.pi * np.arange(n_samples) / n_samples
    return rng.uniform(0.0, 2 * np.pi, size=n_samples)


def all_finite(arr):
    """Whether every entry of ``arr`` is finite (a sum first: NaN and inf propagate into it)."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(arr.sum()):
            return True
    # The sum can also overflow with finite entries; decide exactly.
    return bool(np.all(np.isfinite(arr)))


def validate_generated(name, out, n_samples):
    """Check a generator's dict against the contract in ``TaskSpec``; return it cleaned.

    Casts ``X``, ``y``, ``mask`` to float32 and periods to int64; raises ``ValueError`` on
    non-finite values and ``RuntimeError`` on a malformed dict (a bug in the generator).
    """
    missing = {"X", "y", "mask", "periods", "meta"} - set(out)
    if missing:
        raise RuntimeError(f"generator of task {name!r} did not return {sorted(missing)}")
    X = np.ascontiguousarray(out["X"], dtype=np.float32)
    y = np.ascontiguousarray(out["y"], dtype=np.float32)
    mask = np.ascontiguousarray(out["mask"], dtype=np.float32)
    if X.ndim != 3 or y.ndim != 3 or mask.ndim != 2:
        raise RuntimeError(
            f"task {name!r}: expected X (n, T, d_in), y (n, T, d_out), mask (n, T); got "
            f"shapes {X.shape}, {y.shape}, {mask.shape}"
        )
    n, T = X.shape[:2]
    if n != n_samples or y.shape[:2] != (n, T) or mask.shape != (n, T):
        raise RuntimeError(
            f"task {name!r}: inconsistent shapes X {X.shape}, y {y.shape}, mask {mask.shape} "
            f"for n_samples={n_samples}"
        )
    # A generator that has established finiteness from its (small) parameters says so with
    # "finite": True, sparing a scan of arrays that reach a gigabyte (see the module docstring).
    for key, arr in (("X", X), ("y", y), ("mask", mask)):
        if out.get("finite") is not True and not all_finite(arr):
            raise ValueError(f"task {name!r} produced non-finite values in {key}")
    periods = {}
    for pname, p in out["periods"].items():
        p = np.asarray(p, dtype=np.int64)
        if p.shape != (n, 2):
            raise RuntimeError(f"task {name!r}: period {pname!r} has shape {p.shape}, "
                               f"expected ({n}, 2)")
        periods[pname] = p
    meta = {}
    for key, value in out["meta"].items():
        value = np.asarray(value)
        if value.ndim == 0 or value.shape[0] != n:
            raise RuntimeError(f"task {name!r}: meta[{key!r}] must have length {n}")
        meta[key] = value
    lengths = np.asarray(out.get("lengths", np.full(n, T)), dtype=np.int64)
    if lengths.shape != (n,) or np.any(lengths < 1) or np.any(lengths > T):
        raise RuntimeError(f"task {name!r}: lengths must be (n,) steps in [1, {T}]")
    cleaned = {"X": X, "y": y, "mask": mask, "periods": periods, "meta": meta,
               "lengths": lengths}
    if "rest" in out:
        cleaned["rest"] = out["rest"]
    return cleaned


def build_bunch(name, out, params):
    """Assemble the public single-task Bunch from a validated generator dict.

    Parameters
    ----------
    name : str
        Registered task name.
    out : dict
        Output of :func:`validate_generated`.
    params : dict
        The resolved task parameters (defaults updated with the user's).

    Returns
    -------
    bunch : sklearn.utils.Bunch
        ``X`` (n, T, d_in) float32, ``y`` (n, T, d_out) float32, ``mask`` (n, T) float32,
        ``task_ids`` (n,) int64 zeros, ``task_names`` ``[name]``, ``periods``, ``meta``,
        ``params`` (``{name: params}``) and ``layout`` (``{name: {"input": (0, d_in),
        "output": (0, d_out), "steps": (0, T)}}``, the task's channels and steps, used by
        :func:`score_task`).
    """
    X, y = out["X"], out["y"]
    n, T, d_in = X.shape
    return Bunch(
        X=X,
        y=y,
        mask=out["mask"],
        task_ids=np.zeros(n, dtype=np.int64),
        task_names=[name],
        periods=out["periods"],
        meta=out["meta"],
        params={name: dict(params)},
        layout={name: {"input": (0, d_in), "output": (0, y.shape[2]), "steps": (0, T)}},
    )

def list_tasks(family=None):
    """Names of the registered tasks.

    Parameters
    ----------
    family : str, optional
        Only tasks of this family (``"kpflow"``, ``"yang19"``, ``"flipflop"``, ...).

    Returns
    -------
    names : list of str
        In registration order.
    """
    if family is not None:
        families = sorted({spec.family for spec in TASKS.values()})
        if family not in families:
            raise ValueError(f"unknown family {family!r}; valid families: {families}")
    return [name for name, spec in TASKS.items() if family is None or spec.family == family]


def get_task(name):
    """The :class:`TaskSpec` registered under ``name`` (``ValueError`` listing valid names)."""
    try:
        return TASKS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown task {name!r}; valid task names: {list(TASKS)}") from None


def make_task(name, n_samples, *, random_state=None, **params):
    """Generate ``n_samples`` trials of one registered task.

    Parameters
    ----------
    name : str
        Registered task name, see :func:`list_tasks`.
    n_samples : int
        Number of trials (>= 1).
    random_state : None, int or numpy.random.Generator, default=None
        Seed; the same seed gives identical arrays.
    **params
        Task parameters overriding the task's defaults (``get_task(name).defaults``). An
        unknown name raises ``ValueError`` listing the valid ones.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        X : ndarray of shape (n_samples, n_timesteps, n_inputs), float32
        y : ndarray of shape (n_samples, n_timesteps, n_outputs), float32
        mask : ndarray of shape (n_samples, n_timesteps), float32
            Loss weight of each step.
        task_ids : ndarray of shape (n_samples,), int64
            All zeros (index into ``task_names``).
        task_names : list of str
            ``[name]``.
        periods : dict of str -> ndarray of shape (n_samples, 2), int64
            Named epochs as ``[start, stop)`` steps; every task has ``"response"``.
        meta : dict of str -> ndarray with first axis n_samples
            Stimulus values and conditions of each trial.
        params : dict
            ``{name: resolved parameters}``.
        layout : dict
            ``{name: {"input": (a, b), "output": (a, b), "steps": (t0, t1)}}``: where the task
            lives in ``X``, ``y`` and time (used by :func:`score_task`).

    Examples
    --------
    >>> from kpflow_sk.datasets import make_task
    >>> b = make_task("memory_pro", 8, random_state=0)
    >>> b.X.shape, b.y.shape, b.mask.shape
    ((8, 90, 3), (8, 90, 3), (8, 90))
    >>> b.periods["response"][0].tolist()
    [60, 90]
    """
    spec = get_task(name)
    n_samples = check_n_samples(n_samples)
    resolved = check_params(spec, params)
    rng = check_generator(random_state)
    out = validate_generated(name, spec.generate(n_samples, rng, **resolved), n_samples)
    return build_bunch(name, out, resolved)
