"""Yang et al. 2019 (20 tasks): encoding, timing, cost mask, task semantics, scoring, errors."""

import numpy as np
import pytest

from kpflow_sk.datasets import TASKS, make_multitask, make_task, score_task
from kpflow_sk.datasets._yang import RULES, generate_yang, score_yang

M = 32                       # default n_eachring
RING1, RING2 = slice(1, 1 + M), slice(1 + M, 1 + 2 * M)
RULE0 = 1 + 2 * M
PREF = 2 * np.pi * np.arange(M) / M
GO_ANTI = RULES[:6]
DM = RULES[6:16]
MATCH = RULES[16:]
EPOCH_MS = {  # TASKS.md section 1: allowed durations (ms) of each epoch
    "fd": {"fix1": (300, 700), "stim1": (500, 1500), "go1": [500]},
    "react": {"fix1": (500, 2500), "go1": [500]},
    "delay": {"fix1": [300, 500, 700], "stim1": [200, 400, 600],
              "delay1": [200, 400, 800, 1600], "go1": [500]},
    "dm": {"fix1": (100, 400), "stim1": [400, 800, 1600], "go1": [500]},
    "delaydm": {"fix1": [200, 400, 600], "stim1": [200, 400, 600],
                "delay1": [200, 400, 800, 1600], "stim2": [200, 400, 600],
                "delay2": (100, 300), "go1": [500]},
    "dms": {"fix1": [200, 400, 600], "stim1": [200, 400, 600],
            "delay1": [200, 400, 800, 1600], "go1": [500]},
    "dmc": {"fix1": [200, 400, 600], "stim1": [200, 400, 600],
            "delay1": [200, 400, 800, 1600], "go1": [200, 400, 600]},
}


def _timing_family(name):
    for prefix in ("fd", "react", "delaydm", "contextdelaydm", "multidelaydm", "delay", "dms",
                   "dmc"):
        if name.startswith(prefix):
            return {"contextdelaydm": "delaydm", "multidelaydm": "delaydm"}.get(prefix, prefix)
    return "dm"


def _bump(theta):
    """Independent tuning curve: exp(-d^2/2), d = circular distance / (pi/8), shape (n, M)."""
    d = np.abs(np.angle(np.exp(1j * (np.asarray(theta)[:, None] - PREF[None, :]))))
    return np.exp(-0.5 * (d / (np.pi / 8)) ** 2)


def _steps(b, period, i):
    return slice(*b.periods[period][i])


def _end(b):
    return b.periods["go1"][:, 1]


def test_registry_has_the_20_tasks_in_rule_order():
    assert len(RULES) == 20 and RULES[0] == "fdgo" and RULES[-1] == "dmcnogo"
    for name in RULES:
        spec = TASKS[name]
        assert spec.family == "yang19" and spec.n_rule_inputs == 20
        assert spec.defaults["dt"] == 20.0 and spec.defaults["n_eachring"] == 32
        assert spec.defaults["timing"] == "per_trial" and spec.defaults["noise"] is True


@pytest.mark.parametrize("name", RULES)
def test_shapes_dtypes_periods_and_padding(name):
    b = make_task(name, 12, random_state=0)
    n, T, d_in = b.X.shape
    assert (n, d_in) == (12, 1 + 2 * M + 20) and b.y.shape == (n, T, 1 + M)
    assert b.mask.shape == (n, T)
    assert b.X.dtype == b.y.dtype == b.mask.dtype == np.float32
    for arr in (b.X, b.y, b.mask):
        assert np.all(np.isfinite(arr))
    # Epochs tile [0, end) in order; response == go1; the longest trial sets T.
    names = [p for p in ("fix1", "stim1", "delay1", "stim2", "delay2", "go1") if p in b.periods]
    assert names[0] == "fix1" and names[-1] == "go1"
    assert np.all(b.periods[names[0]][:, 0] == 0)
    for a, c in zip(names[:-1], names[1:]):
        np.testing.assert_array_equal(b.periods[a][:, 1], b.periods[c][:, 0])
    for p in names:
        assert np.all(b.periods[p][:, 1] > b.periods[p][:, 0])
    np.testing.assert_array_equal(b.periods["response"], b.periods["go1"])
    assert _end(b).max() == T
    # Padding: inputs 0, baseline target, mask 0.
    pad = np.arange(T)[None, :] >= _end(b)[:, None]
    assert np.all(b.X[pad] == 0) and np.all(b.y[pad] == np.float32(0.05))
    assert np.all(b.mask[pad] == 0)
    np.testing.assert_array_equal(b.meta["channel_weights"], np.tile([2.0] + [1.0] * M, (n, 1)))
    for key in ("stim1_angle", "stim2_angle", "stim1_strength", "stim2_strength",
                "stim1_modality", "stim2_modality", "coherence", "match", "target_angle"):
        assert b.meta[key].shape[0] == n


