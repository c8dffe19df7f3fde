"""``_add_on_steps`` (the Yang generator's stimulus and target writer) equals a plain loop."""

import numpy as np
import pytest

from kpflow_sk.datasets import _yang
from kpflow_sk.datasets._yang import _add_on_steps


def _loop(arr, start, stop, values):
    out = arr.astype(np.float64)
    for i in range(arr.shape[0]):
        out[i, start[i]:stop[i]] += values[i]
    return out


@pytest.mark.parametrize("block", [1 << 18, 7])   # one block per length / many small blocks
def test_add_on_steps_matches_a_loop_on_a_strided_view(monkeypatch, block):
    monkeypatch.setattr(_yang, "_ADD_BLOCK", block)
    rng = np.random.default_rng(0)
    n, T = 200, 40
    full = rng.standard_normal((n, T, 9)).astype(np.float32)
    view = full[:, :, 2:7]                                  # strided, as X[:, :, ring]
    start = rng.integers(0, T, n)
    stop = np.minimum(T, start + rng.choice([0, 1, 3, 17, 40], n))   # empty segments too
    values = rng.standard_normal((n, 5))
    expected_full = full.astype(np.float64)
    expected_full[:, :, 2:7] = _loop(view, start, stop, values.astype(np.float32))
    _add_on_steps(view, start, stop, values)
    np.testing.assert_allclose(full, expected_full, rtol=1e-6, atol=1e-6)
    # Outside the view nothing moved.
    untouched = np.ones(9, bool)
    untouched[2:7] = False
    np.testing.assert_array_equal(full[:, :, untouched], expected_full[:, :, untouched])
