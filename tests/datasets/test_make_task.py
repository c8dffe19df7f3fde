"""Generic contract of every registered task (runs over list_tasks(), Yang tasks included)."""

import numpy as np
import pytest

from kpflow_sk.datasets import TASKS, TaskSpec, get_task, list_tasks, make_task, score_task
from kpflow_sk.datasets._base import all_finite, period_mask

N = 6


@pytest.fixture(scope="module", params=list_tasks())
def task(request):
    name = request.param
    return name, make_task(name, N, random_state=0)


def test_registry_lists_all_families():
    names = list_tasks()
    for name in ["memory_pro", "memory_anti", "delay_pro", "delay_anti", "flipflop",
                 "context_integration", "sine_wave", "ready_set_go"]:
        assert name in names
    assert list_tasks("kpflow") == ["memory_pro", "memory_anti", "delay_pro", "delay_anti"]
    with pytest.raises(ValueError, match="unknown family 'nope'.*valid families"):
        list_tasks("nope")


def test_shapes_and_dtypes(task):
    name, b = task
    n, T, d_in = b.X.shape
    assert n == N and b.y.shape[:2] == (N, T) and b.mask.shape == (N, T)
    assert b.X.dtype == b.y.dtype == b.mask.dtype == np.float32
    assert b.task_ids.dtype == np.int64 and np.all(b.task_ids == 0)
    assert b.task_names == [name]
    assert b.layout[name] == {"input": (0, d_in), "output": (0, b.y.shape[2]), "steps": (0, T)}
    assert b.params[name].keys() == get_task(name).defaults.keys()
    for p, value in b.periods.items():
        assert value.shape == (N, 2) and value.dtype == np.int64, p
        assert np.all((0 <= value[:, 0]) & (value[:, 0] <= value[:, 1]) & (value[:, 1] <= T)), p
    for key, value in b.meta.items():
        assert value.shape[0] == N, key


def test_finite(task):
    _, b = task
    for arr in (b.X, b.y, b.mask):
        assert np.all(np.isfinite(arr))


def test_response_period_is_scored(task):
    # Every task has a "response" period and its last step carries loss weight.
    _, b = task
    resp = b.periods["response"]
    assert np.all(resp[:, 1] > resp[:, 0])
    assert np.all(b.mask[np.arange(N), resp[:, 1] - 1] > 0)


@pytest.mark.parametrize("name", [n for n in list_tasks() if get_task(n).family != "yang19"])
def test_mask_covers_whole_response_period(name):
    # (Yang's cost mask has a deliberate 100 ms grace period at response onset: see test_yang.)
    b = make_task(name, N, random_state=0)
    inside = period_mask(b.periods["response"], b.X.shape[1])
    assert np.all(b.mask[inside] > 0)


def test_same_seed_same_arrays_different_seed_differs(task):
    name, b = task
    again = make_task(name, N, random_state=0)
    other = make_task(name, N, random_state=1)
    for key in ("X", "y", "mask"):
        np.testing.assert_array_equal(b[key], again[key])
    for p in b.periods:
        np.testing.assert_array_equal(b.periods[p], again.periods[p])
    differs = b.X.shape != other.X.shape or not np.array_equal(b.X, other.X)
    assert differs


def test_generator_random_state_is_accepted(task):
    name, b = task
    again = make_task(name, N, random_state=np.random.default_rng(0))
    np.testing.assert_array_equal(b.X, again.X)


def test_oracle_scores_one(task):
    name, b = task
    assert score_task(name, b.y, b) == 1.0


def test_score_is_a_fraction(task):
    name, b = task
    rng = np.random.default_rng(3)
    s = score_task(name, b.y + rng.normal(0, 1, b.y.shape), b)
    assert 0.0 <= s <= 1.0


def test_unknown_task_name_lists_valid_ones():
    with pytest.raises(ValueError, match=r"unknown task 'nope'; valid task names: \[.*flipflop"):
        make_task("nope", 4)


@pytest.mark.parametrize("bad", [-1, 0, 2.5, True, "3"])
def test_bad_n_samples(bad):
    with pytest.raises(ValueError, match="n_samples"):
        make_task("flipflop", bad)


def test_unknown_parameter_names_it_and_valid_ones(task):
    name, _ = task
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['bogus'\].*valid parameters"):
        make_task(name, 2, bogus=1)


@pytest.mark.parametrize("bad", ["seed", 1.5, object()])
def test_bad_random_state(bad):
    with pytest.raises(ValueError, match="random_state"):
        make_task("flipflop", 2, random_state=bad)


def test_period_mask_matches_loop():
    period = np.array([[0, 3], [2, 5], [-1, -1]])
    got = period_mask(period, 6)
    want = np.zeros((3, 6), bool)
    for i, (a, b) in enumerate(period):
        for t in range(6):
            want[i, t] = a <= t < b
    np.testing.assert_array_equal(got, want)


def test_all_finite():
    a = np.ones((3, 4), np.float32)
    assert all_finite(a)
    assert all_finite(np.full(10, 3e38, np.float32))     # the sum overflows, entries do not
    for bad in (np.nan, np.inf, -np.inf):
        a[1, 2] = bad
        assert not all_finite(a)


def test_non_finite_generator_output_is_rejected(monkeypatch):
    def generate(n_samples, rng):
        X = np.zeros((n_samples, 2, 1))
        X[0, 1, 0] = np.nan
        return {"X": X, "y": np.zeros((n_samples, 2, 1)), "mask": np.ones((n_samples, 2)),
                "periods": {"response": np.tile([[0, 2]], (n_samples, 1))}, "meta": {}}

    monkeypatch.setitem(TASKS, "broken", TaskSpec("broken", "test", generate, lambda *a: 0.0))
    with pytest.raises(ValueError, match="'broken' produced non-finite values in X"):
        make_task("broken", 2)


@pytest.mark.parametrize("shape, chunk", [((7, 5, 3), 16), ((64, 90, 3), 1 << 20), ((3,), 1),
                                          ((10, 4), 7)])
def test_add_noise_is_the_unchunked_draw_in_float32(shape, chunk):
    from kpflow_sk.datasets._base import add_noise

    base = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    ours = add_noise(base.copy(), np.random.default_rng(3), 0.1, chunk_elements=chunk)
    ref = base + (0.1 * np.random.default_rng(3).standard_normal(shape)).astype(np.float32)
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours, ref)
