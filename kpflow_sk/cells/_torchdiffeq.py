"""torchdiffeq as the ``node`` cell's integrator: its solver registry, option checks, solves.

The names come from torchdiffeq's own registry (``torchdiffeq._impl.odeint.SOLVERS``), so a
new torchdiffeq solver is accepted without an edit here. One observation interval is one
``odeint`` call over ``[0, dt]`` with the input held constant.

Trials stay independent (DESIGN.md section 2: P is block-diagonal over trials):

- fixed-grid solvers (``euler``, ``rk4``, ``explicit_adams``, ...) act row by row, so all
  trials are solved in one batched call;
- solvers whose control flow reads a norm of the whole state (the adaptive Runge-Kutta
  solvers' step-size controller, ``implicit_adams``' corrector iteration, ``scipy_solver``)
  would couple trials through that norm, so each trial gets its own solve. ``torch.func.vmap``
  cannot batch these solves (torchdiffeq writes into preallocated tensors in place), and a
  batched norm still yields one step size for the whole batch; the per-trial loop is the
  only form in which a trial's result does not depend on the others. The dense identity
  tests (tests/operators/test_node_torchdiffeq.py) check this block structure.
"""

from __future__ import annotations

import inspect
import math

import torch
import torchdiffeq
from torchdiffeq._impl.fixed_adams import AdamsBashforth, AdamsBashforthMoulton
from torchdiffeq._impl.odeint import SOLVERS as _SOLVERS
from torchdiffeq._impl.solvers import AdaptiveStepsizeODESolver, FixedGridODESolver

__all__ = ["TORCHDIFFEQ_SOLVERS", "solver_options", "check_ode_options", "is_fixed_grid",
           "is_trialwise", "is_differentiable", "integrate"]

#: every method name torchdiffeq's ``odeint`` accepts
TORCHDIFFEQ_SOLVERS = tuple(sorted(_SOLVERS))

# constructor arguments that are not user options (odeint fills them in itself)
_NOT_OPTIONS = {"self", "func", "y0", "rtol", "atol", "dtype", "args", "kwargs", "unused_kwargs"}


def solver_options(solver):
    """The option names torchdiffeq's ``solver`` takes (its constructors' keyword arguments).

    Returns
    -------
    list of str, sorted
    """
    cls = _SOLVERS[solver]
    names = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            names |= set(inspect.signature(init).parameters)
    names -= _NOT_OPTIONS
    if issubclass(cls, AdaptiveStepsizeODESolver):
        names.add("norm")
    if issubclass(cls, AdamsBashforth):
        names.discard("implicit")           # fixed to False by the explicit solver
    return sorted(names)


def is_fixed_grid(solver):
    """True for torchdiffeq's fixed-grid solvers (they take ``step_size``)."""
    return issubclass(_SOLVERS[solver], FixedGridODESolver)


def is_trialwise(solver, options):
    """True when one batched solve acts on every trial independently (row by row)."""
    cls = _SOLVERS[solver]
    if not issubclass(cls, FixedGridODESolver):
        return False
    if issubclass(cls, AdamsBashforthMoulton) and not issubclass(cls, AdamsBashforth):
        # the implicit corrector iterates until a max-norm over the whole state converges
        return not options.get("implicit", True)
    return True


def is_differentiable(solver):
    """False for ``scipy_solver`` (it leaves torch: no autograd through the solve)."""
    return solver != "scipy_solver"


