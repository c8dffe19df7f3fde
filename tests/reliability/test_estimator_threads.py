"""Two estimators analysed in two threads at once (torch's forward-mode state is global)."""

import threading

import numpy as np
import pytest
import torch

from kpflow_sk import RecurrentRegressor
from kpflow_sk.cells import Cell

pytestmark = pytest.mark.filterwarnings("ignore:Maximum iterations")


class SinCell(Cell):
    """A user cell without an analytic linearization (autodiff jvp / vjp)."""

    def parameter_shapes(self):
        return {"weight_hh": (self.hidden_size, self.hidden_size),
                "weight_ih": (self.hidden_size, self.input_size)}

    def step(self, params, z_prev, x_t, aux=None):
        return torch.sin(z_prev @ params["weight_hh"].T + x_t @ params["weight_ih"].T)


def _data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(8, 5, 2))
    return X, 0.3 * np.cumsum(X[..., :1], axis=1)


@pytest.mark.parametrize("cell", ["node", SinCell])
def test_two_estimators_analysed_in_two_threads_at_once(cell):
    X, y = _data()
    ests = [RecurrentRegressor(cell=cell, hidden_size=4, max_iter=1, random_state=s,
                               device="cpu").fit(X, y) for s in (0, 1)]
    # serial reference values (the analysis is seeded, so threads must reproduce them)
    def measures(est):
        D = est.decompose(X, y)
        return [D.effective_rank("K"), D.effective_rank("P"), D.collapse_dim()]

    ref = [measures(e) for e in ests]
    errors, results = [], {}
    barrier = threading.Barrier(2)

    def work(i):
        torch.set_num_threads(1)
        try:
            barrier.wait()
            results[i] = [measures(ests[i]) for _ in range(6)]
        except Exception as exc:  # collected and reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # before the lock: "Trying to access a forward AD level with an invalid index" in 3/3 runs
    assert errors == []
    for i in range(2):
        for got in results[i]:
            np.testing.assert_allclose(got, ref[i], rtol=1e-6)
