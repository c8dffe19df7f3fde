"""make_multitask: shared layout, rule channels, balanced counts, padding, routing of params."""

import numpy as np
import pytest

from kpflow_sk.datasets import (
    TASKS,
    TaskSpec,
    list_tasks,
    make_multitask,
    make_task,
    score_task,
    select_task,
)

MIXED = ["flipflop", "memory_pro", "ready_set_go", "delay_anti"]


def _dummy_generate(n_samples, rng, *, n_steps, width):
    # No "rest" key: exercises the composer's fallback. Last input is a rule channel.
    X = np.zeros((n_samples, n_steps, width + 1), np.float32)
    X[:, :, :width] = rng.normal(size=(n_samples, 1, width))
    X[:, :, width] = 7.0
    y = np.full((n_samples, n_steps, 1), 0.5, np.float32)
    periods = {"response": np.tile([[n_steps - 1, n_steps]], (n_samples, 1))}
    return {"X": X, "y": y, "mask": np.ones((n_samples, n_steps), np.float32),
            "periods": periods, "meta": {"level": X[:, 0, 0].astype(float)}}


@pytest.fixture
def dummy_tasks(monkeypatch):
    for name in ("dummy_a", "dummy_b"):
        monkeypatch.setitem(TASKS, name, TaskSpec(
            name=name, family="dummy", generate=_dummy_generate,
            score=lambda y_pred, b: float(np.mean(np.abs(y_pred[:, -1, 0] - 0.5) < 0.1)),
            n_rule_inputs=1, defaults={"n_steps": 4, "width": 2}))
    return ["dummy_a", "dummy_b"]


@pytest.mark.parametrize("n", [4, 9, 11])
def test_balanced_counts_and_ids(n):
    b = make_multitask(MIXED, n, random_state=0)
    counts = np.bincount(b.task_ids, minlength=4)
    assert counts.sum() == n and counts.max() - counts.min() <= 1
    assert b.task_names == MIXED and b.task_ids.dtype == np.int64


def test_shared_layout_by_family_and_onehot_rules():
    b = make_multitask(MIXED, 40, random_state=1, noise=0.0)
    lay = b.layout
    # flipflop (3 in / 3 out), kpflow (3 / 3, shared by memory_pro and delay_anti), rsg (3 / 1).
    assert lay["flipflop"]["input"] == (0, 3) and lay["flipflop"]["output"] == (0, 3)
    assert lay["memory_pro"]["input"] == lay["delay_anti"]["input"] == (3, 6)
    assert lay["memory_pro"]["output"] == lay["delay_anti"]["output"] == (3, 6)
    assert lay["ready_set_go"]["input"] == (6, 9) and lay["ready_set_go"]["output"] == (6, 7)
    assert b.X.shape[2] == 9 + 4 and b.y.shape[2] == 7
    T = b.X.shape[1]
    assert T == max(make_task(name, 1, random_state=0).X.shape[1] for name in MIXED)
    for i in range(40):
        k = b.task_ids[i]
        name = b.task_names[k]
        t0, t1 = lay[name]["steps"]
        rules = b.X[i, :, 9:]
        assert lay[name]["rule"] == 9 + k
        # Tonic one-hot over the trial's own steps, zero on padding.
        np.testing.assert_array_equal(rules[:t1, k], 1.0)
        np.testing.assert_array_equal(np.delete(rules[:t1], k, axis=1), 0.0)
        np.testing.assert_array_equal(rules[t1:], 0.0)
        # Other families' channels stay empty.
        (a, c), (d, e) = lay[name]["input"], lay[name]["output"]
        np.testing.assert_array_equal(np.delete(b.X[i, :, :9], np.arange(a, c), axis=1), 0.0)
        np.testing.assert_array_equal(np.delete(b.y[i], np.arange(d, e), axis=1), 0.0)


