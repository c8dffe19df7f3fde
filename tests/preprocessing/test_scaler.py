"""TimeSeriesScaler: statistics over samples and time, inverse, Pipeline, set_output."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from kpflow_sk import RecurrentRegressor
from kpflow_sk.preprocessing import TimeSeriesScaler

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _data(n=7, T=5, d=3, dtype=np.float64, seed=0):
    rng = np.random.RandomState(seed)
    return (rng.normal(size=(n, T, d)) * [1.0, 10.0, 0.1] + [5.0, -2.0, 0.0]).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_statistics_are_over_samples_and_time(dtype):
    X = _data(dtype=dtype)
    s = TimeSeriesScaler().fit(X)
    flat = X.reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(s.mean_, flat.mean(0), rtol=1e-5)
    np.testing.assert_allclose(s.scale_, flat.std(0), rtol=1e-5)
    Xs = s.transform(X)
    assert Xs.shape == X.shape and Xs.dtype == dtype
    np.testing.assert_allclose(Xs.reshape(-1, 3).mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(Xs.reshape(-1, 3).std(0), 1, rtol=1e-4)
    # independent reference: the same numbers as StandardScaler on the flattened rows
    ref = StandardScaler().fit_transform(flat).reshape(X.shape)
    np.testing.assert_allclose(Xs, ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(s.inverse_transform(Xs), X, rtol=1e-5, atol=1e-5)
    assert s.n_samples_seen_ == 35 and s.n_timesteps_in_ == 5


def test_options_weights_nan_and_errors():
    X = _data()
    assert np.allclose(TimeSeriesScaler(with_mean=False).fit(X).transform(X).mean((0, 1)),
                       X.mean((0, 1)) / X.reshape(-1, 3).std(0))
    np.testing.assert_array_equal(
        TimeSeriesScaler(with_std=False, with_mean=False).fit_transform(X), X)
    # weight 2 on a sequence == that sequence twice
    w = np.ones(len(X))
    w[0] = 2
    a = TimeSeriesScaler().fit(X, sample_weight=w)
    b = TimeSeriesScaler().fit(np.concatenate([X, X[:1]]))
    np.testing.assert_allclose(a.mean_, b.mean_)
    np.testing.assert_allclose(a.scale_, b.scale_)
    Xn = X.copy()
    Xn[0, :2, 0] = np.nan          # padding as NaN is ignored by the statistics
    s = TimeSeriesScaler().fit(Xn)
    np.testing.assert_allclose(s.mean_[0], np.nanmean(Xn[..., 0]))
    assert np.isnan(s.transform(Xn)[0, 0, 0])
    with pytest.raises(ValueError, match="3-D"):
        TimeSeriesScaler().fit(np.zeros((2, 3, 4, 5)))
    with pytest.raises(ValueError, match="features"):
        TimeSeriesScaler().fit(X).transform(X[..., :2])
    with pytest.raises(ValueError, match="sample_weight"):
        TimeSeriesScaler().fit(X, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="transform must be"):
        TimeSeriesScaler().set_output(transform="arrow")


def test_set_output_pandas_for_tabular_and_ndarray_for_sequences():
    X = _data()
    s = TimeSeriesScaler().set_output(transform="pandas")
    df = pd.DataFrame(X[:, 0], columns=["a", "b", "c"])
    out = s.fit_transform(df)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["a", "b", "c"]
    np.testing.assert_allclose(out.to_numpy(), StandardScaler().fit_transform(X[:, 0]))
    s3 = clone(s).fit(X)
    assert isinstance(s3.transform(X), np.ndarray) and s3.transform(X).ndim == 3


def test_pipeline_before_the_regressor_and_its_set_output():
    X = _data(n=12, T=4)[..., :2]
    y = 0.3 * np.cumsum(X[..., :1], axis=1)
    pipe = make_pipeline(TimeSeriesScaler(),
                         RecurrentRegressor(hidden_size=4, max_iter=3, random_state=0))
    pipe.fit(X, y)
    direct = RecurrentRegressor(hidden_size=4, max_iter=3, random_state=0).fit(
        TimeSeriesScaler().fit_transform(X), y)
    np.testing.assert_array_equal(pipe.predict(X), direct.predict(
        TimeSeriesScaler().fit(X).transform(X)))
    pipe.set_output(transform="pandas")  # must not raise; sequences stay arrays
    assert pipe.predict(X).shape == y.shape
    assert isinstance(Pipeline([("s", TimeSeriesScaler())]).set_output(
        transform="pandas").fit_transform(X), np.ndarray)


def test_scikit_learn_estimator_checks():
    from sklearn.utils.estimator_checks import check_estimator

    # every applicable check of scikit-learn's API contract (on 2-D data: T = 1)
    check_estimator(TimeSeriesScaler())
