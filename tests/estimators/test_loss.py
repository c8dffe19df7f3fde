"""Loss-mask conventions: linear (weighted mean) and squared (Yang et al.), hand-computed."""

import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError

from kpflow_sk import RecurrentClassifier, RecurrentRegressor
from kpflow_sk.datasets import loss_mask, make_multitask, make_task
from kpflow_sk.estimators._loss import combine_weights, reduce_loss

# One trial, two steps, two outputs; the error y_hat - y is [[1, 2], [3, 4]].
TARGET = np.zeros((1, 2, 2))
OUTPUT = np.array([[[1.0, 2.0], [3.0, 4.0]]])
STEP_MASK = np.array([[1.0, 5.0]])                    # Yang's pre / post-response weights
CHANNEL = np.array([2.0, 1.0])                        # fixation column doubled


def _loss(convention, mask, sample_weight=None):
    est = RecurrentRegressor(mask_convention=convention)
    w = est._combine_weights(sample_weight, mask, True, 2)
    return est.get_loss(torch.tensor(OUTPUT), torch.tensor(TARGET),
                        None if w is None else torch.tensor(w)).item()


def test_step_mask_by_hand():
    # linear: sum m e^2 / (O sum m) = (1 (1 + 4) + 5 (9 + 16)) / (2 * 6)
    assert _loss("linear", STEP_MASK) == pytest.approx(130 / 12)
    # squared: mean (m e)^2 = (1 + 4 + 25 * 9 + 25 * 16) / 4
    assert _loss("squared", STEP_MASK) == pytest.approx(630 / 4)


def test_per_channel_mask_by_hand():
    mask = STEP_MASK[:, :, None] * CHANNEL[None, None, :]          # [[2, 1], [10, 5]]
    # linear: (2 * 1 + 1 * 4 + 10 * 9 + 5 * 16) / (2 + 1 + 10 + 5)
    assert _loss("linear", mask) == pytest.approx(176 / 18)
    # squared (Yang): ((2 * 1)^2 + (1 * 2)^2 + (10 * 3)^2 + (5 * 4)^2) / 4
    assert _loss("squared", mask) == pytest.approx(1308 / 4)


def test_sample_weight_stays_linear_and_no_mask_is_plain_mean():
    sw = np.array([3.0])
    assert _loss("squared", STEP_MASK, sw) == pytest.approx(3 * 630 / 4)
    assert _loss("linear", STEP_MASK, sw) == pytest.approx(130 / 12)       # normalised
    assert _loss("squared", None) == _loss("linear", None) == pytest.approx(30 / 4)


def test_squared_equals_yang_loss_on_a_yang_bunch():
    b = make_task("dm1", 6, random_state=0)
    rng = np.random.default_rng(1)
    y_hat = rng.uniform(0, 1, b.y.shape)
    c_mask = b.mask[:, :, None] * b.meta["channel_weights"][:, None, :]
    yang = np.mean(((b.y - y_hat) * c_mask) ** 2)                      # the paper's loss
    w = combine_weights(None, loss_mask(b).astype(np.float64), True, b.y.shape[1], "squared")
    ours = reduce_loss(torch.tensor((y_hat - b.y) ** 2), torch.tensor(w), "squared").item()
    assert ours == pytest.approx(yang, rel=1e-6)


def test_loss_mask_places_channel_weights_by_layout():
    b = make_multitask(["memory_pro", "fdgo"], 4, random_state=0, noise=0.0)
    m = loss_mask(b)
    assert m.shape == b.y.shape and m.dtype == np.float32
    yang = b.task_ids == 1
    c0, _ = b.layout["fdgo"]["output"]
    np.testing.assert_array_equal(m[yang][:, :, c0], 2 * b.mask[yang])
    np.testing.assert_array_equal(m[yang][:, :, c0 + 1], b.mask[yang])
    np.testing.assert_array_equal(m[~yang], np.repeat(b.mask[~yang][:, :, None], m.shape[2], 2))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_fit_and_score_accept_per_output_masks():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 5, 2)).astype(np.float32)
    y = rng.normal(size=(8, 5, 3)).astype(np.float32)
    mask = rng.uniform(0, 2, size=(8, 5, 3))
    for convention in ("linear", "squared"):
        est = RecurrentRegressor(hidden_size=4, max_iter=2, random_state=0, device="cpu",
                                 mask_convention=convention).fit(X, y, mask=mask)
        assert np.isfinite(est.loss_curve_).all()
        assert np.isfinite(est.score(X, y, mask=mask))
        assert est.get_params()["mask_convention"] == convention
    with pytest.raises(ValueError, match="per-output mask must have shape"):
        RecurrentRegressor(max_iter=1, device="cpu").fit(X, y, mask=mask[:, :, :2])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_bad_convention_and_classifier_masks():
    X = np.zeros((4, 3, 1), np.float32)
    y = np.zeros((4, 3, 1), np.float32)
    est = RecurrentRegressor(mask_convention="cubic", max_iter=1, device="cpu")
    assert est.mask_convention == "cubic"                      # stored unchanged
    with pytest.raises(InvalidParameterError, match="mask_convention"):
        est.fit(X, y)
    labels = np.tile([0, 1, 0], (4, 1))
    clf = RecurrentClassifier(max_iter=1, device="cpu", mask_convention="squared")
    with pytest.raises(ValueError, match="mask must have shape"):
        clf.fit(X, labels, mask=np.ones((4, 3, 2)))
    clf.fit(X, labels, mask=np.full((4, 3), 2.0))
    # Squared for cross-entropy: sum(m^2 ce) / numel, with ce = log 2 for zero logits.
    w = torch.tensor(clf._combine_weights(None, np.full((4, 3), 2.0), True, 3))
    logits, target = torch.zeros(4, 3, 2, dtype=torch.float64), torch.tensor(labels)
    assert clf.get_loss(logits, target, w).item() == pytest.approx(4 * np.log(2))
    clf.set_params(mask_convention="linear")
    assert clf.get_loss(logits, target, w).item() == pytest.approx(np.log(2))


def test_state_without_mask_convention_reads_linear():
    # Estimators restored (zoo, pickle) from a state written before the parameter existed.
    est = RecurrentRegressor()
    del est.__dict__["mask_convention"]
    assert est.get_params()["mask_convention"] == "linear"
    assert _loss("linear", STEP_MASK) == pytest.approx(
        est.get_loss(torch.tensor(OUTPUT), torch.tensor(TARGET),
                     torch.tensor(est._combine_weights(None, STEP_MASK, True, 2))).item())
