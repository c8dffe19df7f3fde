"""Bad input: every case raises ValueError with a message naming the problem."""

import re

import numpy as np
import pytest
from _helpers import label_data, seq_data

from kpflow_sk.estimators import RecurrentClassifier, RecurrentRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def est(**kw):
    return RecurrentRegressor(hidden_size=3, max_iter=1, random_state=0, **kw)


@pytest.fixture
def data():
    return seq_data(n=6, T=4, n_out=2)


@pytest.mark.parametrize("value, word", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_non_finite_X_and_y(data, value, word):
    X, y = data
    Xb = X.copy()
    Xb[1, 2, 0] = value
    with pytest.raises(ValueError, match=f"Input X contains {word}"):
        est().fit(Xb, y)
    yb = y.copy()
    yb[0, 0, 1] = value
    with pytest.raises(ValueError, match=f"Input y contains {word}"):
        est().fit(X, yb)
    fitted = est().fit(X, y)
    for method in ("predict", "transform"):
        with pytest.raises(ValueError, match=f"Input X contains {word}"):
            getattr(fitted, method)(Xb)


def test_X_dimensions(data):
    X, y = data
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        est().fit(X[:, 0, 0], y[:, 0, 0])
    with pytest.raises(ValueError, match=re.escape("got an array with 4 dimensions")):
        est().fit(X[..., None], y)
    fitted = est().fit(X, y)
    with pytest.raises(ValueError, match="got an array with 4 dimensions"):
        fitted.predict(X[..., None])


def test_y_with_other_number_of_samples(data):
    X, y = data
    with pytest.raises(ValueError, match="y has 5 samples but X has 6"):
        est().fit(X, y[:5])
    with pytest.raises(ValueError, match="y has 5 samples but X has 6"):
        RecurrentClassifier(max_iter=1).fit(X, np.arange(5) % 2)


def test_seq2seq_y_time_length(data):
    X, y = data
    with pytest.raises(ValueError, match="n_timesteps=4, y has 3"):
        est().fit(X, y[:, :3])
    with pytest.raises(ValueError, match=re.escape("(n_samples, n_timesteps) = (6, 4)")):
        RecurrentClassifier(max_iter=1).fit(X, np.zeros((6, 3), dtype=int))


def test_wrong_number_of_features_at_predict(data):
    X, y = data
    fitted = est().fit(X, y)
    msg = "X has 1 features, but RecurrentRegressor is expecting 2 features as input"
    for method in ("predict", "transform"):
        with pytest.raises(ValueError, match=msg):
            getattr(fitted, method)(X[..., :1])
    with pytest.raises(ValueError, match=msg):
        fitted.score(X[..., :1], y)


def test_empty_X(data):
    X, y = data
    with pytest.raises(ValueError, match=re.escape("Found array with 0 sample(s)")):
        est().fit(X[:0], y[:0])
    with pytest.raises(ValueError, match=re.escape("0 time step(s)")):
        est().fit(X[:, :0], y[:, :0])
    with pytest.raises(ValueError, match=re.escape("0 feature(s)")):
        est().fit(X[:, :, :0], y)
    with pytest.raises(ValueError, match=re.escape("0 feature(s)")):
        est().fit(np.empty((6, 0)), y[:, 0])


def test_non_numeric_arrays(data):
    X, y = data
    Xs = X.astype(str)
    with pytest.raises(ValueError, match="dtype='numeric' is not compatible with arrays of "
                                         "bytes/strings"):
        est().fit(Xs, y)
    with pytest.raises(ValueError, match="dtype='numeric' is not compatible"):
        est().fit(X, y.astype(str))
    with pytest.raises(ValueError, match="Complex data not supported"):
        est().fit(X + 1j, y)


def test_task_ids_shape(data):
    X, y = data
    with pytest.raises(ValueError, match=re.escape("task_ids must have shape (n_samples,) = "
                                                   "(6,), one task label per trial; got "
                                                   "shape (5,)")):
        est().fit(X, y, task_ids=np.zeros(5))
    with pytest.raises(ValueError, match="task_ids must have shape"):
        est().fit(X, y, task_ids=np.zeros((6, 2)))


def test_mask_shape_and_values(data):
    X, y = data
    with pytest.raises(ValueError, match=re.escape("mask must have shape (n_samples, "
                                                   "n_timesteps) = (6, 4)")):
        est().fit(X, y, mask=np.ones((6, 3)))
    with pytest.raises(ValueError, match="mask must have shape"):
        est().fit(X, y, mask=np.ones(6))
    with pytest.raises(ValueError, match="mask must be non-negative"):
        est().fit(X, y, mask=-np.ones((6, 4)))
    with pytest.raises(ValueError, match="Input mask contains NaN"):
        est().fit(X, y, mask=np.full((6, 4), np.nan))
    with pytest.raises(ValueError, match="needs sequence-to-sequence targets"):
        est().fit(X, y[:, -1], mask=np.ones((6, 4)))
    with pytest.raises(ValueError, match="zero weight to every loss term"):
        est().fit(X, y, mask=np.zeros((6, 4)))


def test_sample_weight(data):
    X, y = data
    with pytest.raises(ValueError, match=re.escape("sample_weight.shape == (5,), expected (6,)")):
        est().fit(X, y, sample_weight=np.ones(5))
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        est().fit(X, y, sample_weight=-np.ones(6))
    with pytest.raises(ValueError, match="at least one non-zero number"):
        est().fit(X, y, sample_weight=np.zeros(6))


def test_y_none_and_layout_errors(data):
    X, y = data
    with pytest.raises(ValueError, match="requires y to be passed"):
        est().fit(X, None)
    with pytest.raises(ValueError, match="got an array with 4 dimensions"):
        est().fit(X, y[..., None])
    fitted = est().fit(X, y)
    with pytest.raises(ValueError, match="does not match the target layout"):
        fitted.score(X, y[:, -1])


def test_classifier_label_errors():
    X, y = label_data(n=8, T=3)
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        RecurrentClassifier(max_iter=1).fit(X, y + 0.5)
    with pytest.raises(ValueError, match="only one class: \\[1\\]"):
        RecurrentClassifier(max_iter=1).fit(X, np.ones(8, dtype=int))
    with pytest.raises(ValueError, match="only one class"):
        RecurrentClassifier(max_iter=1).fit(X, y, sample_weight=(y == 1).astype(float))
    with pytest.raises(ValueError, match=re.escape("y of shape (8, 3, 1)")):
        RecurrentClassifier(max_iter=1).fit(X, np.zeros((8, 3, 1)))
    with pytest.raises(ValueError, match="with 2-D X"):
        RecurrentClassifier(max_iter=1).fit(X[:, 0], np.zeros((8, 2)))


def test_unfitted_methods_raise():
    from sklearn.exceptions import NotFittedError

    X, _ = seq_data(n=4, T=2)
    for method in ("predict", "transform"):
        with pytest.raises(NotFittedError):
            getattr(RecurrentRegressor(), method)(X)
    with pytest.raises(NotFittedError):
        RecurrentRegressor().kp_decompose_
