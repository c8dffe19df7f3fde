"""The parameter table (estimators/_params.py): the one place that defines the arguments."""

import inspect
import re

import numpy as np
import pytest
from _helpers import seq_data

from kpflow_sk.estimators import (
    PARAMETERS,
    RecurrentClassifier,
    RecurrentRegressor,
    check_params,
    estimator_parameters,
)

BAD = [
    ("cell", "lstm"), ("hidden_size", 0), ("hidden_size", 2.5), ("hidden_size", True),
    ("nonlinearity", "swish"), ("init_scale", -1.0), ("alpha", 0.0), ("alpha", 1.5),
    ("ode_solver", "rk45"), ("ode_step_size", 0.0), ("rtol", 0.0), ("atol", -1.0),
    ("adjoint", "yes"), ("optimizer", "lbfgs"), ("learning_rate", 0.0),
    ("weight_decay", -0.1), ("batch_size", 0), ("batch_size", "big"), ("max_iter", 0),
    ("max_iter", False), ("tol", -1.0), ("n_iter_no_change", 0), ("early_stopping", 1.5),
    ("validation_fraction", 1.0), ("warm_start", "no"), ("grad_clip", 0.0),
    ("mask_convention", "cubic"), ("dtype", "float16"), ("random_state", "x"),
    ("n_threads", 0), ("kp_n_trials", 0), ("kp_track_every", -1), ("kp_probes", 0),
    ("callbacks", "cb"),
]


@pytest.mark.parametrize("cls", [RecurrentRegressor, RecurrentClassifier])
def test_signature_and_constraints_are_the_table(cls):
    sig = inspect.signature(cls.__init__).parameters
    names = [n for n in sig if n != "self"]
    assert names == [p.name for p in PARAMETERS]
    for p in PARAMETERS:
        assert sig[p.name].default == p.default, p.name
        assert cls._parameter_constraints[p.name] is p.constraints
    assert set(cls._parameter_constraints) == set(names)
    assert cls().get_params() == {p.name: p.default for p in PARAMETERS}


def test_every_parameter_has_one_line_help_and_full_docs():
    doc = RecurrentRegressor.__doc__
    params_section = doc[doc.index("Parameters"):doc.index("Attributes")]
    for p in PARAMETERS:
        assert p.help and "\n" not in p.help and len(p.help) < 90, p.name
        assert re.search(rf"\b{p.name}\b", params_section), f"{p.name} undocumented"


def test_estimator_parameters_is_the_table_by_name():
    table = estimator_parameters()
    assert list(table) == [p.name for p in PARAMETERS]
    assert table["hidden_size"].default == 64 and table["optimizer"].default == "adam"
    table.pop("hidden_size")                  # a copy: the table itself is unchanged
    assert "hidden_size" in estimator_parameters()


def test_check_params_accepts_the_defaults_and_good_values():
    check_params({p.name: p.default for p in PARAMETERS})
    check_params({"cell": "rnn", "hidden_size": 3, "adjoint": "discrete", "batch_size": "auto",
                  "random_state": np.random.RandomState(0), "device": "cpu"})
    check_params({})


@pytest.mark.parametrize("param, value", BAD)
def test_check_params_says_what_fit_says(param, value):
    """The same message as fit's parameter validation (one table, one check)."""
    X, y = seq_data(n=6, T=3)
    with pytest.raises(ValueError, match=f"'{param}' parameter") as at_fit:
        RecurrentRegressor(**{param: value}).fit(X, y)
    with pytest.raises(ValueError, match=f"'{param}' parameter") as checked:
        check_params({param: value})
    assert str(checked.value) == str(at_fit.value)


def test_check_params_refuses_unknown_names():
    with pytest.raises(ValueError, match=re.escape("no parameter(s) ['hiden_size']")):
        check_params({"hiden_size": 8})
