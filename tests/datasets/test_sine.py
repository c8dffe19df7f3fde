"""Sine-wave generation from a static frequency cue."""

import numpy as np
import pytest

from kpflow_sk.datasets import make_task, score_task
from kpflow_sk.datasets._sine import RMSE_TOLERANCE


def test_cue_and_target():
    b = make_task("sine_wave", 300, random_state=0)
    j = b.meta["frequency_index"]
    assert j.min() >= 1 and j.max() <= 51 and len(np.unique(j)) > 40
    np.testing.assert_allclose(b.X[:, :, 0], np.repeat((j / 51 + 0.25)[:, None], 100, axis=1),
                               rtol=1e-6)
    omega = 0.1 + (j - 1) * 0.5 / 50
    np.testing.assert_allclose(b.meta["omega"], omega)
    t = np.arange(100)
    np.testing.assert_allclose(b.y[:, :, 0], np.sin(omega[:, None] * t), atol=1e-6)
    # Higher cue, higher frequency.
    assert np.all(np.diff(b.meta["omega"][np.argsort(b.meta["cue"])]) >= 0)


def test_score():
    b = make_task("sine_wave", 50, random_state=1)
    assert score_task("sine_wave", b.y, b) == 1.0
    # Zero output has RMSE ~ 1/sqrt(2) on every trial: never correct (chance = 0).
    assert score_task("sine_wave", np.zeros_like(b.y), b) == 0.0
    assert score_task("sine_wave", b.y + 0.9 * RMSE_TOLERANCE, b) == 1.0
    assert score_task("sine_wave", b.y + 1.1 * RMSE_TOLERANCE, b) == 0.0


@pytest.mark.parametrize("param, value", [("n_steps", 0), ("omega_min", -0.1), ("dt", 0.0),
                                          ("n_frequencies", 0)])
def test_bad_parameters(param, value):
    with pytest.raises(ValueError, match=param):
        make_task("sine_wave", 2, **{param: value})
