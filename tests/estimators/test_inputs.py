"""The one input check (estimators/_inputs.py): fit, decompose and score share it."""

import re

import numpy as np
import pytest
from _helpers import label_data, seq_data
from sklearn.exceptions import NotFittedError
from sklearn.metrics import r2_score

from kpflow_sk.estimators import RecurrentClassifier, RecurrentRegressor

KW = dict(hidden_size=4, max_iter=3, random_state=0, device="cpu")
pytestmark = pytest.mark.filterwarnings("ignore:Maximum iterations")


def test_score_needs_a_fitted_estimator_and_y():
    X, y = seq_data(n=6, T=3)
    with pytest.raises(NotFittedError):
        RecurrentRegressor(**KW).score(X, y)
    est = RecurrentRegressor(**KW).fit(X, y)
    with pytest.raises(ValueError, match="requires y to be passed"):
        est.score(X, None)


@pytest.mark.parametrize("cls", [RecurrentRegressor, RecurrentClassifier])
def test_score_refuses_what_fit_refuses(cls):
    X, y = seq_data(n=8, T=3)
    if cls is RecurrentClassifier:
        y = (y[..., 0] > 0).astype(int)                  # per-step labels
    est = cls(**KW).fit(X, y)
    for method in (est.fit, est.score):
        with pytest.raises(ValueError, match="zero weight to every loss term"):
            method(X, y, mask=np.zeros((8, 3)))
        with pytest.raises(ValueError, match=re.escape("(n_samples, n_timesteps) = (8, 3)")):
            method(X, y, mask=np.ones((8, 2)))
        with pytest.raises(ValueError, match="sample_weight.shape == \\(7,\\)"):
            method(X, y, sample_weight=np.ones(7))


def test_score_names_the_layout_seen_in_fit():
    X, y = label_data(n=10, T=3)
    clf = RecurrentClassifier(**KW).fit(X, y)
    per_step = np.tile(y[:, None], (1, 3))
    with pytest.raises(ValueError, match=r"is per-step: .* layout seen in fit \(per-sequence\)"):
        clf.score(X, per_step)
    with pytest.raises(ValueError, match="refit from scratch"):
        clf.set_params(warm_start=True).fit(X, per_step)


def test_classifier_score_counts_unseen_labels_as_wrong():
    X, y = label_data(n=12, T=3)
    clf = RecurrentClassifier(**KW).fit(X, y)
    pred = clf.predict(X)
    y_new = y.copy()
    y_new[:4] = 7                                       # a label fit never saw
    expected = np.mean(np.r_[np.zeros(4), pred[4:] == y[4:]])
    assert clf.score(X, y_new) == pytest.approx(expected, abs=1e-12)
    with pytest.raises(ValueError, match=re.escape("labels not in classes_")):
        clf.set_params(warm_start=True).fit(X, y_new)


def test_regressor_score_weights_in_float64():
    X, y = seq_data(n=9, T=1)
    y1 = y[:, -1, 0]
    est = RecurrentRegressor(**KW).fit(X, y1)
    sw = np.full(9, 1 / 3) + np.arange(9) * 1e-9         # not representable in float32
    expected = r2_score(y1.astype(np.float32).astype(np.float64),
                        est.predict(X).astype(np.float64), sample_weight=sw)
    assert est.score(X, y1, sample_weight=sw) == pytest.approx(expected, rel=1e-12, abs=1e-12)
