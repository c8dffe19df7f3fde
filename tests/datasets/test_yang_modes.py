"""Yang et al.'s deterministic 'test' batches and psychometric trials."""

import numpy as np
import pytest

from kpflow_sk.datasets import (
    make_psychometric,
    make_task,
    make_test_batch,
    psychometric_grid,
    score_task,
)
from kpflow_sk.datasets._yang import RULES

# Published test grids (authors' task.py): grid shape, trial length (ms), response onset (ms).
EXPECTED = {
    "fdgo": ((20, 2), 2000, 1500), "fdanti": ((20, 2), 2000, 1500),
    "reactgo": ((20, 2), 2500, 2000), "reactanti": ((20, 2), 2500, 2000),
    "delaygo": ((20, 2), 2500, 2000), "delayanti": ((20, 2), 2500, 2000),
    "dm1": ((20, 5), 2500, 2000), "dm2": ((20, 5), 2500, 2000),
    "contextdm1": ((20, 5, 5), 2000, 1500), "contextdm2": ((20, 5, 5), 2000, 1500),
    "multidm": ((20, 5, 5), 2000, 1500),
    "delaydm1": ((20, 5), 3000, 2700), "delaydm2": ((20, 5), 3000, 2700),
    "contextdelaydm1": ((20, 5, 5), 3500, 3000), "contextdelaydm2": ((20, 5, 5), 3500, 3000),
    "multidelaydm": ((20, 5, 5), 3500, 3000),
    "dmsgo": ((20, 2, 2), 2700, 2200), "dmsnogo": ((20, 2, 2), 2700, 2200),
    "dmcgo": ((20, 2, 2), 2700, 2200), "dmcnogo": ((20, 2, 2), 2700, 2200),
}


@pytest.mark.parametrize("name", RULES)
@pytest.mark.parametrize("dt", [20.0, 10.0])
def test_test_batch_matches_the_published_grid(name, dt):
    shape, T_ms, go_ms = EXPECTED[name]
    b = make_test_batch(name, noise=False, dt=dt)
    n = int(np.prod(shape))
    assert b.grid_shape == shape
    assert b.X.shape == (n, int(T_ms / dt), 85) and b.y.shape == (n, int(T_ms / dt), 33)
    np.testing.assert_array_equal(b.periods["go1"], np.tile([int(go_ms / dt), int(T_ms / dt)],
                                                            (n, 1)))
    # Angles: 20 values, the slowest grid index.
    a = np.unravel_index(np.arange(n), shape)[0]
    theta1 = b.meta["stim1_angle"]
    if name.startswith("dmc"):
        j = np.arange(10) / 10
        grid = np.pi * np.concatenate([0.1 + 0.8 * j, 1.1 + 0.8 * j])
    else:
        grid = 2 * np.pi * np.arange(20) / 20
    np.testing.assert_allclose(theta1, grid[a], atol=1e-12)
    # Every test trial asks for a response (matching tasks: forced go).
    assert not np.any(np.isnan(b.meta["target_angle"]))
    assert score_task(name, b.y, b) == 1.0
    if shape[1:] == (2,):                                   # Go/Anti: 2 modalities
        np.testing.assert_array_equal(b.meta["stim1_modality"], np.tile([1, 2], 20))
    if name.startswith("dm") and len(shape) == 3:           # matching: ring of stim1 x stim2
        np.testing.assert_array_equal(b.meta["stim1_modality"], np.tile([1, 1, 2, 2], 20))
        np.testing.assert_array_equal(b.meta["stim2_modality"], np.tile([1, 2, 1, 2], 20))
        assert np.all(b.meta["match"] == float(name.endswith("go") and "nogo" not in name))


@pytest.mark.parametrize("name, low, span", [("dm1", 0.8, 0.4), ("delaydm2", 0.5, 1.0),
                                             ("contextdm2", 0.8, 0.4),
                                             ("multidelaydm", 0.8, 0.4)])
