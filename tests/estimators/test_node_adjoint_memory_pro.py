"""``node`` trained with the continuous adjoint learns Memory-Pro as well as the discrete one.

Slow (a few minutes on one thread; deselected by default): the full comparison at the
benchmark's size is ``benchmarks/bench_node_memory_pro.py`` (README_node.md).
"""

import warnings

import pytest

from kpflow_sk.cells import NeuralODECell
from kpflow_sk.datasets import chance_level, make_task, score_task
from kpflow_sk.estimators import RecurrentRegressor


class _NodeDt02(NeuralODECell):
    """The node cell with observation interval 0.2: time constant 5 steps (at the default
    dt=1 the state forgets the stimulus and Memory-Pro training stays at accuracy 0)."""

    def __init__(self, input_size, hidden_size, dt=0.2, **options):
        super().__init__(input_size, hidden_size, dt=dt, **options)


@pytest.mark.slow
def test_continuous_adjoint_matches_discrete_heldout_accuracy():
    train = make_task("memory_pro", 256, random_state=0)
    test = make_task("memory_pro", 256, random_state=1)
    acc = {}
    for adjoint in ("discrete", "continuous"):
        # same seed, data and hyperparameters; torchdiffeq's rk4 on both (ode_options={}),
        # so the forward values are identical and only the gradient differs
        est = RecurrentRegressor(cell=_NodeDt02, hidden_size=64, ode_solver="rk4",
                                 ode_options={}, adjoint=adjoint, learning_rate=1e-2,
                                 batch_size=32, max_iter=10, n_iter_no_change=10**9,
                                 random_state=0, n_threads=1, kp_n_trials=4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # ConvergenceWarning: max_iter is the budget
            est.fit(train.X, train.y, mask=train.mask)
        acc[adjoint] = score_task("memory_pro", est.predict(test.X), test)
    chance = chance_level("memory_pro")
    assert acc["discrete"] > chance + 0.5, (acc, chance)
    assert acc["continuous"] > chance + 0.5, (acc, chance)
    assert abs(acc["discrete"] - acc["continuous"]) <= 0.02, acc
