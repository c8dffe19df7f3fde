"""from_neurogym: a stand-in environment always, the real package when installed."""

import numpy as np
import pytest

from kpflow_sk.datasets import from_neurogym


class _Discrete:
    n = 3


class FakeTrialEnv:
    """Mimics neurogym's trial API: new_trial() fills ob, gt, start_ind, end_ind."""

    dt = 100
    action_space = _Discrete()

    def __init__(self):
        self.seed(None)

    def seed(self, seed=None):
        self.rng = np.random.RandomState(seed)

    def new_trial(self):
        fix, stim = 2, int(self.rng.randint(2, 5))
        T = fix + stim + 1
        self.ob = self.rng.normal(size=(T, 2)).astype(np.float32)
        self.gt = np.zeros(T, dtype=int)
        ground_truth = int(self.rng.randint(1, 3))
        self.gt[-1] = ground_truth
        self.start_ind = {"fixation": 0, "stimulus": fix, "decision": fix + stim}
        self.end_ind = {"fixation": fix, "stimulus": fix + stim, "decision": T}
        return {"ground_truth": ground_truth, "coh": 0.5}


def test_adapter_on_stand_in_env():
    b = from_neurogym(FakeTrialEnv(), 12, random_state=0)
    n, T, d_in = b.X.shape
    assert (n, d_in) == (12, 2) and b.y.shape == (12, T, 3)
    lengths = b.meta["n_steps"]
    assert T == lengths.max()
    for i in range(12):
        L = lengths[i]
        np.testing.assert_array_equal(b.mask[i], np.arange(T) < L)
        np.testing.assert_array_equal(b.X[i, L:], 0.0)
        assert b.y[i, L - 1, b.meta["ground_truth"][i]] == 1.0
        np.testing.assert_array_equal(b.y[i, :L].sum(axis=1), 1.0)   # one-hot
        np.testing.assert_array_equal(b.meta["gt"][i, L:], -1)
        assert b.periods["decision"][i].tolist() == [L - 1, L]
    assert b.task_names == ["FakeTrialEnv"] and np.all(b.task_ids == 0)
    assert b.X.dtype == b.y.dtype == b.mask.dtype == np.float32
    again = from_neurogym(FakeTrialEnv(), 12, random_state=0)
    np.testing.assert_array_equal(b.X, again.X)


def test_bad_n_samples():
    with pytest.raises(ValueError, match="n_samples"):
        from_neurogym(FakeTrialEnv(), 0)


def test_real_neurogym():
    ngym = pytest.importorskip("neurogym")
    name = "PerceptualDecisionMaking-v0"
    b = from_neurogym(name, 8, random_state=0)
    env = ngym.make(name)
    assert b.X.shape[0] == 8 and b.X.shape[2] == env.observation_space.shape[0]
    assert b.y.shape[2] == env.action_space.n
    assert np.all(b.mask.sum(axis=1) == b.meta["n_steps"])
    again = from_neurogym(name, 8, random_state=0)
    np.testing.assert_array_equal(b.X, again.X)
