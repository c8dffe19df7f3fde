"""Ready-Set-Go: the go response reproduces the sampled Ready-Set interval."""

import numpy as np
import pytest

from kpflow_sk.datasets import make_task, score_task
from kpflow_sk.datasets._rsg import produced_steps


def test_inputs_and_periods():
    b = make_task("ready_set_go", 50, random_state=0)
    n_s = b.meta["interval_steps"]
    set_on = 5 + n_s
    assert b.X.shape == (50, 5 + 52 + 104, 3)
    np.testing.assert_array_equal(b.periods["interval"], np.stack([np.full(50, 5), set_on], 1))
    np.testing.assert_array_equal(b.periods["response"][:, 0], set_on)
    for i in range(50):
        np.testing.assert_array_equal(np.flatnonzero(b.X[i, :, 1]), np.arange(5, 9))
        np.testing.assert_array_equal(np.flatnonzero(b.X[i, :, 2]), np.arange(4) + set_on[i])
        np.testing.assert_array_equal(np.flatnonzero(b.X[i, :, 0]), np.arange(set_on[i]))
    # Intervals come from the paper's prior: 10 values, 529..1059 ms.
    assert set(np.unique(b.meta["interval_ms"])) <= set(np.round(np.linspace(529, 1059, 10), 1))
    np.testing.assert_array_equal(n_s, np.floor(b.meta["interval_ms"] / 20).astype(int))


@pytest.mark.parametrize("gain", [1.0, 1.5])
def test_go_reproduces_sampled_interval(gain):
    b = make_task("ready_set_go", 40, random_state=1, gain=gain)
    ready_on = b.periods["ready"][:, 0]
    set_on = b.periods["set"][:, 0]
    go = np.argmax(b.y[:, :, 0] > 0, axis=1)
    np.testing.assert_array_equal(go - set_on, np.round(gain * (set_on - ready_on)))
    np.testing.assert_array_equal(go, b.meta["go_step"])
    # The target stays on from the go step to the end of the trial.
    for i in range(40):
        np.testing.assert_array_equal(b.y[i, :, 0], np.arange(b.y.shape[1]) >= go[i])
    np.testing.assert_array_equal(produced_steps(b.y, b), go - set_on)


def test_score_window():
    b = make_task("ready_set_go", 60, random_state=2)
    assert score_task("ready_set_go", b.y, b) == 1.0
    # Zero output never responds: no trial is correct (chance for "no response" is 0).
    assert score_task("ready_set_go", np.zeros_like(b.y), b) == 0.0
    # Responding at Set onset (produced interval 0) is wrong; so is responding before Set.
    assert score_task("ready_set_go", np.ones_like(b.y), b) == 0.0
    # Late by ~10% of the interval: inside the 20% + 25 ms window; late by 40%: outside.
    for late, want in [(0.1, 1.0), (0.4, 0.0)]:
        shift = np.round(late * b.meta["interval_steps"]).astype(int)
        t = np.arange(b.y.shape[1])
        pred = (t[None] >= (b.meta["go_step"] + shift)[:, None]).astype(float)[..., None]
        assert score_task("ready_set_go", pred, b) == want


@pytest.mark.parametrize("params, name", [
    ({"pulse_ms": 600.0}, "intervals_ms"),
    ({"production_factor": 1.0}, "production_factor"),
    ({"gain": -1.0}, "gain"),
    ({"pulse_ms": 5.0}, "pulse_ms"),
    ({"intervals_ms": ()}, "intervals_ms"),
])
def test_periods_that_do_not_fit(params, name):
    with pytest.raises(ValueError, match=name):
        make_task("ready_set_go", 2, **params)
