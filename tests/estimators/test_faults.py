"""Faults during fit: non-finite loss, KeyboardInterrupt, devices, invalid hyperparameters."""

import numpy as np
import pytest
import torch
from _helpers import seq_data, state_dict_equal
from sklearn.exceptions import ConvergenceWarning

from kpflow_sk.estimators import RecurrentClassifier, RecurrentRegressor

pytestmark = pytest.mark.filterwarnings("ignore:Maximum iterations")


class _Faulty(RecurrentRegressor):
    """Fails on a chosen call of train_step (one call per epoch with a full batch)."""

    fail_at = 3
    fault = "nan"

    def train_step(self, X, target, weight):
        self._calls = getattr(self, "_calls", 0) + 1
        if self._calls == self.fail_at:
            if self.fault == "interrupt":
                raise KeyboardInterrupt
            loss = super().train_step(X, target, weight)
            with torch.no_grad():       # the update blew the weights up
                for p in self.module_.parameters():
                    p.fill_(float("nan"))
            return loss * float("nan")
        return super().train_step(X, target, weight)


KW = dict(hidden_size=4, max_iter=6, learning_rate=1e-2, random_state=0, device="cpu")


def test_non_finite_loss_stops_and_restores_best_weights():
    X, y = seq_data(n=10, T=4)
    est = _Faulty(**KW)
    with pytest.warns(ConvergenceWarning, match="diverged at epoch 3: non-finite training loss"):
        est.fit(X, y)
    # full batch: epoch k's loss is measured on the weights after epoch k-1; epoch 2 has the
    # lowest finite loss, so the weights after epoch 1 come back
    assert est.loss_curve_[1] < est.loss_curve_[0]
    ref = RecurrentRegressor(**{**KW, "max_iter": 1}).fit(X, y)
    assert est.n_iter_ == 2 and len(est.loss_curve_) == 2 == len(est.history_)
    assert est.stop_reason_ == "diverged"
    assert state_dict_equal(est, ref)
    assert np.all(np.isfinite(est.predict(X)))


def test_real_divergence_is_caught():
    X, y = seq_data(n=10, T=4)
    with pytest.warns(ConvergenceWarning, match="diverged at epoch"):
        est = RecurrentRegressor(cell="rnn", nonlinearity="relu", init_scale=3.0,
                                 optimizer="sgd", learning_rate=1e30, hidden_size=4,
                                 max_iter=20, random_state=0).fit(X * 100, y * 1e6)
    assert est.stop_reason_ == "diverged"
    assert all(np.isfinite(est.loss_curve_))
    assert all(bool(torch.isfinite(p).all()) for p in est.module_.parameters())


def test_keyboard_interrupt_keeps_last_completed_iteration_and_propagates():
    X, y = seq_data(n=10, T=4)
    est = _Faulty(**KW)
    est.fault = "interrupt"
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    ref = RecurrentRegressor(**{**KW, "max_iter": 2}).fit(X, y)
    assert est.n_iter_ == 2 and est.stop_reason_ == "interrupted"
    assert state_dict_equal(est, ref)
    assert est.predict(X).shape == y.shape
    est.partial_fit(X, y)            # usable: training can go on
    assert est.n_iter_ == 3


def test_keyboard_interrupt_in_first_iteration_keeps_initial_weights():
    X, y = seq_data(n=10, T=4)
    est = _Faulty(**KW)
    est.fault, est.fail_at = "interrupt", 1
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    assert est.n_iter_ == 0 and est.loss_curve_ == [] and est.history_ == []
    assert np.all(np.isfinite(est.predict(X)))


def test_cuda_without_cuda_raises(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X, y = seq_data(n=6, T=3)
    for device in ("cuda", "cuda:0"):
        with pytest.raises(ValueError, match="CUDA is not available"):
            RecurrentRegressor(device=device, max_iter=1).fit(X, y)
    # "auto" falls back to the CPU
    est = RecurrentRegressor(device="auto", hidden_size=3, max_iter=1).fit(X, y)
    assert est.device_ == torch.device("cpu")


@pytest.mark.parametrize("device", ["tpu", "cuda:x", "mps", 3])
def test_unknown_device_raises(device):
    X, y = seq_data(n=6, T=3)
    with pytest.raises(ValueError, match="'device' parameter"):
        RecurrentRegressor(device=device, max_iter=1).fit(X, y)


@pytest.mark.parametrize("cls", [RecurrentRegressor, RecurrentClassifier])
@pytest.mark.parametrize("param, value", [
    ("cell", "lstm"), ("hidden_size", 0), ("hidden_size", 2.5), ("nonlinearity", "swish"),
    ("init_scale", -1.0), ("alpha", 0.0), ("alpha", 1.5), ("ode_solver", "rk45"),
    ("ode_step_size", 0.0), ("rtol", 0.0), ("atol", -1.0), ("adjoint", "yes"),
    ("optimizer", "lbfgs"), ("learning_rate", 0.0), ("weight_decay", -0.1),
    ("batch_size", 0), ("batch_size", "big"), ("max_iter", 0), ("tol", -1.0),
    ("n_iter_no_change", 0), ("early_stopping", 1.5), ("validation_fraction", 1.0),
    ("warm_start", "no"), ("grad_clip", 0.0), ("dtype", "float16"), ("random_state", "x"),
    ("n_threads", 0), ("kp_n_trials", 0), ("kp_track_every", -1), ("kp_probes", 0),
    ("kp_precision", "low"),
])
def test_invalid_hyperparameter_names_the_parameter(cls, param, value):
    X, y = seq_data(n=6, T=3)
    if cls is RecurrentClassifier:
        y = np.arange(6) % 2
    with pytest.raises(ValueError, match=f"'{param}' parameter"):
        cls(**{param: value}).fit(X, y)


def test_cell_options_are_validated_at_fit():
    X, y = seq_data(n=6, T=3)
    with pytest.raises(ValueError, match="nonlinearity for cell 'rnn'"):
        RecurrentRegressor(cell="rnn", nonlinearity="softplus").fit(X, y)
    with pytest.raises(ValueError, match="'cell' parameter"):
        RecurrentRegressor(cell=dict).fit(X, y)
