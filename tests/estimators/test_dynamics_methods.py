"""The estimators' dynamics entry points equal the kpflow_sk.dynamics functions they wrap."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from kpflow_sk import RecurrentRegressor
from kpflow_sk.datasets import make_task
from kpflow_sk.dynamics import (
    FiniteTimeExponents,
    FixedPoints,
    LyapunovSpectrum,
    find_fixed_points,
    lyapunov_spectrum,
)


@pytest.fixture(scope="module", params=["gru", "leaky_rnn"])
def fitted(request):
    b = make_task("flipflop", 24, random_state=0, n_steps=20)
    est = RecurrentRegressor(cell=request.param, hidden_size=6, max_iter=3, random_state=0,
                             kp_n_trials=8, n_threads=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(b.X, b.y)
    return est, b


def test_fixed_points_from_the_analysis_batch(fitted):
    est, b = fitted
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fps = est.fixed_points(np.zeros(3), n_inits=32, random_state=0)
        assert isinstance(fps, FixedPoints) and fps.n_initial_states == 32
        params = {k: v.detach() for k, v in est.module_.cell_params().items()}
        Z = est.transform(est._kp_batch["X"])
        ref = find_fixed_points(est.module_.cell, params, np.zeros(3), Z, n_inits=32,
                                random_state=0)
    np.testing.assert_allclose(fps.states, ref.states)
    assert list(fps.labels) == list(ref.labels)
    other = est.fixed_points(None, X=b.X[:4], n_inits=8, random_state=1)
    assert other.n_initial_states == 8


def test_lyapunov_and_finite_time_exponents(fitted):
    est, b = fitted
    spec = est.lyapunov_spectrum(b.X[:3], k=2, burn_in=2)
    assert isinstance(spec, LyapunovSpectrum) and spec.exponents.shape == (3, 2)
    params = {k: v.detach() for k, v in est.module_.cell_params().items()}
    ref = lyapunov_spectrum(est.module_.cell, params, torch.as_tensor(b.X[:3]), k=2, burn_in=2)
    np.testing.assert_allclose(spec.exponents, ref.exponents, atol=1e-12)
    ft = est.finite_time_exponents(b.X[:3], s=4)
    assert isinstance(ft, FiniteTimeExponents) and ft.exponents.shape == (3, 16, 6)


def test_bad_input(fitted):
    est, b = fitted
    with pytest.raises(ValueError, match=r"x must be one constant input of shape \(3,\)"):
        est.fixed_points(np.zeros(2))
    with pytest.raises(ValueError, match="n_inits"):
        est.fixed_points(np.zeros(3), n_inits=0)
    with pytest.raises(ValueError, match="features"):
        est.lyapunov_spectrum(b.X[:, :, :2])
    with pytest.raises(NotFittedError):
        RecurrentRegressor().fixed_points(np.zeros(3))
