"""Unclear errors made clear: huge or bool hidden_size, wrong-shape cells, bad task_ids."""

import numpy as np
import pytest
import torch

from kpflow_sk import RecurrentClassifier, RecurrentRegressor
from kpflow_sk.cells import Cell, get_cell
from kpflow_sk.estimators._validation import check_network_size

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _data(n=8, T=4):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, T, 2))
    return X, 0.3 * np.cumsum(X[..., :1], axis=1)


@pytest.mark.parametrize("cell", ["gru", "rnn", "leaky_rnn", "node"])
def test_hidden_size_1e6_raises_value_error_naming_hidden_size_before_allocating(cell):
    X, y = _data()
    with pytest.raises(ValueError, match=r"hidden_size=1000000 needs at least .* GiB"):
        RecurrentRegressor(cell=cell, hidden_size=10**6, max_iter=1, device="cpu").fit(X, y)


def test_memory_estimate_is_a_lower_bound_of_what_training_allocates():
    # GRU H=64, D=2, O=1, float32: 3*64*(64+2) + 6*64 cell parameters + 65 readout
    cell = get_cell("gru", 2, 64)
    n_params = 3 * 64 * 66 + 6 * 64 + 65
    need = (4 * n_params + 8 * 5 * 64) * 4
    check_network_size(cell, 1, 8, 5, torch.float32, "cpu", memory=need)       # fits exactly
    with pytest.raises(ValueError, match="hidden_size=64"):
        check_network_size(cell, 1, 8, 5, torch.float32, "cpu", memory=need - 1)
    # the real network has at least as many parameters as counted
    est = RecurrentRegressor(hidden_size=64, max_iter=1, device="cpu").fit(*_data())
    assert sum(p.numel() for p in est.module_.parameters()) == n_params


@pytest.mark.parametrize("cls", [RecurrentRegressor, RecurrentClassifier])
@pytest.mark.parametrize("param", ["hidden_size", "max_iter", "batch_size", "kp_n_trials",
                                   "n_iter_no_change"])
def test_bool_for_an_integer_parameter_is_rejected(cls, param):
    X, y = _data()
    if cls is RecurrentClassifier:
        y = np.arange(len(X)) % 2
    with pytest.raises(ValueError, match=f"'{param}' parameter .* not a bool. Got True"):
        cls(**{param: True}).fit(X, y)


class WrongShapeCell(Cell):
    """Returns (batch, 2 * hidden_size)."""

    def parameter_shapes(self):
        return {"weight_hh": (2 * self.hidden_size, self.hidden_size)}

    def step(self, params, z_prev, x_t, aux=None):
        return torch.tanh(z_prev @ params["weight_hh"].T)


class BrokenCell(Cell):
    """parameter_shapes do not fit step: a matmul error inside the cell."""

    def parameter_shapes(self):
        return {"weight_ih": (self.hidden_size, self.input_size + 1)}

    def step(self, params, z_prev, x_t, aux=None):
        return torch.tanh(x_t @ params["weight_ih"].T)


def test_user_cell_returning_the_wrong_shape_names_the_cell_and_the_expected_shape():
    X, y = _data()
    with pytest.raises(ValueError, match=r"WrongShapeCell \(a user cell\) must return z_t of "
                                         r"shape \(batch, hidden_size\) = \(1, 3\).*got \(1, 6\)"):
        RecurrentRegressor(cell=WrongShapeCell, hidden_size=3, max_iter=1).fit(X, y)


def test_user_cell_failing_inside_step_names_the_cell_and_the_shapes():
    X, y = _data()
    with pytest.raises(ValueError, match=r"BrokenCell \(a user cell\) failed on z_prev of "
                                         r"shape \(1, 3\) .*'weight_ih': \(3, 3\)"):
        RecurrentRegressor(cell=BrokenCell, hidden_size=3, max_iter=1).fit(X, y)


@pytest.mark.parametrize("task_ids, msg", [
    ([0, 1, None, 1, 0, 1, 0, 1], "task_ids contains None"),
    ([0, "a", 0, "a", 0, "a", 0, "a"], "task_ids mixes strings and numbers"),
    (np.array([0, "a", 0, "a", 0, "a", 0, "a"], dtype=object), "task_ids mixes strings"),
    ([0.0, np.nan, 0, 1, 0, 1, 0, 1], "task_ids contains NaN"),
    ([[0], [1, 2], [0], [1], [0], [1], [0], [1]], "task_ids must be a 1-D array"),
    ([{}, {}, {}, {}, {}, {}, {}, {}], "task_ids must hold strings or numbers"),
    ([0, 1, 0], r"task_ids must have shape \(n_samples,\) = \(8,\)"),
])
def test_task_ids_with_none_or_mixed_kinds_raise_naming_task_ids(task_ids, msg):
    X, y = _data()
    with pytest.raises(ValueError, match=msg):
        RecurrentRegressor(hidden_size=3, max_iter=1).fit(X, y, task_ids=task_ids)
    est = RecurrentRegressor(hidden_size=3, max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match=msg):
        est.decompose(X, y, task_ids=task_ids)


@pytest.mark.parametrize("task_ids", [list("abababab"), np.arange(8) % 3,
                                      np.array(list("aabbccdd"), dtype=object),
                                      [0.5, 1.5] * 4])
def test_homogeneous_task_ids_are_accepted(task_ids):
    X, y = _data()
    est = RecurrentRegressor(hidden_size=3, max_iter=1).fit(X, y, task_ids=task_ids)
    k = len(set(np.asarray(task_ids).tolist()))
    assert est.task_alignment_.shape == (k, k)
