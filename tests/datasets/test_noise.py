"""Input noise helpers: normal_rows_into writes N(0, scale^2) into row segments, nothing else;
fault_in_rows maps the pages of row segments without changing a value."""

import numpy as np
import pytest
from scipy import stats

from kpflow_sk.datasets._noise import NORMAL_CHUNK, fault_in_rows, normal_rows_into


@pytest.mark.parametrize("lengths", [
    [5, 0, 7, 1],                                   # tiny, an empty row, odd total
    [3 * NORMAL_CHUNK + 11, 2 * NORMAL_CHUNK + 11],  # rows longer than a chunk (multi-chunk)
    [NORMAL_CHUNK] * 5,                              # rows that straddle the cos/sin halves
])
def test_fills_exactly_the_segments_and_is_reproducible(lengths):
    L = max(lengths) + 3
    rows = np.zeros((len(lengths), L), dtype=np.float32)
    normal_rows_into(rows, lengths, np.random.default_rng(0), 0.5)
    inside = np.arange(L)[None, :] < np.asarray(lengths)[:, None]
    assert np.all(rows[~inside] == 0)
    values = rows[inside]
    assert np.all(values != 0) and np.all(np.isfinite(values))
    again = np.zeros_like(rows)
    normal_rows_into(again, lengths, np.random.default_rng(0), 0.5)
    np.testing.assert_array_equal(rows, again)
    other = np.zeros_like(rows)
    normal_rows_into(other, lengths, np.random.default_rng(1), 0.5)
    assert not np.array_equal(rows, other)


def test_samples_are_gaussian_with_the_given_scale_and_independent():
    n, L = 40, 50_001
    rows = np.zeros((n, L), dtype=np.float32)
    normal_rows_into(rows, [L] * n, np.random.default_rng(3), 0.2)
    z = rows.ravel().astype(np.float64) / 0.2
    assert abs(z.mean()) < 5 / np.sqrt(z.size)
    assert abs(z.std() - 1) < 5 / np.sqrt(2 * z.size)
    assert stats.kstest(z[::7], "norm").pvalue > 1e-3
    # Fourth moment (Gaussian: 3) and the tail mass beyond 3 sd.
    assert abs(np.mean(z ** 4) - 3) < 0.05
    assert abs(np.mean(np.abs(z) > 3) - 2 * stats.norm.sf(3)) < 5e-4
    # Neighbours (cosine / sine halves of a chunk, consecutive samples) are uncorrelated.
    half = NORMAL_CHUNK
    chunks = rows.size // (2 * half)
    assert chunks >= 10
    pairs = rows.ravel()[: 2 * half * chunks].reshape(chunks, 2, half)
    r = np.corrcoef(pairs[:, 0].ravel(), pairs[:, 1].ravel())[0, 1]
    assert abs(r) < 5 / np.sqrt(pairs[:, 0].size)
    assert abs(np.corrcoef(z[:-1], z[1:])[0, 1]) < 5 / np.sqrt(z.size)
    # The radius and phase of a pair are independent: |z1|^2 + |z2|^2 ~ chi2(2), uncorrelated
    # with the angle.
    z1, z2 = pairs[:, 0].ravel() / 0.2, pairs[:, 1].ravel() / 0.2
    radius2 = z1.astype(float) ** 2 + z2.astype(float) ** 2
    assert stats.kstest(radius2, "chi2", args=(2,)).pvalue > 1e-3
    assert abs(np.corrcoef(z1 ** 2 + z2 ** 2, np.arctan2(z2, z1))[0, 1]) < 5 / np.sqrt(z1.size)


def test_zero_scale_and_bad_arguments():
    rows = np.ones((2, 4), dtype=np.float32)
    normal_rows_into(rows, [4, 2], np.random.default_rng(0), 0.0)
    np.testing.assert_array_equal(rows, [[0, 0, 0, 0], [0, 0, 1, 1]])
    with pytest.raises(ValueError, match="rows"):
        normal_rows_into(np.zeros((2, 4)), [1, 1], np.random.default_rng(0), 1.0)
    with pytest.raises(ValueError, match="rows"):
        normal_rows_into(np.zeros((2, 4), np.float32), [1], np.random.default_rng(0), 1.0)
    with pytest.raises(ValueError, match="lengths"):
        normal_rows_into(np.zeros((2, 4), np.float32), [1, 5], np.random.default_rng(0), 1.0)


def test_fault_in_rows_changes_no_value():
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((5, 3000)).astype(np.float32)
    rows[0, :4] = [-0.0, np.inf, -np.inf, 0.0]
    before = rows.copy()
    out = fault_in_rows(rows, [0, 1, 1024, 1025, 3000])
    assert out is rows
    np.testing.assert_array_equal(rows, before)
    assert np.signbit(rows[0, 0]) and not np.signbit(rows[0, 3])
    fault_in_rows(np.zeros((2, 0), np.float32), [0, 0])