def check_ode_options(solver, options, dt, max_steps):
    """Validate ``options`` for ``solver``; return a copy with the defaults this package sets.

    Unknown names raise ``ValueError`` listing the valid ones; values are checked by a trial
    solve of ``dz/dt = -z`` over one interval, and any failure becomes a ``ValueError``.

    Parameters
    ----------
    solver : str
        A torchdiffeq method name.
    options : dict or None
    dt : float
        Interval length (for the step-count bound of fixed-grid solvers).
    max_steps : int
        Steps allowed per interval.

    Returns
    -------
    dict
    """
    valid = solver_options(solver)
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise ValueError(f"ode_options must be a dict or None, got {type(options).__name__}")
    unknown = sorted(set(options) - set(valid), key=str)
    if unknown:
        raise ValueError(f"unknown ode_options {unknown} for ode solver {solver!r}; valid "
                         f"options: {valid}")
    options = dict(options)
    if "max_num_steps" in valid:
        options.setdefault("max_num_steps", max_steps)
    if is_fixed_grid(solver) and options.get("step_size") is not None:
        h = options["step_size"]
        if not (isinstance(h, (int, float)) and not isinstance(h, bool) and h > 0
                and math.isfinite(h)):
            raise ValueError(f"ode_options['step_size'] must be a positive number, got {h!r}")
        n = math.ceil(dt / h - 1e-12)
        if n > max_steps:
            raise ValueError(
                f"ode_step_size={h!r} (ode_options['step_size']) needs {n} steps per interval "
                f"of dt={dt!r}, more than max_steps={max_steps}; use a larger ode_step_size")
    # a trial solve surfaces bad values (wrong types, negative tolerances, ...) now, as a
    # ValueError naming the option, rather than as a traceback from inside training
    y0 = torch.ones(1, 1, dtype=torch.float64)
    t = torch.tensor([0.0, float(dt)], dtype=torch.float64)
    try:
        torchdiffeq.odeint(lambda s, y: -y, y0, t, method=solver, options=dict(options))
    except Exception as exc:  # noqa: BLE001 - any failure of the trial solve is a bad option
        raise ValueError(f"bad ode_options {options!r} for ode solver {solver!r}: "
                         f"{type(exc).__name__}: {exc}; valid options: {valid}") from exc
    return options


def _solve(odeint, f, z, t, solver, rtol, atol, options, **extra):
    try:
        return odeint(f, z, t, method=solver, rtol=rtol, atol=atol, options=dict(options),
                      **extra)[-1]
    except AssertionError as exc:
        # torchdiffeq signals max_num_steps (and underflowing steps) by assertions
        raise RuntimeError(
            f"ode solver {solver!r} failed in one interval: {exc} (stiff dynamics? raise "
            "max_steps / ode_options['max_num_steps'] or loosen rtol/atol)") from exc


def integrate(vector_field, params, z, x, dt, solver, rtol, atol, options, *,
              trialwise, adjoint=False):
    """``z(dt)`` of ``dz/dt = f(z, x)``, ``z(0) = z``, with torchdiffeq.

    Parameters
    ----------
    vector_field : callable ``(params, x) -> (z -> f(z, x))``
    params : dict of str -> Tensor
    z : Tensor of shape (..., H)
    x : Tensor of shape (..., D)
    dt, solver, rtol, atol, options
        As for ``torchdiffeq.odeint``.
    trialwise : bool
        Solve all rows in one batched call (else: one solve per row, see the module note).
    adjoint : bool
        Use ``torchdiffeq.odeint_adjoint`` (the continuous adjoint) for the backward pass.

    Returns
    -------
    Tensor of shape (..., H)
    """
    lead, H = z.shape[:-1], z.shape[-1]
    z2 = z.reshape(-1, H)
    x2 = x.reshape(-1, x.shape[-1])
    t = torch.tensor([0.0, dt], dtype=z.dtype, device=z.device)
    if adjoint:
        odeint = torchdiffeq.odeint_adjoint
        theta = tuple(p for p in params.values() if p.requires_grad)

        def solve(zz, xx):
            # the field is rebuilt inside each call so that odeint_adjoint's vjps reach theta
            return _solve(odeint, lambda s, y: vector_field(params, xx)(y), zz, t, solver,
                          rtol, atol, options, adjoint_params=theta)
    else:
        def solve(zz, xx):
            f = vector_field(params, xx)
            return _solve(torchdiffeq.odeint, lambda s, y: f(y), zz, t, solver, rtol, atol,
                          options)

    if trialwise or z2.shape[0] <= 1:
        out = solve(z2, x2)
    else:
        out = torch.cat([solve(z2[i:i + 1], x2[i:i + 1]) for i in range(z2.shape[0])])
    return out.reshape(*lead, H)