def test_time_padding_is_masked_out():
    b = make_multitask(["memory_pro", "ready_set_go"], 10, random_state=2)
    T = b.X.shape[1]
    assert T == 161
    rows = b.task_ids == 0
    np.testing.assert_array_equal(b.mask[rows, 90:], 0.0)
    np.testing.assert_array_equal(b.X[rows, 90:], 0.0)
    np.testing.assert_array_equal(b.y[rows, 90:], 0.0)
    np.testing.assert_array_equal(b.mask[rows, :90], 1.0)
    # Periods a trial lacks are [-1, -1].
    np.testing.assert_array_equal(b.periods["ready"][rows], -1)
    np.testing.assert_array_equal(b.periods["memory"][~rows], -1)


def test_no_rule_inputs():
    b = make_multitask(["memory_pro", "memory_anti"], 6, rule_inputs=None, random_state=0)
    assert b.X.shape[2] == 3
    assert all(lay["rule"] is None for lay in b.layout.values())


def test_context_rules_and_fallback_rest(dummy_tasks):
    b = make_multitask(["flipflop", *dummy_tasks], 6, rule_inputs="context", context_steps=5,
                       shuffle=False, random_state=0, flipflop={"noise": 0.0})
    # Task rule channels are dropped (dummy had one), three composer rules appended.
    assert b.X.shape == (6, 5 + 90, 3 + 2 + 3)
    assert not np.any(b.X == 7.0)
    np.testing.assert_array_equal(b.periods["context"], np.tile([0, 5], (6, 1)))
    for i, k in enumerate(b.task_ids):
        rules = b.X[i, :, 5:]
        np.testing.assert_array_equal(rules[:5, k], 1.0)
        np.testing.assert_array_equal(np.delete(rules[:5], k, axis=1), 0.0)
        np.testing.assert_array_equal(rules[5:], 0.0)
    dummy = b.task_ids > 0
    # Without "rest": zero input, the trial's first target, mask 0 during context.
    np.testing.assert_array_equal(b.X[dummy, :5, 3:5], 0.0)
    np.testing.assert_array_equal(b.y[dummy, :5, 3], 0.5)
    np.testing.assert_array_equal(b.mask[dummy, :5], 0.0)
    np.testing.assert_array_equal(b.mask[dummy, 9:], 0.0)        # padding after 4 steps
    # Scoring sees each task in its own layout.
    view = select_task(b, "dummy_b")
    assert view.X.shape == (2, 4, 2) and view.y.shape == (2, 4, 1)
    assert list(view.periods) == ["response"] and list(view.meta) == ["level"]
    assert score_task("dummy_b", b.y, b) == 1.0


def test_family_channel_mismatch_is_rejected(dummy_tasks):
    with pytest.raises(ValueError, match="dummy_b.*family 'dummy'"):
        make_multitask(dummy_tasks, 4, dummy_b={"width": 3})


def test_score_task_uses_only_that_tasks_trials():
    b = make_multitask(MIXED, 24, random_state=3)
    pred = np.zeros_like(b.y)
    rows = b.task_ids == b.task_names.index("memory_pro")
    pred[rows] = b.y[rows]
    assert score_task("memory_pro", pred, b) == 1.0
    assert score_task("delay_anti", pred, b) == 0.0
    assert score_task("ready_set_go", pred, b) == 0.0
    for name in MIXED:
        assert score_task(name, b.y, b) == 1.0


def test_select_task_recovers_single_task_layout():
    b = make_multitask(["memory_pro", "ready_set_go"], 8, rule_inputs="context", random_state=0,
                       noise=0.0)
    view = select_task(b, "memory_pro")
    assert view.X.shape == (4, 90, 3)
    assert {p: v[0].tolist() for p, v in view.periods.items()} == {
        "stimulus": [0, 30], "memory": [30, 60], "response": [60, 90]}
    assert set(view.meta) == {"theta", "response_angle", "anti"}
    theta = view.meta["theta"]
    np.testing.assert_allclose(view.y[:, -1, 1], np.cos(theta), atol=1e-6)


def test_same_seed_same_arrays():
    a = make_multitask(MIXED, 12, random_state=5)
    b = make_multitask(MIXED, 12, random_state=5)
    c = make_multitask(MIXED, 12, random_state=6)
    for key in ("X", "y", "mask", "task_ids"):
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a.X, c.X)


