"""Ctrl-C during fit: the estimator keeps the last completed epoch, the interrupt propagates."""

import sys

import numpy as np
import pytest
import torch

from kpflow_sk import RecurrentClassifier, RecurrentRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

KW = dict(hidden_size=4, max_iter=6, learning_rate=1e-2, random_state=0, device="cpu",
          batch_size=5)


def _data(n=10, T=4):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, T, 2))
    return X, 0.3 * np.cumsum(X[..., :1], axis=1)


def _same_weights(a, b):
    sa, sb = a.module_.state_dict(), b.module_.state_dict()
    return all(torch.equal(sa[k], sb[k]) for k in sa)


class _InterruptAtEpoch(RecurrentRegressor):
    """Raises KeyboardInterrupt in the second train_step of epoch ``k`` (two batches/epoch)."""

    k = 3

    def train_step(self, X, target, weight):
        self._steps = getattr(self, "_steps", 0) + 1
        if self._steps == 2 * (self.k - 1) + 2:
            raise KeyboardInterrupt
        return super().train_step(X, target, weight)


class _InterruptCallback:
    def __init__(self, k):
        self.k = k

    def on_epoch_end(self, est, record):
        if record["epoch"] == self.k:
            raise KeyboardInterrupt


@pytest.mark.parametrize("cell", ["gru", "node"])
def test_fit_keyboard_interrupt_in_train_step_keeps_epoch_k_minus_1_and_reraises(cell):
    X, y = _data()
    est = _InterruptAtEpoch(cell=cell, **KW)
    with pytest.raises(KeyboardInterrupt) as info:
        est.fit(X, y)
    ref = RecurrentRegressor(cell=cell, **{**KW, "max_iter": 2}).fit(X, y)
    # epoch 3 was half done: everything describes epoch 2, the last completed one
    assert est.n_iter_ == 2 == len(est.loss_curve_) == len(est.history_)
    assert est.stop_reason_ == "interrupted"
    assert est.t_ == 2 * len(X)
    assert est.loss_curve_ == ref.loss_curve_
    assert _same_weights(est, ref)
    np.testing.assert_array_equal(est.predict(X), ref.predict(X))
    if sys.version_info >= (3, 11):     # exception notes
        assert "weights of epoch 2" in " ".join(info.value.__notes__)
    # the optimizer state is epoch 2's too: one more epoch equals a warm continuation of ref
    est.partial_fit(X, y)
    ref.partial_fit(X, y)
    assert _same_weights(est, ref)


def test_fit_keyboard_interrupt_from_callback_keeps_epoch_k():
    X, y = _data()
    est = RecurrentRegressor(**KW, callbacks=[_InterruptCallback(3)])
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    # on_epoch_end runs after epoch 3 completed: epoch 3 is kept
    ref = RecurrentRegressor(**{**KW, "max_iter": 3}).fit(X, y)
    assert est.n_iter_ == 3 and est.stop_reason_ == "interrupted"
    assert _same_weights(est, ref)
    np.testing.assert_array_equal(est.predict(X), ref.predict(X))


def test_fit_keyboard_interrupt_stops_a_loop_of_three_fits_at_the_first():
    X, y = _data()
    started = []
    with pytest.raises(KeyboardInterrupt):
        for seed in range(3):
            started.append(seed)
            RecurrentRegressor(**{**KW, "random_state": seed},
                               callbacks=[_InterruptCallback(2)]).fit(X, y)
    assert started == [0]


def test_fit_keyboard_interrupt_classifier_left_usable():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(12, 4, 2))
    y = (X[..., 0].sum(1) > 0).astype(int)
    clf = RecurrentClassifier(**KW, callbacks=[_InterruptCallback(1)])
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert clf.n_iter_ == 1 and clf.classes_.tolist() == [0, 1]
    assert clf.predict_proba(X).shape == (12, 2)
    assert clf.score(X, y) >= 0.0
