"""Adapter from neurogym environments to the zoo's Bunch (needs the ``neurogym`` extra).

Written against neurogym's documented trial API: ``env.new_trial()`` builds one trial and
leaves its observations in ``env.ob`` (T, d_in) and ground truth in ``env.gt`` ((T,) class
labels for a discrete action space, (T, d_out) for a box), with ``env.dt`` (ms per step) and
period boundaries in ``env.start_ind`` / ``env.end_ind`` (period name -> step). Environments
come from ``neurogym.make(name, **kwargs)``. neurogym is imported only when a name is given, so
any object with this interface works. A scheduling wrapper (neurogym's ``ScheduleEnvs``, used by
the ``yang19.*`` collection to alternate modalities) keeps each trial in the environment it
chose, ``top.env``; the adapter reads that one and seeds through the wrapper.

Conventions of neurogym's environments where they differ from this package's tasks (checked
by ``tests/datasets/test_neurogym.py`` on neurogym 2.3):

- Targets are class labels (``meta["gt"]``; ``y`` is their one-hot code), 0 = fixate, with the
  loss usually cross-entropy on every step; this package's tasks are regression targets.
- ``ReadySetGo-v0``: dt 80 ms (ours 20); ``t_s`` U(800, 1500) ms (ours: the paper's 10 values,
  529-1059 ms); the go target is a **single step**, label 1 at ``floor(g t_s / dt)`` steps into
  the production period, fixate elsewhere (ours: 0, then 1 held from the go step to the end).
- ``ContextDecisionMaking-v0``: dt 100 ms (ours 20); inputs = fixation + 2 modalities x 2-unit
  ring (5) and **no context input** by default (the context is fixed per environment,
  ``impl_context_modality``); 3 classes (fixate, choice 1, choice 2), the decision is one
  100 ms step (ours: Dubreuil et al.'s 4 inputs with 2 context inputs, one +-1 output).
- ``yang19.<task>-v0``: dt 100 ms (Yang: 20), 16 units per ring (Yang: 32), no rule inputs
  (33 inputs for ``go``; ours 85), 1 + 16 classes (Yang: 33 sigmoid outputs with 0.05 / 0.8
  levels), epochs of its own (``go``: fixation 500, stimulus 500, decision 500 ms).
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch

from ._base import check_generator, check_n_samples

__all__ = ["from_neurogym"]


def _make_env(env_or_name, env_kwargs):
    if not isinstance(env_or_name, str):
        if env_kwargs:
            raise ValueError("env_kwargs only apply when env_or_name is a name")
        return env_or_name
    try:
        import neurogym
    except ImportError as err:
        raise ImportError("from_neurogym(name) needs neurogym: pip install "
                          "'kpflow_sk[neurogym]'") from err
    return neurogym.make(env_or_name, **env_kwargs)


def _seed(base, seed):
    # neurogym environments draw from env.rng, which env.seed() re-creates.
    if hasattr(base, "seed"):
        base.seed(seed)
    else:
        base.rng = np.random.RandomState(seed)


def from_neurogym(env_or_name, n_samples, *, random_state=None, **env_kwargs):
    """Sample ``n_samples`` trials of a neurogym environment into a Bunch.

    Parameters
    ----------
    env_or_name : str or neurogym environment
        An environment id for ``neurogym.make`` (e.g. ``"ContextDecisionMaking-v0"``) or an
        environment instance (wrappers are unwrapped to reach the trial data).
    n_samples : int
        Number of trials (>= 1).
    random_state : None, int or numpy.random.Generator, default=None
        Seeds the environment once before sampling.
    **env_kwargs
        Passed to ``neurogym.make`` (only with a name).

    Returns
    -------
    bunch : sklearn.utils.Bunch
        X : ndarray of shape (n_samples, T_max, d_in), float32
            ``env.ob`` of each trial, zero-padded to the longest trial.
        y : ndarray of shape (n_samples, T_max, d_out), float32
            One-hot ``env.gt`` over the ``action_space.n`` classes for discrete actions,
            else ``env.gt`` itself.
        mask : ndarray of shape (n_samples, T_max), float32
            1 on each trial's own steps, 0 on padding.
        task_ids, task_names
            Zeros and ``[name]``.
        periods : dict of str -> ndarray (n_samples, 2), int64
            From ``env.start_ind`` / ``env.end_ind`` (``[-1, -1]`` where a trial lacks one).
        meta : dict
            ``gt`` (n_samples, T_max) class labels (-1 on padding) for discrete actions,
            ``n_steps`` (trial lengths), ``dt``, and the scalar entries of each trial's info
            dict that every trial has.

    Notes
    -----
    The Bunch is not registered, so :func:`score_task` does not apply; neurogym's own
    performance measures are environment-specific.
    """
    n_samples = check_n_samples(n_samples)
    env = _make_env(env_or_name, env_kwargs)
    base = getattr(env, "unwrapped", env)
    # neurogym wrappers register themselves as the environment's top-level trial builder.
    top = getattr(base, "_top", env)
    if random_state is not None:
        # A scheduling wrapper (neurogym's yang19 collection: ScheduleEnvs over the two
        # modalities) seeds all its environments and its schedule.
        seeded = top if hasattr(top, "seed") and top is not base else base
        _seed(seeded, int(check_generator(random_state).integers(np.iinfo(np.int32).max)))

    obs, gts, infos, starts, ends = [], [], [], [], []
    for _ in range(n_samples):
        trial = top.new_trial()
        # The trial lives in the environment the top-level wrapper used for it (a scheduling
        # wrapper switches ``top.env`` between trials), not always in ``env.unwrapped``.
        current = getattr(top, "env", None) if top is not base else None
        current = base if current is None else getattr(current, "unwrapped", current)
        # Copies: neurogym may reuse its ob / gt buffers between trials.
        obs.append(np.array(current.ob, dtype=np.float32, copy=True))
        gts.append(np.array(current.gt, copy=True))
        infos.append(dict(trial) if isinstance(trial, dict) else {})
        starts.append(dict(getattr(current, "start_ind", {})))
        ends.append(dict(getattr(current, "end_ind", {})))

    lengths = np.array([ob.shape[0] for ob in obs])
    T = int(lengths.max())
    d_in = obs[0].reshape(obs[0].shape[0], -1).shape[1]
    action_space = getattr(base, "action_space", None)
    discrete = gts[0].ndim == 1 and hasattr(action_space, "n")

    X = np.zeros((n_samples, T, d_in), dtype=np.float32)
    mask = np.zeros((n_samples, T), dtype=np.float32)
    if discrete:
        d_out = int(action_space.n)
        labels = np.full((n_samples, T), -1, dtype=np.int64)
    else:
        d_out = gts[0].reshape(gts[0].shape[0], -1).shape[1]
    y = np.zeros((n_samples, T, d_out), dtype=np.float32)
    for i, (ob, gt) in enumerate(zip(obs, gts)):
        L = ob.shape[0]
        X[i, :L] = ob.reshape(L, -1)
        mask[i, :L] = 1.0
        if discrete:
            labels[i, :L] = gt
            y[i, np.arange(L), gt.astype(np.int64)] = 1.0
        else:
            y[i, :L] = gt.reshape(L, -1)

    period_names = list(dict.fromkeys(p for s in starts for p in s))
    periods = {p: np.full((n_samples, 2), -1, dtype=np.int64) for p in period_names}
    for i, (s, e) in enumerate(zip(starts, ends)):
        for p in s:
            periods[p][i] = (s[p], e.get(p, s[p]))

    meta = {"n_steps": lengths, "dt": np.full(n_samples, float(getattr(base, "dt", np.nan)))}
    if discrete:
        meta["gt"] = labels
    common = set.intersection(*[set(info) for info in infos]) if infos else set()
    for key in sorted(common):
        values = [infos[i][key] for i in range(n_samples)]
        if all(np.isscalar(v) for v in values):
            meta[str(key)] = np.asarray(values)

    name = env_or_name if isinstance(env_or_name, str) else type(base).__name__
    return Bunch(
        X=X, y=y, mask=mask,
        task_ids=np.zeros(n_samples, dtype=np.int64),
        task_names=[name],
        periods=periods,
        meta=meta,
        layout={name: {"input": (0, d_in), "output": (0, d_out), "steps": (0, T)}},
    )