def test_shuffle_false_groups_by_task():
    b = make_multitask(MIXED, 8, shuffle=False, random_state=0)
    np.testing.assert_array_equal(b.task_ids, [0, 0, 1, 1, 2, 2, 3, 3])


def test_meta_union_fills_missing():
    b = make_multitask(["memory_pro", "sine_wave"], 6, random_state=0)
    kp = b.task_ids == 0
    assert np.all(np.isnan(b.meta["omega"][kp])) and not np.any(np.isnan(b.meta["omega"][~kp]))
    assert np.all(np.isnan(b.meta["theta"][~kp]))


def test_param_routing():
    b = make_multitask(["memory_pro", "delay_pro", "flipflop"], 6, noise=0.0,
                       memory_pro={"response_steps": 10}, random_state=0)
    assert b.params["memory_pro"]["noise"] == 0.0 and b.params["flipflop"]["noise"] == 0.0
    assert b.params["memory_pro"]["response_steps"] == 10
    assert b.params["delay_pro"]["response_steps"] == 30
    assert b.layout["memory_pro"]["steps"] == (0, 70)
    with pytest.raises(ValueError, match="unknown parameter 'bogus'.*valid parameters"):
        make_multitask(["memory_pro", "flipflop"], 4, bogus=1)
    with pytest.raises(ValueError, match="memory_pro"):
        make_multitask(["memory_pro", "flipflop"], 4, memory_pro=3)


@pytest.mark.parametrize("kwargs, match", [
    ({"names": ["memory_pro", "nope"]}, r"unknown task 'nope'; valid task names"),
    ({"names": []}, "at least one task"),
    ({"names": ["flipflop", "flipflop"]}, "repeat"),
    ({"rule_inputs": "tonic"}, r"rule_inputs must be one of \['onehot', 'context', None\]"),
    ({"n_samples": -2}, "n_samples"),
    ({"n_samples": 1}, "n_samples=1 is smaller than the number of tasks"),
    ({"rule_inputs": "context", "context_steps": 0}, "context_steps"),
])
def test_bad_arguments(kwargs, match):
    args = {"names": ["memory_pro", "flipflop"], "n_samples": 4}
    args.update(kwargs)
    names, n = args.pop("names"), args.pop("n_samples")
    with pytest.raises(ValueError, match=match):
        make_multitask(names, n, **args)


def test_all_registered_tasks_compose():
    names = list_tasks()
    b = make_multitask(names, 2 * len(names), random_state=0)
    assert np.bincount(b.task_ids).tolist() == [2] * len(names)
    assert np.all(np.isfinite(b.X)) and np.all(np.isfinite(b.y))
    for name in names:
        assert score_task(name, b.y, b) == 1.0


# ---------------------------------------------------------------------------------------------
# Rule channels of Yang et al.'s tasks: noise, padding, global layout

YANG_RULE0 = 65          # first rule unit of Yang's 85-input layout


def _trial_end(b, name):
    """Each trial's own last step + 1 (in composed time) for the trials of ``name``."""
    rows = b.task_ids == b.task_names.index(name)
    return rows, b.periods["go1"][rows, 1]


def test_rule_channels_get_the_input_noise_of_the_other_inputs():
    names = ["fdgo", "delaydm1"]
    b = make_multitask(names, 600, random_state=0)
    sigma = np.sqrt(2 / 0.2) * 0.01          # Yang: sqrt(2 / alpha) sigma_x on every input
    for name in names:
        rows, end = _trial_end(b, name)
        X, fix1 = b.X[rows], b.periods["fix1"][rows]
        t = np.arange(b.X.shape[1])[None, :]
        valid = t < end[:, None]
        rules = X[:, :, YANG_RULE0:].copy()
        rules[:, :, names.index(name)] -= 1.0          # the tonic rule input
        rule_noise = rules[valid]                      # (steps, 2)
        # Ring inputs carry only noise during the fixation epoch (no stimulus yet).
        quiet = (t >= fix1[:, :1]) & (t < fix1[:, 1:])
        ring_noise = X[:, :, 1:65][quiet]
        assert rule_noise.size > 10_000 and ring_noise.size > 10_000
        np.testing.assert_allclose(rule_noise.std(axis=0), sigma, rtol=0.03)
        np.testing.assert_allclose(rule_noise.std(), ring_noise.std(), rtol=0.03)
        assert abs(rule_noise.mean()) < 3 * sigma / np.sqrt(rule_noise.size / 2) * 2
    clean = make_multitask(names, 40, random_state=0, noise=False)
    for name in names:
        rows, end = _trial_end(clean, name)
        valid = np.arange(clean.X.shape[1])[None, :] < end[:, None]
        k = names.index(name)
        np.testing.assert_array_equal(clean.X[rows][:, :, YANG_RULE0 + k][valid], 1.0)
        np.testing.assert_array_equal(clean.X[rows][:, :, YANG_RULE0 + 1 - k][valid], 0.0)


