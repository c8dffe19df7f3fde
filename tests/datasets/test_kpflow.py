"""Memory/Delay Pro/Anti (KPFlow paper): encoding, semantics, scoring and the 4-task mix."""

import numpy as np
import pytest

from kpflow_sk.datasets import make_multitask, make_task, score_task
from kpflow_sk.datasets._kpflow import TOLERANCE

KPFLOW = ["memory_pro", "memory_anti", "delay_pro", "delay_anti"]


@pytest.mark.parametrize("name", KPFLOW)
def test_default_layout(name):
    b = make_task(name, 5, random_state=0)
    assert b.X.shape == (5, 90, 3) and b.y.shape == (5, 90, 3)
    assert {p: v[0].tolist() for p, v in b.periods.items()} == {
        "stimulus": [0, 30], "memory": [30, 60], "response": [60, 90]}
    np.testing.assert_array_equal(b.mask, 1.0)  # plain MSE over all steps


@pytest.mark.parametrize("name", KPFLOW)
def test_noise_free_encoding(name):
    b = make_task(name, 8, random_state=0, noise=0.0)
    theta = b.meta["theta"]
    # Noise off: evenly spaced angles.
    np.testing.assert_allclose(theta, 2 * np.pi * np.arange(8) / 8)
    fix = np.r_[np.ones(60), np.zeros(30)]
    np.testing.assert_array_equal(b.X[:, :, 0], np.tile(fix, (8, 1)))
    np.testing.assert_array_equal(b.y[:, :, 0], b.X[:, :, 0])
    on = np.ones(90) if name.startswith("delay") else np.r_[np.ones(30), np.zeros(60)]
    np.testing.assert_allclose(b.X[:, :, 1], np.cos(theta)[:, None] * on, atol=1e-6)
    np.testing.assert_allclose(b.X[:, :, 2], np.sin(theta)[:, None] * on, atol=1e-6)


@pytest.mark.parametrize("name", ["memory_pro", "delay_pro"])
def test_pro_responds_at_stimulus_angle_after_delay(name):
    b = make_task(name, 16, random_state=2)
    theta = b.meta["theta"]
    np.testing.assert_array_equal(b.y[:, :60, 1:], 0.0)
    np.testing.assert_allclose(b.y[:, 60:, 1], np.cos(theta)[:, None] * np.ones(30), atol=1e-6)
    np.testing.assert_allclose(b.y[:, 60:, 2], np.sin(theta)[:, None] * np.ones(30), atol=1e-6)
    np.testing.assert_allclose(b.meta["response_angle"], theta)


@pytest.mark.parametrize("pro, anti", [("memory_pro", "memory_anti"),
                                       ("delay_pro", "delay_anti")])
def test_anti_target_is_pro_target_rotated_by_pi(pro, anti):
    p = make_task(pro, 16, random_state=7)
    a = make_task(anti, 16, random_state=7)
    np.testing.assert_array_equal(p.X, a.X)             # same stimuli
    np.testing.assert_array_equal(p.y[:, :, 0], a.y[:, :, 0])
    # Rotating (cos, sin) by pi negates it.
    np.testing.assert_allclose(a.y[:, :, 1:], -p.y[:, :, 1:], atol=1e-6)
    d = np.mod(a.meta["response_angle"] - p.meta["response_angle"], 2 * np.pi)
    np.testing.assert_allclose(d, np.pi)


def test_noise_sd_is_kpflow_default():
    b = make_task("memory_pro", 400, random_state=0)
    clean = make_task("memory_pro", 400, random_state=0, noise=0.0)
    # The noisy set draws uniform angles, the clean one evenly spaced: compare fixation only.
    resid = b.X[:, :, 0] - clean.X[:, :, 0]
    assert abs(resid.std() - 0.1 * np.sqrt(2)) < 0.005
    assert abs(resid.mean()) < 0.005


def test_configurable_periods():
    b = make_task("delay_anti", 3, random_state=0, stimulus_steps=5, memory_steps=0,
                  response_steps=7)
    assert b.X.shape == (3, 12, 3)
    assert b.periods["response"][0].tolist() == [5, 12]
    assert b.periods["memory"][0].tolist() == [5, 5]


@pytest.mark.parametrize("param, value", [("stimulus_steps", 0), ("response_steps", -3),
                                          ("memory_steps", -1), ("stimulus_steps", 2.5),
                                          ("noise", -0.1)])
def test_bad_periods_raise(param, value):
    with pytest.raises(ValueError, match=param):
        make_task("memory_pro", 2, **{param: value})


def test_score_oracle_zero_and_tolerance():
    b = make_task("memory_anti", 64, random_state=1)
    assert score_task("memory_anti", b.y, b) == 1.0
    # Zero output: the answer (cos, sin) lies on the unit circle, so one component is at least
    # 1/sqrt(2) > pi/10 away from 0 -- zero is never correct (chance for a fixed answer is 0).
    assert score_task("memory_anti", np.zeros_like(b.y), b) == 0.0
    # Only the last step matters, and fixation is not scored.
    pred = np.zeros_like(b.y)
    pred[:, -1, 1:] = b.y[:, -1, 1:] + 0.9 * TOLERANCE
    pred[:, -1, 0] = 5.0
    assert score_task("memory_anti", pred, b) == 1.0
    pred[:32, -1, 2] += 0.2 * TOLERANCE
    assert score_task("memory_anti", pred, b) == 0.5


def test_kpflow_four_task_mix_encoding():
    b = make_multitask(KPFLOW, 40, rule_inputs="context", random_state=0)
    assert b.X.shape == (40, 120, 7) and b.y.shape == (40, 120, 3)
    assert np.bincount(b.task_ids).tolist() == [10, 10, 10, 10]
    assert b.task_names == KPFLOW
    clean = make_multitask(KPFLOW, 40, rule_inputs="context", random_state=0, noise=0.0)
    X, y = clean.X, clean.y
    onehot = np.eye(4)[clean.task_ids]
    # Context period: fixation 1, stimulus 0, the task's one-hot on; target (1, 0, 0).
    np.testing.assert_array_equal(X[:, :30, 0], 1.0)
    np.testing.assert_array_equal(X[:, :30, 1:3], 0.0)
    np.testing.assert_array_equal(X[:, :30, 3:], np.repeat(onehot[:, None], 30, axis=1))
    np.testing.assert_array_equal(X[:, 30:, 3:], 0.0)      # one-hots only during context
    np.testing.assert_array_equal(y[:, :30], np.tile([1.0, 0.0, 0.0], (40, 30, 1)))
    np.testing.assert_array_equal(clean.mask, 1.0)
    # After the context period each trial is the single task shifted by 30 steps.
    assert clean.periods["response"][0].tolist() == [90, 120]
    grouped = make_multitask(KPFLOW, 40, rule_inputs="context", shuffle=False, noise=0.0)
    for k, name in enumerate(KPFLOW):
        rows = slice(10 * k, 10 * (k + 1))
        assert np.all(grouped.task_ids[rows] == k)
        single = make_task(name, 10, noise=0.0)
        np.testing.assert_allclose(grouped.y[rows, 30:], single.y, atol=1e-6)
        np.testing.assert_allclose(grouped.X[rows, 30:, :3], single.X, atol=1e-6)
    # Same noise on every input channel, context period included.
    resid = b.X - X
    assert abs(resid[:, :30].std() - 0.1 * np.sqrt(2)) < 0.01
    assert abs(resid[:, :, 3:].std() - 0.1 * np.sqrt(2)) < 0.01
