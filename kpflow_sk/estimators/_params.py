"""The estimators' parameter table: one place that defines every constructor argument.

:data:`PARAMETERS` lists each parameter of
:class:`~kpflow_sk.estimators.RecurrentRegressor` (and ``RecurrentClassifier``) with its
default, its scikit-learn constraints and a one-line help. The estimators' ``__init__``
signature and their ``_parameter_constraints`` read it (a test checks the signature against
it); the command line checks ``--param`` names against it (its flag table, ``_cli/options.py``,
keeps smaller defaults and does not import torch for ``--help``). The full documentation of
each parameter is the ``Parameters`` section of ``RecurrentRegressor``.

>>> from kpflow_sk.estimators import estimator_parameters
>>> p = estimator_parameters()["hidden_size"]
>>> p.default, p.help
(64, 'number of hidden units H')
>>> check_params({"hidden_size": 0})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
sklearn.utils._param_validation.InvalidParameterError: The 'hidden_size' parameter ... Got 0...
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
import torch
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_parameter_constraints,
)

from kpflow_sk.cells import CELLS, NONLINEARITIES, ODE_SOLVERS
from kpflow_sk.estimators._loss import MASK_CONVENTIONS
from kpflow_sk.estimators._module import ADJOINT_MODES
from kpflow_sk.estimators._optimizers import OPTIMIZERS
from kpflow_sk.estimators._validation import reject_bool_integers

__all__ = ["EstimatorParameter", "PARAMETERS", "DTYPES", "estimator_parameters",
           "check_params"]

#: the ``dtype`` parameter's values -> (torch dtype, numpy dtype)
DTYPES = {"float32": (torch.float32, np.float32), "float64": (torch.float64, np.float64)}


class EstimatorParameter(NamedTuple):
    """One constructor parameter of the recurrent estimators.

    Attributes
    ----------
    name : str
    default : object
        The ``__init__`` default.
    constraints : list
        scikit-learn parameter constraints (``Interval``, ``StrOptions``, types, ...).
    help : str
        One line for ``--help`` texts (the docstring has the full story).
    """

    name: str
    default: object
    constraints: list
    help: str


def _positive(kind):
    return Interval(kind, 0, None, closed="neither")


def _at_least(kind, low):
    return Interval(kind, low, None, closed="left")


_P = EstimatorParameter
#: every constructor parameter, in signature order
PARAMETERS = (
    _P("cell", "gru", [StrOptions(set(CELLS)), type],
       f"recurrent cell: {', '.join(sorted(CELLS))} or a Cell subclass"),
    _P("hidden_size", 64, [_at_least(Integral, 1)], "number of hidden units H"),
    _P("nonlinearity", "tanh", [StrOptions(set(NONLINEARITIES))],
       "pointwise nonlinearity of rnn, leaky_rnn and node cells"),
    _P("init_scale", 1.0, [_at_least(Real, 0)], "gain on the initial recurrent weights"),
    _P("alpha", 0.2, [Interval(Real, 0, 1, closed="right")], "dt / tau of the leaky_rnn cell"),
    _P("ode_solver", "rk4", [StrOptions(set(ODE_SOLVERS))], "solver of the node cell"),
    _P("ode_step_size", None, [_positive(Real), None],
       "largest step of a fixed-step ODE solver (None: one step per interval)"),
    _P("ode_options", None, [dict, None], "options passed to torchdiffeq.odeint"),
    _P("rtol", 1e-6, [_positive(Real)], "relative tolerance of adaptive ODE solvers"),
    _P("atol", 1e-8, [_positive(Real)], "absolute tolerance of adaptive ODE solvers"),
    _P("adjoint", False, ["boolean", StrOptions(set(ADJOINT_MODES))],
       "memory-saving backward pass: False, True / 'discrete', 'continuous' (node)"),
    _P("optimizer", "adam", [StrOptions(set(OPTIMIZERS))],
       f"optimizer: {', '.join(sorted(OPTIMIZERS))}"),
    _P("learning_rate", 1e-2, [_positive(Real)], "step size of the optimizer"),
    _P("weight_decay", 0.0, [_at_least(Real, 0)], "L2 penalty passed to the optimizer"),
    _P("batch_size", 32, [_at_least(Integral, 1), StrOptions({"auto"})],
       "mini-batch size ('auto': min(200, n_samples))"),
    _P("max_iter", 200, [_at_least(Integral, 1)], "maximum number of epochs"),
    _P("tol", 1e-5, [_at_least(Real, 0)], "improvement below which an epoch counts as none"),
    _P("n_iter_no_change", 30, [_at_least(Integral, 1)],
       "stop after this many epochs without improvement"),
    _P("early_stopping", False, ["boolean"],
       "hold out validation_fraction of the data and stop on its score"),
    _P("validation_fraction", 0.1, [Interval(Real, 0, 1, closed="neither")],
       "fraction held out with early_stopping"),
    _P("warm_start", False, ["boolean"], "continue from the previous fit's weights"),
    _P("grad_clip", None, [_positive(Real), None], "clip the global gradient norm to this"),
    _P("mask_convention", "linear", [StrOptions(set(MASK_CONVENTIONS))],
       "how mask weights the loss: 'linear' or 'squared' (Yang et al. 2019)"),
    _P("device", "auto", [str, torch.device], "'auto', 'cpu', 'cuda' or 'cuda:N'"),
    _P("dtype", "float32", [StrOptions(set(DTYPES))], "precision: float32 or float64"),
    _P("random_state", None, ["random_state"],
       "seeds initialisation, shuffling, the validation split and the analysis batch"),
    _P("verbose", 0, ["verbose"], "show a progress bar"),
    _P("n_threads", None, [_at_least(Integral, 1), None],
       "CPU threads torch uses in fit and predict (None: torch's setting)"),
    _P("kp_n_trials", 64, [_at_least(Integral, 1)], "trials in the KPFlow analysis batch"),
    _P("kp_track_every", 0, [_at_least(Integral, 0)],
       "KPFlow snapshot every this many epochs (0: off)"),
    _P("kp_probes", None, [_at_least(Integral, 1), None],
       "random probes per randomized estimate (None: the analysis default)"),
    _P("kp_precision", "highest", [StrOptions({"highest", "medium"})],
       "precision of the KPFlow operators' GEMMs (medium: bfloat16 operands)"),
    _P("callbacks", None, [list, tuple, None], "objects called after every epoch"),
)
del _P


def estimator_parameters():
    """The parameter table as a dict ``name -> EstimatorParameter`` (signature order).

    Returns
    -------
    dict of str -> EstimatorParameter
    """
    return {p.name: p for p in PARAMETERS}


def check_params(params, estimator_name="RecurrentRegressor"):
    """Check a dict of estimator parameters against the table (what ``fit`` checks first).

    Parameters
    ----------
    params : dict
        Some of the parameters (the others keep their defaults).
    estimator_name : str
        Named in the messages.

    Raises
    ------
    InvalidParameterError
        (a ``ValueError`` and ``TypeError``) an unknown name or a value out of range, with
        scikit-learn's message naming the parameter.
    """
    table = estimator_parameters()
    unknown = sorted(set(params) - set(table))
    if unknown:
        raise InvalidParameterError(
            f"{estimator_name} has no parameter(s) {unknown}; valid ones: {sorted(table)}")
    constraints = {k: table[k].constraints for k in params}
    validate_parameter_constraints(constraints, dict(params), caller_name=estimator_name)
    reject_bool_integers(params, constraints, estimator_name)   # Interval takes True as 1
