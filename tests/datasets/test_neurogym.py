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


class FakeSchedule:
    """Mimics neurogym's ScheduleEnvs: alternates two environments, registered as their top."""

    def __init__(self):
        self.envs = [FakeTrialEnv(), FakeTrialEnv()]
        for i, env in enumerate(self.envs):
            env.dt = 100 + i          # tell the two apart
            env._top = self
        self.unwrapped = self.envs[0]
        self.env, self.k = self.envs[0], 0

    def seed(self, seed=None):
        for i, env in enumerate(self.envs):
            env.seed(None if seed is None else seed + i)

    def new_trial(self):
        self.env = self.envs[self.k % 2]
        self.k += 1
        return self.env.new_trial()


def test_adapter_reads_the_scheduled_environment():
    # Regression: the trial data is in the environment the wrapper used (top.env), which
    # alternates; reading env.unwrapped gave every other trial the previous one's arrays.
    wrapper = FakeSchedule()
    b = from_neurogym(wrapper, 10, random_state=0)
    for i in range(10):
        L = b.meta["n_steps"][i]
        assert b.meta["gt"][i, L - 1] == b.meta["ground_truth"][i]
    c = from_neurogym(FakeSchedule(), 10, random_state=0)
    np.testing.assert_array_equal(b.X, c.X)           # the wrapper's seed() seeds both


def test_bad_n_samples():
    with pytest.raises(ValueError, match="n_samples"):
        from_neurogym(FakeTrialEnv(), 0)


# ---------------------------------------------------------------------------------------------
# The real package (in the dev extra): three environments and their conventions

def _ngym():
    return pytest.importorskip("neurogym")


def _labels_of(b, i):
    return b.meta["gt"][i, :b.meta["n_steps"][i]]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_real_perceptual_decision_making_is_reproducible():
    ngym = _ngym()
    name = "PerceptualDecisionMaking-v0"
    b = from_neurogym(name, 8, random_state=0)
    env = ngym.make(name)
    assert b.X.shape[0] == 8 and b.X.shape[2] == env.observation_space.shape[0]
    assert b.y.shape[2] == env.action_space.n
    assert np.all(b.mask.sum(axis=1) == b.meta["n_steps"])
    again = from_neurogym(name, 8, random_state=0)
    np.testing.assert_array_equal(b.X, again.X)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_real_ready_set_go_one_step_go_target():
    _ngym()
    b = from_neurogym("ReadySetGo-v0", 16, random_state=0)
    # neurogym: dt 80 ms (ours 20), inputs [fixation, ready, set], 2 classes (fixate, go).
    assert np.all(b.meta["dt"] == 80.0)
    assert b.X.shape[2] == 3 and b.y.shape[2] == 2
    for i in range(16):
        labels = _labels_of(b, i)
        # The go target is ONE step (ours: 0 then 1 held to the end of the trial), at
        # floor(g t_s / dt) steps into the production period (timed from its start).
        go = np.flatnonzero(labels == 1)
        assert go.size == 1
        start = b.periods["production"][i, 0]
        assert go[0] == start + int(b.meta["production"][i] / 80.0)
        np.testing.assert_array_equal(b.y[i, go[0]], [0.0, 1.0])
        # Fixation input on until production.
        np.testing.assert_array_equal(b.X[i, :start, 0], 1.0)
        np.testing.assert_array_equal(b.X[i, start:b.meta["n_steps"][i], 0], 0.0)
    assert len(np.unique(b.meta["measure"])) > 1            # t_s drawn per trial


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_real_context_decision_making_labels():
    _ngym()
    b = from_neurogym("ContextDecisionMaking-v0", 16, random_state=0)
    # neurogym: dt 100 ms (ours 20); 1 fixation + 2 modalities x 2-unit ring = 5 inputs and no
    # context input by default (the context is fixed per environment); 3 classes (fixate,
    # choice 1, choice 2) instead of our single +-1 output.
    assert np.all(b.meta["dt"] == 100.0)
    assert b.X.shape[2] == 5 and b.y.shape[2] == 3
    assert np.all(b.meta["context"] == 0)
    for i in range(16):
        labels = _labels_of(b, i)
        d0, d1 = b.periods["decision"][i]
        assert d1 - d0 == 1                                  # decision: one 100 ms step
        assert labels[d0] == b.meta["ground_truth"][i] in (1, 2)
        np.testing.assert_array_equal(labels[:d0], 0)
    assert set(np.unique(b.meta["coh_1"])) <= {5, 15, 50}


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_real_yang19_go_labels():
    _ngym()
    b = from_neurogym("yang19.go-v0", 12, random_state=0)
    # neurogym's port: dt 100 ms (Yang: 20), 16 units per ring (Yang: 32), no rule inputs
    # (1 + 2 x 16 = 33 inputs; ours 85), a classification target over 1 + 16 classes (Yang: a
    # 33-unit regression target with 0.05 / 0.8 levels).
    assert np.all(b.meta["dt"] == 100.0)
    assert b.X.shape[2] == 33 and b.y.shape[2] == 17
    for i in range(12):
        labels = _labels_of(b, i)
        d0, d1 = b.periods["decision"][i]
        np.testing.assert_array_equal(labels[d0:d1], b.meta["ground_truth"][i] + 1)
        np.testing.assert_array_equal(labels[:d0], 0)
        # Fixation input on before the decision, off during it.
        np.testing.assert_array_equal(b.X[i, :d0, 0], 1.0)
        np.testing.assert_array_equal(b.X[i, d0:d1, 0], 0.0)
