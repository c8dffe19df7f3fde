"""Training: input layouts, determinism, stopping rules, warm start, partial_fit, weights."""

import re

import numpy as np
import pytest
import torch
from _helpers import label_data, seq_data, state_dict_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score

from kpflow_sk.estimators import PlateauWarning, RecurrentClassifier, RecurrentRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def small(cls=RecurrentRegressor, **kw):
    params = dict(hidden_size=6, max_iter=5, learning_rate=1e-2, random_state=0, device="cpu")
    params.update(kw)
    return cls(**params)


# ------------------------------------------------------------------ layouts
def test_target_layouts_and_prediction_shapes():
    X, y3 = seq_data(n=10, T=4, n_out=2)
    assert small().fit(X, y3).predict(X).shape == (10, 4, 2)       # sequence-to-sequence
    assert small().fit(X, y3[:, -1]).predict(X).shape == (10, 2)    # sequence-to-one
    assert small().fit(X, y3[:, -1, 0]).predict(X).shape == (10,)
    X2 = X[:, 0]                                                    # tabular: T = 1
    est = small().fit(X2, y3[:, -1, 0])
    assert est.n_features_in_ == 2 and est.transform(X2).shape == (10, 1, 6)
    assert small().fit(X2, y3[:, :1]).predict(X2).shape == (10, 1, 2)


def test_predict_dtype_is_the_estimators_and_other_lengths_work():
    X, y = seq_data(n=8, T=4)
    est = small().fit(X, y)
    Xlong = np.concatenate([X, X], axis=1)
    assert est.predict(Xlong).shape == (8, 8, 1)    # a recurrent net runs any length
    assert est.predict(X).dtype == np.float32     # the estimator's dtype (float32 default)


def test_learns_a_simple_task():
    X, y = seq_data(n=64, T=8)
    est = small(hidden_size=16, max_iter=150, learning_rate=2e-2).fit(X, y)
    assert est.score(X, y) > 0.9
    assert est.loss_curve_[-1] < 0.2 * est.loss_curve_[0]


# ------------------------------------------------------------------ determinism
@pytest.mark.parametrize("cell", ["gru", "leaky_rnn"])
def test_same_random_state_identical_fit(cell):
    X, y = seq_data(n=20, T=5)
    a = small(cell=cell, batch_size=8).fit(X, y)
    b = small(cell=cell, batch_size=8).fit(X, y)
    assert state_dict_equal(a, b)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    c = small(cell=cell, batch_size=8, random_state=1).fit(X, y)
    assert not state_dict_equal(a, c)


def test_refit_is_fresh_without_warm_start():
    X, y = seq_data(n=12, T=4)
    est = small()
    first = est.fit(X, y).predict(X)
    np.testing.assert_array_equal(est.fit(X, y).predict(X), first)
    assert est.n_iter_ == 5 and len(est.loss_curve_) == 5


# ------------------------------------------------------------------ fitted state
def test_fitted_attributes():
    X, y = seq_data(n=12, T=4)
    est = small(max_iter=7).fit(X, y)
    assert est.n_iter_ == 7 == len(est.loss_curve_)
    assert est.best_loss_ == min(est.loss_curve_)
    assert est.validation_scores_ is None and est.best_validation_score_ is None
    assert est.n_outputs_ == 1 and est.t_ == 7 * 12
    assert est.device_ == torch.device("cpu")
    assert est.kp_history_ == []


def test_tol_stops_training():
    X, y = seq_data(n=12, T=4)
    # a plateau stop with a poor fit warns (PlateauWarning), never "Maximum iterations"
    with pytest.warns(PlateauWarning, match="on a plateau"):
        est = small(max_iter=100, tol=1e6, n_iter_no_change=3).fit(X, y)
    # as MLPRegressor: stop once more than n_iter_no_change epochs in a row did not improve
    assert est.n_iter_ == 1 + 3 + 1
    assert est.stop_reason_ == "plateau"


def test_max_iter_warns():
    X, y = seq_data(n=12, T=4)
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(2\) reached"):
        small(max_iter=2).fit(X, y)


def test_early_stopping_holds_out_and_keeps_best():
    X, y = seq_data(n=40, T=4)
    est = small(max_iter=20, early_stopping=True, validation_fraction=0.25).fit(X, y)
    assert len(est.validation_scores_) == est.n_iter_
    assert est.best_validation_score_ == max(est.validation_scores_)
    assert est.t_ == est.n_iter_ * 30            # 10 of 40 samples held out
    # the kept weights are those of the best validation score
    rng = np.random.RandomState(0)
    with pytest.raises(ValueError, match="validation_fraction"):
        small(early_stopping=True, validation_fraction=0.5).fit(X[:1], y[:1])
    del rng


def test_warm_start_continues():
    X, y = seq_data(n=12, T=4)
    est = small(max_iter=3, warm_start=True).fit(X, y)
    est.fit(X, y)
    assert est.n_iter_ == 6 and len(est.loss_curve_) == 6
    ref = small(max_iter=3).fit(X, y)
    assert not state_dict_equal(est, ref)
    est.set_params(hidden_size=7)
    with pytest.raises(ValueError, match="hidden_size"):
        est.fit(X, y)


def test_partial_fit_one_epoch_per_call():
    X, y = seq_data(n=12, T=4)
    est = small()
    for k in range(1, 4):
        est.partial_fit(X, y)
        assert est.n_iter_ == k
    with pytest.raises(ValueError, match="features"):
        est.partial_fit(X[..., :1], y)