@pytest.mark.parametrize("name", RULES)
def test_same_seed_identical_different_seed_differs(name):
    a = make_task(name, 4, random_state=3)
    b = make_task(name, 4, random_state=3)
    c = make_task(name, 4, random_state=4)
    for key in ("X", "y", "mask"):
        np.testing.assert_array_equal(a[key], b[key])
    assert a.X.shape != c.X.shape or not np.array_equal(a.X, c.X)


@pytest.mark.parametrize("name", RULES)
def test_epoch_durations_follow_the_paper(name):
    b = make_task(name, 300, random_state=1, noise=False)
    for epoch, allowed in EPOCH_MS[_timing_family(name)].items():
        steps = np.diff(b.periods[epoch], axis=1).ravel()
        if isinstance(allowed, tuple):           # U(lo, hi) ms -> floor(ms / 20) steps
            assert steps.min() >= allowed[0] // 20 and steps.max() <= allowed[1] // 20
            assert np.unique(steps).size > 3
        else:
            assert set(steps.tolist()) <= {ms // 20 for ms in allowed}
            assert len(allowed) == 1 or np.unique(steps).size > 1


@pytest.mark.parametrize("name", ["fdgo", "delaydm1", "dmcgo"])
def test_per_batch_timing_is_shared_and_unpadded(name):
    b = make_task(name, 20, random_state=5, timing="per_batch")
    for value in b.periods.values():
        assert np.all(value == value[0])
    assert _end(b)[0] == b.X.shape[1]


def test_fixed_period_override():
    b = make_task("delaydm1", 30, random_state=0, delay1_ms=1000.0, go1_ms=300.0)
    np.testing.assert_array_equal(np.diff(b.periods["delay1"], axis=1), 50)
    np.testing.assert_array_equal(np.diff(b.periods["go1"], axis=1), 15)


@pytest.mark.parametrize("name", RULES)
def test_cost_mask(name):
    b = make_task(name, 16, random_state=2, noise=False)
    for i in range(16):
        on, end = b.periods["go1"][i]
        expected = np.zeros(b.X.shape[1])
        expected[5:on] = 1.0          # first 100 ms = 5 steps are not checked
        expected[on + 5:end] = 5.0    # 100 ms grace period after response onset
        np.testing.assert_array_equal(b.mask[i], expected)


@pytest.mark.parametrize("name", RULES)
def test_rule_one_hot_and_fixation_input(name):
    b = make_task(name, 16, random_state=4, noise=False)
    k = RULES.index(name)
    for i in range(16):
        end = _end(b)[i]
        rules = b.X[i, :end, RULE0:]
        np.testing.assert_array_equal(rules[:, k], 1.0)
        np.testing.assert_array_equal(np.delete(rules, k, axis=1), 0.0)
        fix = b.X[i, :end, 0]
        go = b.periods["go1"][i, 0]
        if name.startswith("react") or name in MATCH:      # fixation input on whole trial
            np.testing.assert_array_equal(fix, 1.0)
        else:                                             # off at the go cue
            np.testing.assert_array_equal(fix, (np.arange(end) < go).astype(np.float32))


@pytest.mark.parametrize("name", GO_ANTI)
def test_go_anti_bump_encoding_and_target(name):
    b = make_task(name, 24, random_state=6, noise=False)
    theta = b.meta["stim1_angle"]
    modality = b.meta["stim1_modality"]
    assert set(modality.tolist()) == {1, 2}          # drawn per trial by default
    response = np.mod(theta + np.pi, 2 * np.pi) if "anti" in name else theta
    np.testing.assert_allclose(b.meta["target_angle"], response)
    stim = _bump(theta) * 0.8                        # strength 1
    for i in range(24):
        on_ring, off_ring = (RING1, RING2) if modality[i] == 1 else (RING2, RING1)
        if name.startswith("fd"):
            on = slice(b.periods["stim1"][i, 0], _end(b)[i])
        elif name.startswith("react"):
            on = _steps(b, "go1", i)
        else:
            on = _steps(b, "stim1", i)
        present = np.zeros(b.X.shape[1], bool)
        present[on] = True
        np.testing.assert_allclose(b.X[i, present, on_ring], np.tile(stim[i], (present.sum(), 1)),
                                   atol=1e-6)
        np.testing.assert_array_equal(b.X[i, ~present, on_ring], 0.0)
        np.testing.assert_array_equal(b.X[i, :, off_ring], 0.0)
        # Peak at the unit nearest the stimulus, 0.8 exp(-d^2/2) <= 0.8 * strength.
        peak = b.X[i, on.start, on_ring]
        assert np.argmax(peak) == np.argmin(np.abs(np.angle(np.exp(1j * (PREF - theta[i])))))
        assert 0.8 * np.exp(-0.5 * (np.pi / 32 / (np.pi / 8)) ** 2) <= peak.max() <= 0.8 + 1e-6
        # Target: fixation 0.8 before go, ring bump 0.05 + 0.8 exp(-d^2/2) at the response.
        go, end = b.periods["go1"][i]
        np.testing.assert_allclose(b.y[i, :go, 0], 0.8)
        np.testing.assert_allclose(b.y[i, go:end, 0], 0.05)
        np.testing.assert_allclose(b.y[i, :go, 1:], 0.05)
        np.testing.assert_allclose(b.y[i, go:end, 1:],
                                   np.tile(0.05 + 0.8 * _bump(response[i:i + 1])[0],
                                           (end - go, 1)), atol=1e-6)


def test_bump_peak_is_point_eight_times_strength_on_a_preferred_angle():
    # With 4 units per ring the angle grid is coarse; pi/2 is a preferred angle of unit 1.
    out = generate_yang("fdgo", 200, np.random.default_rng(0), n_eachring=4, noise=False)
    theta = out["meta"]["stim1_angle"]
    X = out["X"]
    i = int(np.argmin(np.abs(theta - np.pi / 2)))
    start = out["periods"]["stim1"][i, 0]
    ring = X[i, start, 1:5] + X[i, start, 5:9]
    expected = 0.8 * np.exp(-0.5 * (np.abs(np.angle(np.exp(1j * (theta[i] - np.pi / 2))))
                                    / (np.pi / 8)) ** 2)
    np.testing.assert_allclose(ring[1], expected, rtol=1e-5)
    assert ring[1] > 0.79


@pytest.mark.parametrize("pro, anti", [("fdgo", "fdanti"), ("reactgo", "reactanti"),
                                       ("delaygo", "delayanti")])
def test_anti_target_is_pro_target_rotated_by_pi(pro, anti):
    p = make_task(pro, 32, random_state=8)
    a = make_task(anti, 32, random_state=8)
    np.testing.assert_array_equal(p.X[:, :, :RULE0], a.X[:, :, :RULE0])   # same stimuli
    d = np.mod(a.meta["target_angle"] - p.meta["target_angle"], 2 * np.pi)
    np.testing.assert_allclose(d, np.pi)
    # On 32 units a rotation by pi is a shift by 16 units.
    np.testing.assert_allclose(a.y[:, :, 1:], np.roll(p.y[:, :, 1:], 16, axis=2), atol=1e-6)
    np.testing.assert_array_equal(a.y[:, :, 0], p.y[:, :, 0])


def test_delaygo_responds_after_the_delay_with_stimulus_off():
    b = make_task("delaygo", 32, random_state=9, noise=False)
    for i in range(32):
        for period in ("delay1", "go1"):
            np.testing.assert_array_equal(b.X[i, _steps(b, period, i), 1:RULE0], 0.0)
        assert b.X[i, _steps(b, "stim1", i), 1:RULE0].max() > 0.7
        go = b.periods["go1"][i, 0]
        assert np.argmax(b.y[i, go, 1:]) == np.argmax(_bump(b.meta["stim1_angle"][i:i + 1])[0])
        assert np.all(b.y[i, :go, 1:] == np.float32(0.05))


def _expected_dm_target(b, name):
    s1, s2 = b.meta["stim1_strength"], b.meta["stim2_strength"]
    if name.startswith("context"):
        k = int(name[-1]) - 1
        first = s1[:, k] > s2[:, k]
    else:                               # dm1/dm2: one ring is 0; multi: sum over rings
        first = s1.sum(axis=1) > s2.sum(axis=1)
    return np.where(first, b.meta["stim1_angle"], b.meta["stim2_angle"])


@pytest.mark.parametrize("name", DM)
def test_dm_targets_the_stronger_stimulus(name):
    b = make_task(name, 200, random_state=10, noise=False)
    theta1, theta2 = b.meta["stim1_angle"], b.meta["stim2_angle"]
    sep = np.abs(np.angle(np.exp(1j * (theta2 - theta1))))
    assert np.all(sep >= 0.5 * np.pi - 1e-9)
    np.testing.assert_allclose(b.meta["target_angle"], _expected_dm_target(b, name))
    s1, s2 = b.meta["stim1_strength"], b.meta["stim2_strength"]
    if name.startswith("context"):
        # The ignored ring disagrees on some trials, so the cue matters.
        k = int(name[-1]) - 1
        other = np.where(s1[:, 1 - k] > s2[:, 1 - k], theta1, theta2)
        assert np.any(other != b.meta["target_angle"])
        np.testing.assert_allclose(np.abs(b.meta["coherence"]),
                                   np.abs(s1[:, k] - s2[:, k]) / 2, atol=1e-12)
    elif name.startswith("multi"):
        assert np.all(s1 > 0) and np.all(s2 > 0)
        frac = np.abs(s1[:, 0] - s1[:, 1]) / s1.sum(axis=1) * 2
        assert np.all((frac >= 0.2 - 1e-9) & (frac <= 0.8 + 1e-9))
        # Which single ring is stronger disagrees with the sum on some trials.
        assert np.any((s1[:, 0] > s2[:, 0]) != (s1.sum(1) > s2.sum(1)))
    else:
        k = int(name[-1]) - 1
        np.testing.assert_array_equal(s1[:, 1 - k], 0.0)
        np.testing.assert_array_equal(s2[:, 1 - k], 0.0)
    coh = np.unique(np.round(np.abs(b.meta["coherence"]), 6))
    expected = [0.08, 0.16, 0.32] if "delay" in name else [0.01, 0.02, 0.04, 0.08]
    np.testing.assert_allclose(coh, expected)
    # Stimulus input: 0.8 * strength * bump on each ring, in the right epochs.
    for i in range(5):
        b1, b2 = 0.8 * _bump(theta1[i:i + 1])[0], 0.8 * _bump(theta2[i:i + 1])[0]
        ring1 = s1[i, 0] * b1, s2[i, 0] * b2
        ring2 = s1[i, 1] * b1, s2[i, 1] * b2
        if "delay" in name:
            for period, r1, r2 in (("stim1", ring1[0], ring2[0]), ("stim2", ring1[1], ring2[1])):
                step = b.periods[period][i, 0]
                np.testing.assert_allclose(b.X[i, step, RING1], r1, atol=1e-6)
                np.testing.assert_allclose(b.X[i, step, RING2], r2, atol=1e-6)
            for period in ("delay1", "delay2", "go1"):
                np.testing.assert_array_equal(b.X[i, _steps(b, period, i), 1:RULE0], 0.0)
        else:
            step = b.periods["stim1"][i, 1] - 1
            np.testing.assert_allclose(b.X[i, step, RING1], sum(ring1), atol=1e-6)
            np.testing.assert_allclose(b.X[i, step, RING2], sum(ring2), atol=1e-6)
            np.testing.assert_array_equal(b.X[i, _steps(b, "go1", i), 1:RULE0], 0.0)


@pytest.mark.parametrize("name, factor", [("dm1", 10), ("contextdelaydm2", 2)])
def test_easy_task_scales_coherences(name, factor):
    hard = make_task(name, 100, random_state=0, noise=False)
    easy = make_task(name, 100, random_state=0, noise=False, easy_task=True)
    np.testing.assert_allclose(easy.meta["coherence"], factor * hard.meta["coherence"])


@pytest.mark.parametrize("name", MATCH)
def test_matching_answers_the_match_condition(name):
    b = make_task(name, 200, random_state=11, noise=False)
    theta1, theta2 = b.meta["stim1_angle"], b.meta["stim2_angle"]
    match = b.meta["match"].astype(bool)
    if name.startswith("dms"):
        np.testing.assert_array_equal(theta1 == theta2, match)
        sep = np.abs(np.angle(np.exp(1j * (theta2 - theta1))))
        assert np.all(sep[~match] >= np.pi / 9 - 1e-9)
    else:
        grid = np.pi * np.arange(0.1, 2.0, 0.2)
        assert np.all(np.isin(np.round(theta1, 9), np.round(grid, 9)))
        np.testing.assert_array_equal((theta1 < np.pi) == (theta2 < np.pi), match)
    assert 0.3 < match.mean() < 0.7
    go = ~match if name.endswith("nogo") else match
    np.testing.assert_array_equal(~np.isnan(b.meta["target_angle"]), go)
    np.testing.assert_allclose(b.meta["target_angle"][go], theta2[go])
    for i in range(20):
        start, end = b.periods["go1"][i]
        # stim2 is on from response onset to the end, on its drawn ring.
        ring = RING1 if b.meta["stim2_modality"][i] == 1 else RING2
        np.testing.assert_allclose(b.X[i, start:end, ring],
                                   np.tile(0.8 * _bump(theta2[i:i + 1])[0], (end - start, 1)),
                                   atol=1e-6)
        np.testing.assert_array_equal(b.X[i, _steps(b, "delay1", i), 1:RULE0], 0.0)
        if go[i]:
            np.testing.assert_allclose(b.y[i, :start, 0], 0.8)
            np.testing.assert_allclose(b.y[i, start:end, 0], 0.05)
            assert np.argmax(b.y[i, start, 1:]) == np.argmax(_bump(theta2[i:i + 1])[0])
        else:
            np.testing.assert_allclose(b.y[i, :end, 0], 0.8)     # keep fixating
            np.testing.assert_allclose(b.y[i, :end, 1:], 0.05)


def test_input_noise_scale():
    clean = make_task("dm1", 200, random_state=0, noise=False)
    noisy = make_task("dm1", 200, random_state=0)
    louder = make_task("dm1", 200, random_state=0, noise=0.05, dt=10.0)
    valid = np.arange(clean.X.shape[1])[None, :] < _end(clean)[:, None]
    diff = (noisy.X - clean.X)[valid]
    # sigma_x = 0.01 scaled by sqrt(2 / alpha), alpha = dt / tau = 0.2, on every channel.
    np.testing.assert_allclose(diff.std(axis=0), np.sqrt(10) * 0.01, rtol=0.08)
    assert abs(diff.mean()) < 1e-3
    clean10 = make_task("dm1", 200, random_state=0, noise=False, dt=10.0)
    valid10 = np.arange(clean10.X.shape[1])[None, :] < _end(clean10)[:, None]
    np.testing.assert_allclose((louder.X - clean10.X)[valid10].std(), np.sqrt(20) * 0.05,
                               rtol=0.02)
    np.testing.assert_array_equal(noisy.y, clean.y)


def _oracle(b):
    """Fixate on no-go trials; else a cosine bump at the target at each trial's last step."""
    n, T, d = b.y.shape
    out = np.full((n, T, d), np.nan)        # anything but the last valid step is ignored
    last = b.periods["response"][:, 1] - 1
    target = b.meta["target_angle"]
    fix = np.isnan(target)
    ring = np.maximum(np.cos(PREF[None, :] - np.where(fix, 0.0, target)[:, None]), 0)
    out[np.arange(n), last, 0] = np.where(fix, 1.0, 0.0)
    out[np.arange(n), last, 1:] = np.where(fix[:, None], 0.0, ring)
    return out


@pytest.mark.parametrize("name", RULES)
def test_score_oracle_zero_and_fixation(name):
    b = make_task(name, 60, random_state=12)
    assert score_task(name, _oracle(b), b) == 1.0
    assert score_task(name, b.y, b) == 1.0
    # Zero output: not fixating (y_fix = 0 <= 0.5) and no direction on the ring -> all wrong.
    assert score_task(name, np.zeros_like(b.y), b) == 0.0
    # Always fixating: right exactly on the trials labelled "fixate".
    fixate = np.zeros_like(b.y)
    fixate[:, :, 0] = 1.0
    expected = np.mean(np.isnan(b.meta["target_angle"]))
    assert score_task(name, fixate, b) == pytest.approx(expected)
    if name in MATCH:
        assert 0.3 < expected < 0.7
    else:
        assert expected == 0.0


def test_score_angle_tolerance_and_fixation_threshold():
    b = make_task("fdgo", 50, random_state=13)
    out = _oracle(b)
    last = b.periods["response"][:, 1] - 1
    rows = np.arange(50)

    def rotated(delta):
        o = out.copy()
        o[rows, last, 1:] = np.maximum(
            np.cos(PREF[None, :] - (b.meta["target_angle"] + delta)[:, None]), 0)
        return o

    assert score_yang(rotated(0.19 * np.pi), b) == 1.0
    assert score_yang(rotated(-0.19 * np.pi), b) == 1.0
    assert score_yang(rotated(0.21 * np.pi), b) == 0.0
    fixating = out.copy()
    fixating[rows[:10], last[:10], 0] = 0.51       # still fixating on 10 go trials
    assert score_yang(fixating, b) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="y_pred"):
        score_yang(out[:, :-1], b)


