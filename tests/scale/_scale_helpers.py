"""Tiny data and estimators shared by the scale tests (importable by joblib / Dask workers)."""

import os
import signal

import numpy as np
import torch

from kpflow_sk.cells import RNNCell
from kpflow_sk.estimators import RecurrentRegressor

#: a tiny task for compare(): T = 6 steps, 3 inputs, 3 outputs
TINY_TASK = {"memory_pro": dict(stimulus_steps=2, memory_steps=2, response_steps=2)}
#: tiny estimators: a fold takes well under a second
TINY_PARAMS = dict(hidden_size=4, max_iter=3, kp_n_trials=4, device="cpu")


def seq_data(n=16, T=5, d=2, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, T, d)).astype(np.float32)
    y = (0.3 * np.cumsum(X[..., :1], axis=1)).astype(np.float32)
    return X, y


def tiny(**kw):
    return RecurrentRegressor(**{**TINY_PARAMS, "random_state": 0, **kw})


class ThreadRecordingRegressor(RecurrentRegressor):
    """Records ``torch.get_num_threads()`` as seen by the training loop."""

    def train_step(self, X, target, weight):
        self.seen_threads_ = torch.get_num_threads()
        self.seen_pid_ = os.getpid()
        return super().train_step(X, target, weight)


def fit_in_worker(est, X, y):
    """Fit, predict and decompose on whatever ``X`` the worker received (a memmap)."""
    info = {"type": type(X).__name__, "writeable": bool(X.flags.writeable)}
    est.fit(X, y)
    pred = est.predict(X)
    Z = est.transform(X)
    D = est.decompose(X, y)
    info.update(score=est.score(X, y), finite=bool(np.isfinite(pred).all()
                                                   and np.isfinite(Z).all()),
                collapse=float(D.collapse_dim()))
    return info


def make_killer_cell(parent_pid):
    """A user cell that SIGKILLs the process running it unless that is ``parent_pid``.

    The class is built in a function so that cloudpickle ships it by value, with
    ``parent_pid``, to joblib and Dask workers.
    """

    class KillerCell(RNNCell):
        pid_to_spare = parent_pid

        def step(self, params, z_prev, x_t, aux=None):
            if os.getpid() != self.pid_to_spare:
                os.kill(os.getpid(), signal.SIGKILL)
            return super().step(params, z_prev, x_t, aux)

    return KillerCell