def test_partial_fit_matches_fit_epochs():
    """max_iter epochs of fit == the same number of partial_fit calls (full batch, sgd)."""
    X, y = seq_data(n=12, T=4)
    a = small(optimizer="sgd", max_iter=3, dtype="float64").fit(X, y)
    b = small(optimizer="sgd", dtype="float64")
    for _ in range(3):
        b.partial_fit(X, y)
    for k, v in a.module_.state_dict().items():
        torch.testing.assert_close(b.module_.state_dict()[k], v, rtol=0, atol=1e-12)


# ------------------------------------------------------------------ loss weights
def test_mask_zero_steps_do_not_matter():
    X, y = seq_data(n=12, T=6)
    mask = np.ones((12, 6))
    mask[:, 3:] = 0
    y_other = y.copy()
    y_other[:, 3:] += 10.0
    a = small(dtype="float64").fit(X, y, mask=mask)
    b = small(dtype="float64").fit(X, y_other, mask=mask)
    np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=0, atol=1e-12)
    c = small(dtype="float64").fit(X, y_other)
    assert not np.allclose(a.predict(X), c.predict(X))


@pytest.mark.parametrize("cls, make", [(RecurrentRegressor, seq_data),
                                       (RecurrentClassifier, label_data)])
def test_sample_weight_equals_repetition_float32(cls, make):
    """Integer weights == repeated trials (full batch), at float32 precision."""
    X, y = make(n=10, T=4)
    sw = np.array([0, 1, 2, 3, 1, 0, 2, 1, 1, 2])
    a = small(cls).fit(X, y, sample_weight=sw)
    b = small(cls).fit(np.repeat(X, sw, axis=0), np.repeat(y, sw, axis=0))
    method = "predict" if cls is RecurrentRegressor else "predict_proba"
    np.testing.assert_allclose(getattr(a, method)(X), getattr(b, method)(X), rtol=1e-4,
                               atol=1e-6)


def test_loss_is_weighted_mean():
    est = small()
    out = torch.tensor([[[1.0], [2.0]], [[0.0], [0.0]]])
    tgt = torch.zeros(2, 2, 1)
    w = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    assert est.get_loss(out, tgt, w).item() == pytest.approx(1.0 / 3)
    assert est.get_loss(out, tgt).item() == pytest.approx(5.0 / 4)


def test_seq2seq_score_is_flattened_masked_r2():
    X, y = seq_data(n=12, T=5, n_out=2)
    mask = (np.random.RandomState(0).rand(12, 5) > 0.3).astype(float)
    sw = np.linspace(0.5, 2, 12)
    est = small().fit(X, y, mask=mask)
    pred = est.predict(X)
    w = np.broadcast_to((sw[:, None] * mask)[..., None], y.shape).ravel()
    keep = w > 0
    expected = r2_score(y.ravel()[keep], pred.ravel()[keep], sample_weight=w[keep])
    assert est.score(X, y, sample_weight=sw, mask=mask) == pytest.approx(expected)


# ------------------------------------------------------------------ classifier
def test_classifier_per_sequence_labels_strings():
    X, y = label_data(n=20, T=4)
    labels = np.array(["neg", "pos"])[y]
    clf = small(RecurrentClassifier, max_iter=30).fit(X, labels)
    assert list(clf.classes_) == ["neg", "pos"]
    proba = clf.predict_proba(X)
    assert proba.shape == (20, 2)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)   # float32, the estimator's dtype
    assert set(clf.predict(X)) <= {"neg", "pos"}
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(1)])
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-5)
    assert 0 <= clf.score(X, labels) <= 1


def test_classifier_per_step_labels_with_mask():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(16, 5, 2))
    y = (np.cumsum(X[..., 0], axis=1) > 0).astype(int) + 1     # labels {1, 2} per step
    mask = np.ones((16, 5))
    mask[:, 0] = 0
    clf = small(RecurrentClassifier, max_iter=40).fit(X, y, mask=mask)
    assert clf.predict(X).shape == (16, 5)
    assert clf.predict_proba(X).shape == (16, 5, 2)
    pred = clf.predict(X)
    expected = (pred == y)[:, 1:].mean()
    assert clf.score(X, y, mask=mask) == pytest.approx(expected)


def test_classifier_partial_fit_needs_classes():
    X, y = label_data(n=10, T=3)
    clf = small(RecurrentClassifier)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[y == 0], y[y == 0], classes=[0, 1])   # one class in this batch is fine
    assert list(clf.classes_) == [0, 1]
    with pytest.raises(ValueError, match=re.escape("labels not in classes_")):
        clf.partial_fit(X, y + 5)


# ------------------------------------------------------------------ run-time options
def test_verbose_shows_progress_bar_with_loss(capsys):
    X, y = seq_data(n=8, T=3)
    small(max_iter=3, verbose=1).fit(X, y)
    err = capsys.readouterr().err
    assert "RecurrentRegressor" in err and "loss=" in err


def test_n_threads_is_restored():
    X, y = seq_data(n=8, T=3)
    before = torch.get_num_threads()
    est = small(n_threads=2).fit(X, y)
    est.predict(X)
    assert torch.get_num_threads() == before


def test_kp_history_records(tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = seq_data(n=6, T=4)
    task_ids = np.array([0, 1] * 3)
    est = small(hidden_size=3, max_iter=4, kp_track_every=2, kp_n_trials=4).fit(
        X, y, task_ids=task_ids)
    df = pd.DataFrame(est.kp_history_)
    assert list(df["iteration"]) == [0, 2, 4]
    for col in ("loss", "train_loss", "rank_K", "rank_P", "rank_Theta", "rank_K_time",
                "rank_P_time", "rank_Theta_time", "collapse_dim", "task_alignment"):
        assert col in df.columns
    assert df["train_loss"].iloc[0] is None or np.isnan(df["train_loss"].iloc[0])
    assert df["train_loss"].iloc[-1] == est.loss_curve_[-1]
    assert np.all(df["collapse_dim"] > 0)