@pytest.mark.parametrize("rule_layout", ["compact", "global"])
def test_rule_input_is_zero_on_padded_steps(rule_layout):
    b = make_multitask(["delaydm1"], 20, random_state=0, rule_layout=rule_layout)
    rows, end = _trial_end(b, "delaydm1")
    T = b.X.shape[1]
    padded = np.arange(T)[None, :] >= end[:, None]
    assert padded.sum() > 100                      # per-trial timings: trials differ in length
    np.testing.assert_array_equal(b.X[padded], 0.0)          # every channel, rules included
    np.testing.assert_array_equal(b.mask[padded], 0.0)
    rule = b.layout["delaydm1"]["rule"]
    assert np.all(np.abs(b.X[~padded][:, rule] - 1.0) < 0.3)  # on (with noise) inside trials


def test_global_rule_layout_keeps_yang_channels():
    from kpflow_sk.datasets._yang import RULES

    sub = make_multitask(["fdgo", "dmcnogo"], 8, random_state=0, noise=False,
                         rule_layout="global")
    full = make_task("fdgo", 2, random_state=0)
    assert sub.X.shape[2] == full.X.shape[2] == 85
    assert sub.layout["fdgo"]["rule"] == 65 and sub.layout["dmcnogo"]["rule"] == 84
    for name, channel in (("fdgo", 65), ("dmcnogo", 84)):
        rows, end = _trial_end(sub, name)
        valid = np.arange(sub.X.shape[1])[None, :] < end[:, None]
        np.testing.assert_array_equal(sub.X[rows][:, :, channel][valid], 1.0)
        others = np.delete(sub.X[rows][:, :, 65:], channel - 65, axis=2)
        np.testing.assert_array_equal(others, 0.0)
    compact = make_multitask(["fdgo", "dmcnogo"], 8, random_state=0, noise=False)
    assert compact.X.shape[2] == 67 and compact.layout["dmcnogo"]["rule"] == 66
    # All 20 tasks: the global and the compact layouts coincide with make_task's.
    allg = make_multitask(list(RULES), 40, random_state=0, rule_layout="global")
    allc = make_multitask(list(RULES), 40, random_state=0)
    for name in RULES:
        assert allg.layout[name]["rule"] == allc.layout[name]["rule"] == 65 + RULES.index(name)
    # A model fitted on the subset reads the same channels in the 20-task set.
    assert sub.layout["dmcnogo"]["input"] == allg.layout["dmcnogo"]["input"] == (0, 65)


def test_global_rule_layout_with_other_families():
    b = make_multitask(["memory_pro", "fdgo", "dmcnogo"], 6, random_state=0, noise=0.0,
                       rule_layout="global")
    # Blocks: kpflow (0, 3), yang19 (3, 68); rules: memory_pro 68, Yang's 20 units 69..88.
    assert b.X.shape[2] == 68 + 1 + 20
    assert [b.layout[n]["rule"] for n in ("memory_pro", "fdgo", "dmcnogo")] == [68, 69, 88]
    for name in ("memory_pro", "fdgo", "dmcnogo"):
        assert score_task(name, b.y, b) == 1.0
    with pytest.raises(ValueError, match="rule_layout must be one of"):
        make_multitask(["fdgo"], 2, rule_layout="yang")
