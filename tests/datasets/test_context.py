"""Context-dependent integration (Mante et al. 2013, Dubreuil et al. 2022 encoding)."""

import numpy as np
import pytest

from kpflow_sk.datasets import make_task, score_task


def test_dubreuil_layout():
    b = make_task("context_integration", 8, random_state=0)
    assert b.X.shape == (8, 78, 4) and b.y.shape == (8, 78, 1)
    assert {p: v[0].tolist() for p, v in b.periods.items()} == {
        "fixation": [0, 5], "cue": [5, 22], "stimulus": [22, 62], "delay": [62, 77],
        "response": [77, 78]}
    # Mask on the decision step only.
    np.testing.assert_array_equal(b.mask, np.tile(np.r_[np.zeros(77), 1.0], (8, 1)))


def test_target_follows_cued_coherence_sign():
    b = make_task("context_integration", 200, random_state=1)
    coh, ctx = b.meta["coherence"], b.meta["context"]
    assert set(np.unique(ctx)) == {0, 1}
    assert set(np.unique(np.abs(coh))) == {1.0, 2.0, 4.0, 8.0, 16.0}
    cued = coh[np.arange(200), ctx]
    np.testing.assert_array_equal(b.y[:, 77, 0], np.sign(cued))
    np.testing.assert_array_equal(b.y[:, :77, 0], 0.0)
    # The two modalities disagree on a good share of trials, so the cue matters.
    assert np.mean(np.sign(coh[:, 0]) != np.sign(coh[:, 1])) > 0.3


def test_inputs():
    b = make_task("context_integration", 300, random_state=2)
    clean = make_task("context_integration", 300, random_state=2, noise=0.0)
    coh, ctx = clean.meta["coherence"], clean.meta["context"]
    stim = np.zeros(78)
    stim[22:62] = 1.0
    np.testing.assert_allclose(clean.X[:, :, :2], 0.1 * coh[:, None, :] * stim[None, :, None],
                               atol=1e-6)
    cue = np.zeros(78)
    cue[5:77] = 1.0
    want = np.zeros((300, 78, 2))
    want[np.arange(300), :, ctx] = cue
    np.testing.assert_array_equal(clean.X[:, :, 2:], want)
    np.testing.assert_array_equal(b.X[:, :, 2:], clean.X[:, :, 2:])   # cues carry no noise
    assert abs((b.X[:, :, :2] - clean.X[:, :, :2]).std() - 0.1) < 0.003


def test_fixed_context():
    b = make_task("context_integration", 10, random_state=0, context=1)
    assert np.all(b.meta["context"] == 1)
    with pytest.raises(ValueError, match="context"):
        make_task("context_integration", 2, context=2)


def test_score_oracle_zero_and_constant():
    b = make_task("context_integration", 400, random_state=3)
    assert score_task("context_integration", b.y, b) == 1.0
    # Zero output is no choice at all: never correct.
    assert score_task("context_integration", np.zeros_like(b.y), b) == 0.0
    # A fixed choice is at chance (choices are balanced): about 0.5.
    assert abs(score_task("context_integration", np.ones_like(b.y), b) - 0.5) < 0.08
    # Only the sign of the mean over masked steps counts.
    assert score_task("context_integration", 0.01 * b.y - 3 * (1 - b.mask[..., None]), b) == 1.0


@pytest.mark.parametrize("param, value", [("stimulus_ms", 10.0), ("response_ms", 0.0),
                                          ("dt", 0.0), ("fixation_ms", -20.0)])
def test_periods_that_do_not_fit(param, value):
    with pytest.raises(ValueError, match=param):
        make_task("context_integration", 2, **{param: value})