def test_test_batch_strength_grid(name, low, span):
    b = make_test_batch(name, noise=False)
    shape = b.grid_shape
    idx = np.unravel_index(np.arange(int(np.prod(shape))), shape)
    s1, s2 = b.meta["stim1_strength"], b.meta["stim2_strength"]
    if len(shape) == 2:
        ring = int(name[-1]) - 1
        np.testing.assert_allclose(s1[:, ring], low + span * idx[1] / 5)
        np.testing.assert_allclose(s1[:, 1 - ring], 0.0)
    else:
        np.testing.assert_allclose(s1, low + span * np.stack(idx[1:], axis=1) / 5)
    np.testing.assert_allclose(s1 + s2, 2.0 * (s1 > 0))
    np.testing.assert_allclose(np.mod(b.meta["stim2_angle"] - b.meta["stim1_angle"],
                                      2 * np.pi), np.pi)


def test_test_batch_noise_and_seed():
    clean = make_test_batch("fdgo", noise=False)
    a = make_test_batch("fdgo", random_state=1)
    b = make_test_batch("fdgo", random_state=1)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_allclose((a.X - clean.X).std(), np.sqrt(10) * 0.01, rtol=0.02)
    np.testing.assert_array_equal(a.y, clean.y)
    # Same encoding as the random mode: an fdgo trial with the test timings.
    r = make_task("fdgo", 1, random_state=0, noise=False, fix1_ms=500, stim1_ms=1000)
    theta = r.meta["stim1_angle"][0]
    assert r.X.shape == clean.X[:1].shape
    assert np.argmax(r.y[0, -1, 1:]) == int(np.round(theta / (2 * np.pi / 32))) % 32


def test_psychometric_dm_answers_the_stronger_stimulus():
    grid = psychometric_grid("dm1", n_angles=4, coherences=(-0.04, 0.02))
    assert grid.pop("shape") == (4, 2)
    b = make_psychometric("dm1", noise=False, **grid)
    stronger_first = grid["stim1_strength"][:, 0] > grid["stim2_strength"][:, 0]
    target = np.where(stronger_first, grid["stim1_angle"], grid["stim2_angle"])
    np.testing.assert_allclose(b.meta["target_angle"], target)
    np.testing.assert_allclose(b.meta["coherence"], np.tile([-0.04, 0.02], 4))
    ctx = psychometric_grid("contextdm2", n_angles=2, coherences=(-0.1, 0.1))
    assert ctx.pop("shape") == (2, 2, 2)
    bc = make_psychometric("contextdm2", noise=False, **ctx)
    ring2_first = ctx["stim1_strength"][:, 1] > ctx["stim2_strength"][:, 1]
    np.testing.assert_allclose(bc.meta["target_angle"],
                               np.where(ring2_first, ctx["stim1_angle"], ctx["stim2_angle"]))


def test_psychometric_matching_rule_and_timings():
    theta1 = np.array([0.0, 1.0, 1.0, 0.5 * np.pi])
    theta2 = np.array([0.0, 1.0 + np.pi / 40, 1.0 + np.pi / 30, 1.5 * np.pi])
    b = make_psychometric("dmsgo", stim1_angle=theta1, stim2_angle=theta2, noise=False)
    np.testing.assert_array_equal(b.meta["match"], [1, 1, 0, 0])       # within 5 degrees
    assert np.isnan(b.meta["target_angle"]).tolist() == [False, False, True, True]
    c = make_psychometric("dmcnogo", stim1_angle=theta1, stim2_angle=theta2, noise=False,
                          delay1_ms=600.0)
    np.testing.assert_array_equal(c.meta["match"], [1, 1, 1, 0])       # category theta < pi
    assert c.periods["go1"][0].tolist() == [80, 105]


@pytest.mark.parametrize("kwargs, match", [
    ({"name": "memory_pro", "stim1_angle": [0.0]}, "Yang"),
    ({"name": "dm1", "stim1_angle": [0.0]}, "stim2_angle"),
    ({"name": "dmsgo", "stim1_angle": [0.0]}, "stim2_angle"),
    ({"name": "fdgo", "stim1_angle": [0.0], "stim1_modality": [3]}, "stim1_modality"),
    ({"name": "fdgo", "stim1_angle": [[0.0]]}, "stim1_angle"),
    ({"name": "fdgo", "stim1_angle": [np.nan]}, "stim1_angle"),
])
def test_psychometric_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_psychometric(kwargs.pop("name"), **kwargs)
    with pytest.raises(ValueError, match="Yang"):
        make_test_batch("flipflop")