def test_multitask_composition_scores_each_task():
    b = make_multitask(["fdgo", "dmsnogo", "contextdm1"], 30, random_state=0)
    for name in ("fdgo", "dmsnogo", "contextdm1"):
        assert score_task(name, b.y, b) == 1.0


@pytest.mark.parametrize("params, name", [
    ({"bogus": 1}, "bogus"),
    ({"easy_task": True}, "easy_task"),          # fdgo has no coherences
    ({"go1_ms": 100.0}, "go1_ms"),               # no step after the grace period
    ({"stim1_ms": 10.0}, "stim1_ms"),            # shorter than one step
    ({"fix1_ms": -5.0}, "fix1_ms"),
    ({"dt": 0.0}, "dt"),
    ({"dt": 150.0}, "dt"),
    ({"n_eachring": 2}, "n_eachring"),
    ({"noise": -0.1}, "noise"),
    ({"timing": "per_epoch"}, "timing"),
    ({"tau": 0.0}, "tau"),
])
def test_bad_parameters_raise_naming_them(params, name):
    with pytest.raises(ValueError, match=name):
        make_task("fdgo", 4, random_state=0, **params)
    with pytest.raises(ValueError, match=name):
        generate_yang("fdgo", 4, np.random.default_rng(0), **params)


@pytest.mark.parametrize("n", [-1, 0, 2.5])
def test_bad_n_samples(n):
    with pytest.raises(ValueError, match="n_samples"):
        generate_yang("dm1", n, np.random.default_rng(0))
    with pytest.raises(ValueError, match="n_samples"):
        make_task("dm1", n, random_state=0)


