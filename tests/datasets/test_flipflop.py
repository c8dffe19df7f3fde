"""N-bit flip-flop: targets hold the sign of each channel's last pulse."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from kpflow_sk.datasets import make_task, score_task
from kpflow_sk.datasets._flipflop import last_pulse_sign


def _hold_loop(pulses):
    """Independent reference: walk every channel through time."""
    n, T, k = pulses.shape
    out = np.zeros_like(pulses)
    for i in range(n):
        for c in range(k):
            state = 0
            for t in range(T):
                if pulses[i, t, c] != 0:
                    state = pulses[i, t, c]
                out[i, t, c] = state
    return out


@settings(max_examples=50, deadline=None)
@given(arrays(np.int8, st.tuples(st.integers(1, 3), st.integers(1, 12), st.integers(1, 3)),
              elements=st.sampled_from([-1, 0, 0, 1])))
def test_last_pulse_sign_matches_loop(pulses):
    np.testing.assert_array_equal(last_pulse_sign(pulses), _hold_loop(pulses))


def test_defaults_are_kpflow():
    b = make_task("flipflop", 200, random_state=0)
    assert b.X.shape == (200, 90, 3) and b.y.shape == (200, 90, 3)
    pulses = b.meta["pulses"]
    assert abs(np.mean(pulses != 0) - 0.05) < 0.005
    assert set(np.unique(pulses)) == {-1, 0, 1}
    resid = b.X - pulses
    assert abs(resid.std() - 0.03 * np.sqrt(2)) < 0.002
    np.testing.assert_array_equal(b.mask, 1.0)
    assert b.periods["response"][0].tolist() == [0, 90]


def test_output_is_sign_of_last_pulse():
    b = make_task("flipflop", 32, random_state=4)
    np.testing.assert_array_equal(b.y, _hold_loop(b.meta["pulses"]))
    # Takes effect on the pulse step itself.
    i, t, c = np.argwhere(b.meta["pulses"] != 0)[0]
    assert b.y[i, t, c] == b.meta["pulses"][i, t, c]


def test_anti_input_multiplies_target():
    b = make_task("flipflop", 32, random_state=5, anti=True, noise=0.0)
    assert b.X.shape == (32, 90, 4)
    sign = b.meta["anti_sign"]
    assert set(np.unique(sign)) == {-1, 1}
    np.testing.assert_array_equal(b.X[:, :, 3], np.repeat(sign[:, None], 90, axis=1))
    np.testing.assert_array_equal(b.y, _hold_loop(b.meta["pulses"]) * sign[:, None, None])


def test_score_oracle_and_zero_output():
    b = make_task("flipflop", 64, random_state=0)
    assert score_task("flipflop", b.y, b) == 1.0
    # Zero output is right exactly where the target is still 0 (before a channel's first
    # pulse): "chance" for this fixed answer is the fraction of zero targets (~0.2 here).
    zero_frac = np.mean(b.y == 0)
    assert score_task("flipflop", np.zeros_like(b.y), b) == pytest.approx(zero_frac)
    assert 0.1 < zero_frac < 0.35
    # Element-wise threshold at 0.5.
    assert score_task("flipflop", b.y + 0.49, b) == 1.0
    assert score_task("flipflop", b.y + 0.51, b) == 0.0


@pytest.mark.parametrize("param, value", [("n_bits", 0), ("n_steps", -5), ("pulse_prob", 1.5),
                                          ("noise", -1.0)])
def test_bad_parameters(param, value):
    with pytest.raises(ValueError, match=param):
        make_task("flipflop", 2, **{param: value})
