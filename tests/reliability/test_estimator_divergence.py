"""Divergence, overflow after the dtype cast and non-finite cells: caught and named."""

import warnings

import numpy as np
import pytest
import torch

from kpflow_sk import RecurrentRegressor
from kpflow_sk.cells import Cell
from kpflow_sk.datasets import make_task
from kpflow_sk.estimators import DivergenceWarning

pytestmark = pytest.mark.filterwarnings("ignore:Maximum iterations")


def _data(n=16, T=5, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, T, 2))
    return X, 0.3 * np.cumsum(X[..., :1], axis=1)


@pytest.mark.parametrize("cell", ["rnn", "gru", "leaky_rnn", "node"])
@pytest.mark.parametrize("batch_size", [32, "auto"])
def test_adam_learning_rate_1e3_divergence_is_detected_and_best_weights_restored(
        cell, batch_size):
    b = make_task("memory_pro", n_samples=64, random_state=0)
    X, y = b.X[:, ::6], b.y[:, ::6]          # 15 steps: the same blow-up, faster
    kw = dict(cell=cell, hidden_size=16, max_iter=15, random_state=0, device="cpu",
              batch_size=batch_size)
    with pytest.warns(DivergenceWarning, match=r"diverged at epoch \d+") as rec:
        est = RecurrentRegressor(learning_rate=1e3, **kw).fit(X, y)
    assert est.stop_reason_ == "diverged"
    epoch = int(str(rec[0].message).split("epoch ")[1].split(":")[0])
    assert est.n_iter_ == epoch - 1
    # before: R^2 between -1e6 and -3e13 reported as converged. Now the restored weights are
    # no worse than the untrained network's (same seed, one epoch at a tiny rate)
    init = RecurrentRegressor(learning_rate=1e-12, **{**kw, "max_iter": 1}).fit(X, y)
    r2, r2_init = est.score(X, y), init.score(X, y)
    assert r2 > -5.0 and r2 >= r2_init - 1e-3, (r2, r2_init)


def test_sgd_divergence_then_warm_start_makes_progress():
    X, y = _data()
    est = RecurrentRegressor(cell="rnn", optimizer="sgd", learning_rate=50.0, hidden_size=8,
                             max_iter=30, random_state=0, device="cpu")
    with pytest.warns(DivergenceWarning):
        est.fit(X, y)
    assert est.stop_reason_ == "diverged"
    assert est._optimizer is None       # reset: rebuilt on the next fit
    before = est.score(X, y)
    # chosen behaviour: the best weights come back and the optimizer state is reset, so a
    # warm start at a sane learning rate trains from there
    est.set_params(warm_start=True, learning_rate=0.05, max_iter=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    assert est.stop_reason_ != "diverged"
    assert est.history_[-1]["learning_rate"] == 0.05
    assert est.score(X, y) > before + 0.2, (before, est.score(X, y))


def test_warm_start_takes_the_new_learning_rate():
    X, y = _data()
    est = RecurrentRegressor(hidden_size=4, max_iter=2, learning_rate=1e-2, random_state=0,
                             device="cpu", warm_start=True).fit(X, y)
    est.set_params(learning_rate=3e-3).fit(X, y)
    assert [r["learning_rate"] for r in est.history_] == [1e-2, 1e-2, 3e-3, 3e-3]
    assert est._optimizer.param_groups[0]["lr"] == 3e-3


@pytest.mark.parametrize("where", ["X", "y"])
def test_values_finite_in_float64_but_inf_in_float32_raise_naming_the_argument(where):
    X, y = _data()
    X, y = X.copy(), y.copy()
    (X if where == "X" else y)[3, 2, 0] = 1e39
    with pytest.raises(ValueError, match=rf"^{where} has values too large .*float32.*1e\+39"):
        RecurrentRegressor(hidden_size=4, max_iter=2, device="cpu").fit(X, y)
    # float64 holds them: no error about the cast
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        RecurrentRegressor(hidden_size=4, max_iter=1, device="cpu", dtype="float64",
                           learning_rate=1e-12).fit(X, y)
    est = RecurrentRegressor(hidden_size=4, max_iter=1, device="cpu").fit(*_data())
    if where == "X":
        with pytest.raises(ValueError, match="^X has values too large"):
            est.predict(X)


class NaNCell(Cell):
    """A user cell whose step returns NaN."""

    def parameter_shapes(self):
        return {"weight_hh": (self.hidden_size, self.hidden_size)}

    def step(self, params, z_prev, x_t, aux=None):
        return torch.log(z_prev @ params["weight_hh"].T - 1.0)        # log of negatives


def test_user_cell_returning_nan_fails_fit_naming_the_cell():
    X, y = _data()
    with pytest.raises(ValueError, match=r"NaNCell \(a user cell\) returned non-finite hidden"):
        RecurrentRegressor(cell=NaNCell, hidden_size=3, max_iter=3, device="cpu").fit(X, y)


class LateNaNCell(Cell):
    """Finite at the initial weights, NaN once training moves weight_hh's first entry up."""

    def parameter_shapes(self):
        return {"weight_hh": (self.hidden_size, self.hidden_size),
                "weight_ih": (self.hidden_size, self.input_size)}

    def step(self, params, z_prev, x_t, aux=None):
        z = torch.tanh(z_prev @ params["weight_hh"].T + x_t @ params["weight_ih"].T)
        bad = params["weight_hh"][0, 0] > 5.0
        return torch.where(bad, torch.full_like(z, float("nan")), z)


def test_user_cell_turning_nan_during_training_restores_finite_weights():
    X, y = _data()
    est = RecurrentRegressor(cell=LateNaNCell, hidden_size=3, max_iter=50, device="cpu",
                             optimizer="sgd", learning_rate=1.0, random_state=0)
    # push weight_hh[0, 0] up by fitting a target that rewards it, with a big rate
    with pytest.warns(DivergenceWarning, match="non-finite"):
        est.fit(X, 100 * y)
    assert np.isfinite(est.predict(X)).all()
    assert est.stop_reason_ == "diverged"


def test_warm_start_with_another_optimizer_builds_it():
    X, y = _data()
    est = RecurrentRegressor(hidden_size=4, max_iter=1, random_state=0, device="cpu",
                             warm_start=True).fit(X, y)
    assert isinstance(est._optimizer, torch.optim.Adam)
    est.set_params(optimizer="sgd").fit(X, y)
    assert isinstance(est._optimizer, torch.optim.SGD)