def test_noise_alpha_gives_the_codes_fixed_scale():
    # Here alpha = dt / tau: at dt = 10 ms the sd is sqrt(2 / 0.1) sigma_x. Yang's code keeps
    # its network's alpha = 0.2 whatever the dt: sqrt(2 / 0.2) sigma_x. They agree at dt = 20.
    clean = make_task("fdgo", 300, random_state=0, noise=False, dt=10.0)
    valid = np.arange(clean.X.shape[1])[None, :] < _end(clean)[:, None]
    ours = make_task("fdgo", 300, random_state=0, dt=10.0)
    code = make_task("fdgo", 300, random_state=0, dt=10.0, noise_alpha=0.2)
    np.testing.assert_allclose((ours.X - clean.X)[valid].std(), np.sqrt(20) * 0.01, rtol=0.01)
    np.testing.assert_allclose((code.X - clean.X)[valid].std(), np.sqrt(10) * 0.01, rtol=0.01)
    at20 = make_task("fdgo", 50, random_state=4)
    np.testing.assert_array_equal(at20.X, make_task("fdgo", 50, random_state=4,
                                                    noise_alpha=0.2).X)
    with pytest.raises(ValueError, match="noise_alpha"):
        make_task("fdgo", 2, noise_alpha=0.0)


def test_generator_vouches_finiteness_only_for_finite_amplitudes():
    # make_task skips its scan of the (up to 1 GB) arrays only when the generator says "finite"
    # from its stimulus and target amplitudes; a NaN stimulus value must still be caught.
    out = generate_yang("fdgo", 6, np.random.default_rng(0))
    assert out["finite"] is True and np.all(np.isfinite(out["X"]))
    given = {"stim1_angle": np.array([0.5, np.nan]), "stim1_modality": np.array([1, 2]),
             "stim1_strength": np.array([[1.0, 0.0], [0.0, 1.0]])}
    bad = generate_yang("fdgo", 2, np.random.default_rng(0), given=given)
    assert bad["finite"] is False and not np.all(np.isfinite(bad["X"]))
    from kpflow_sk.datasets._base import validate_generated

    with pytest.raises(ValueError, match="non-finite values in X"):
        validate_generated("fdgo", bad, 2)
